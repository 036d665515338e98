-- The sinchnumbers command for the specs: `make install` into a prefix of
-- its own (for the Lua that runs busted), and runs of the installed command
-- against a fake, without a terminal or on one (support/pty.lua). Every
-- run's output is searched for the key secret.
--
--   describe("...", function()
--     local server = fake_helper.with_fake()
--     local command = cli_helper.installed(server)
--     it("...", function() local status, stdout, stderr = command.run("regions --json") end)
--   end)
local busted = require "busted"
local fake_helper = require "support.fake_helper"
local files = require "support.files"
local pty = require "support.pty"
local shell = require "support.shell"

local cli_helper = {}

cli_helper.SECRET = "test-key-secret"

local INSTALLED_ABI = { ["lua5.1"] = "5.1", ["lua5.2"] = "5.2", ["lua5.3"] = "5.3", ["lua5.4"] = "5.4", luajit = "5.1" }
local q = shell.quote

local function without_secret(text, what)
  busted.assert.is_nil(text:find(cli_helper.SECRET, 1, true), what .. " holds the key secret: " .. text)
end

--- Installs the command in setup (removed in teardown); before each test
-- the profiles folder is emptied. Returns a table whose fields are set in
-- setup: dir (the folder of the prefix, the profiles and the run's files),
-- prefix, paths (LUA_PATH and LUA_CPATH for the prefix, as shell words),
-- run(arguments, options), on_terminal(arguments, steps, options),
-- command_line(arguments, options) and state_changes().
-- options: stdin (text, else empty), profile_only (no SINCH_* variables),
-- key_secret (the SINCH_KEY_SECRET to give), path (a folder to put first on PATH).
function cli_helper.installed(server)
  local command = {}
  local interpreter = shell.interpreter()
  local make_version = interpreter == "luajit" and "luajit" or interpreter:match("%d%.%d")

  busted.setup(function()
    command.dir = select(2, shell.run("mktemp -d")):match("%S+")
    command.prefix = command.dir .. "/usr"
    local ok, output = shell.run(("make --no-print-directory -s install LUA_VERSION=%s DESTDIR=%s PREFIX=/usr")
      :format(make_version, q(command.dir)))
    assert(ok, output)
    local tree = command.prefix .. "/share/lua/" .. INSTALLED_ABI[interpreter]
    command.paths = ("LUA_PATH=%s LUA_CPATH=%s"):format(q(tree .. "/?.lua;" .. tree .. "/?/init.lua;;"),
      q(command.prefix .. "/lib/lua/" .. INSTALLED_ABI[interpreter] .. "/?.so;;"))
  end)

  busted.teardown(function()
    if command.dir then shell.run("rm -rf " .. q(command.dir)) end
  end)

  busted.before_each(function()
    shell.run("rm -rf " .. q(command.dir .. "/config"))
  end)

  local function environment(options)
    local dir = command.dir
    local words = { command.paths, "HOME=" .. q(dir), "XDG_CONFIG_HOME=" .. q(dir .. "/config") }
    if options.path then words[#words + 1] = "PATH=" .. q(options.path) .. ":\"$PATH\"" end
    if not options.profile_only then
      words[#words + 1] = ("SINCH_PROJECT_ID=test-project SINCH_KEY_ID=test-key-id SINCH_KEY_SECRET=%s"):format(
        q(options.key_secret or cli_helper.SECRET))
      words[#words + 1] = ("SINCH_NUMBERS_URL=%s SINCH_AUTH_URL=%s"):format(q(server.url),
        q(server.url .. "/oauth2/token"))
    end
    return "env -u SINCH_PROJECT_ID -u SINCH_KEY_ID -u SINCH_KEY_SECRET -u SINCH_NUMBERS_URL -u SINCH_AUTH_URL "
      .. table.concat(words, " ")
  end

  function command.command_line(arguments, options)
    return environment(options or {}) .. " " .. q(command.prefix .. "/bin/sinchnumbers") .. " " .. arguments
  end

  --- Runs the installed command without a terminal; returns its exit
  -- status, stdout and stderr.
  function command.run(arguments, options)
    options = options or {}
    local dir = command.dir
    files.write(dir .. "/stdin", options.stdin or "")
    local _, _, status = shell.run(command.command_line(arguments, options) .. " < " .. q(dir .. "/stdin")
      .. " > " .. q(dir .. "/stdout") .. " 2> " .. q(dir .. "/stderr"))
    local stdout, stderr = files.read(dir .. "/stdout"), files.read(dir .. "/stderr")
    without_secret(stdout .. stderr, "sinchnumbers " .. arguments)
    return status, stdout, stderr
  end

  --- The same on a terminal, `steps` typed as support/pty.lua does; returns
  -- the exit status and what the terminal showed.
  function command.on_terminal(arguments, steps, options)
    local screen, status, all_seen = pty.run(command.command_line(arguments, options), steps, command.dir)
    without_secret(screen, "sinchnumbers " .. arguments .. " on a terminal")
    busted.assert.is_true(all_seen, "a prompt never appeared: " .. screen)
    return status, screen
  end

  --- The requests the fake saw that change state (not a GET, to the API).
  function command.state_changes()
    return fake_helper.requests_where(server, function(request)
      return request.method ~= "GET" and request.path:find("/v1/projects/", 1, true) ~= nil
    end)
  end

  return command
end

return cli_helper
