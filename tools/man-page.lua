-- Writes doc/sinchnumbers.1, the man page of the sinchnumbers command, from
-- its help text (the parser that the command table makes), so that the two
-- never differ; spec/cli_spec.lua checks that the committed page is this
-- tool's output. From the checkout, after `make`:
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/5.4/?.so;;' lua5.4 tools/man-page.lua > doc/sinchnumbers.1
local cli = require "sinchnumbers.cli"
local version = require "sinchnumbers.version"

local function roff(text)
  return (text:gsub("\\", "\\e"):gsub("%-", "\\-"):gsub("\n([.'])", "\n\\&%1"):gsub("^([.'])", "\\&%1"))
end

local lines = {}
local function add(...)
  for _, line in ipairs { ... } do lines[#lines + 1] = line end
end
local function verbatim(text)
  add(".nf", ".RS 4", roff((text:gsub("\n+$", ""))), ".RE", ".fi")
end

local parser, parsers = cli.parser()
add(".TH SINCHNUMBERS 1 \"\" \"sinchnumbers " .. version .. "\" \"User Commands\"",
  ".SH NAME", "sinchnumbers \\- Sinch phone numbers from the shell",
  ".SH SYNOPSIS", ".B sinchnumbers", "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGUMENTS\\fR]",
  ".SH DESCRIPTION",
  roff("Searches, rents, configures and releases the phone numbers of a Sinch project through the Sinch"
    .. " Numbers API. Data goes to stdout: an aligned table, or with --json exactly one JSON document"
    .. " (an array for search and list, the object for the others, with the API's own field names),"
    .. " or with --csv comma-separated values with a header row. Messages, questions and progress go to stderr."),
  ".PP",
  roff("Renting (rent, rent-any, bulk rent), releasing (release, bulk release) and orders submit first show"
    .. " what will happen (the price; the number, its name and next charge date) and ask [y/N] on a terminal."
    .. " --yes skips the question. Without a terminal and without --yes they refuse, with exit code 2."
    .. " --dry-run prints each request that would change something as an equivalent curl command line"
    .. " (credentials redacted) and sends none of them."),
  ".SH CREDENTIALS",
  roff("With --profile NAME, the profile NAME of the profiles file; else SINCH_PROJECT_ID, SINCH_KEY_ID and"
    .. " SINCH_KEY_SECRET when they are set; else the profile \"default\". SINCH_NUMBERS_URL and SINCH_AUTH_URL"
    .. " (or --base-url and --auth-url) point it elsewhere. The profiles file must be readable by its owner"
    .. " only (chmod 600): the command refuses it otherwise. `sinchnumbers configure` writes it, reading the key"
    .. " secret without echo. A secret is never taken from the command line and never printed."),
  ".SH OPTIONS AND COMMANDS")
verbatim(parser:get_help())
for _, command in ipairs(parsers) do
  add(".SS " .. roff(command.name))
  verbatim(command.parser:get_help())
end
add(".SH EXIT STATUS")
for _, code in ipairs(cli.EXIT_CODES) do add(".TP", ".B " .. code[1], roff(code[2])) end
add(".SH FILES", ".TP", roff("$XDG_CONFIG_HOME/sinchnumbers/profiles (~/.config/sinchnumbers/profiles)"),
  roff("The profiles: [NAME] lines, then project_id, key_id, key_secret and optionally base_url and auth_url"
    .. " as key = value lines. Mode 0600."),
  ".SH SEE ALSO", roff("The README of the sinchnumbers Lua library, section \"From the shell\"."))
io.write(table.concat(lines, "\n"), "\n")
