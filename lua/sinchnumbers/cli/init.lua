-- `sinchnumbers`, the command line (bin/sinchnumbers is its launcher): the
-- parser made from the command table (cli/commands.lua), the client made
-- from the credentials (cli/profiles.lua), the question before anything that
-- costs money or loses a number, and the runners. Data goes to stdout;
-- messages, prompts and progress to stderr. cli.main returns the exit code.
local argparse = require "argparse"
local commands = require "sinchnumbers.cli.commands"
local endpoints = require "sinchnumbers.endpoints"
local errors = require "sinchnumbers.errors"
local output = require "sinchnumbers.cli.output"
local pipeline = require "sinchnumbers.pipeline"
local profiles = require "sinchnumbers.cli.profiles"
local sinchnumbers = require "sinchnumbers"
local terminal = require "sinchnumbers.cli.terminal"
local version = require "sinchnumbers.version"
local wire = require "sinchnumbers.cli.wire"

local cli = {}

--- The exit codes, documented in --help and the man page.
cli.EXIT_CODES = {
  { 0, "success" },
  { 1, "a failed call not listed below (or the question was answered no)" },
  { 2, "usage or invalid input: nothing was sent" },
  { 3, "authentication failed" },
  { 4, "not found" },
  { 5, "rate limited" },
  { 6, "network failure or timeout" },
  { 7, "outcome unknown: a rent or release that may have taken effect" },
  { 8, "a bulk run with some failures" },
}
local EXIT = { failed = 1, usage = 2, unknown = 7, partial = 8 }
local EXIT_BY_KIND = { invalid_argument = 2, auth = 3, not_found = 4, rate_limited = 5, network = 6, timeout = 6 }

-- The usual mistakes, and what to do about them.
local HINT_BY_KIND = {
  auth = "check the key id and secret (SINCH_KEY_ID and SINCH_KEY_SECRET, or the profile: sinchnumbers configure)",
  network = "check the network, and --base-url or SINCH_NUMBERS_URL if you set one",
}

local ENDPOINT = {}
for _, endpoint in ipairs(endpoints) do ENDPOINT[endpoint.name] = endpoint end

local function say(...)
  io.stderr:write("sinchnumbers: ", ...)
  io.stderr:write("\n")
end

local function exit_code_words()
  local lines = { "Exit codes:" }
  for _, code in ipairs(cli.EXIT_CODES) do lines[#lines + 1] = ("   %d  %s"):format(code[1], code[2]) end
  return table.concat(lines, "\n")
end

local function to_integer(text)
  local number = tonumber(text)
  if not number or number ~= math.floor(number) then return nil, "a whole number is expected, got " .. text end
  return number
end

local function to_seconds(text)
  local number = tonumber(text)
  if not number or number <= 0 then return nil, "a number of seconds above 0 is expected, got " .. text end
  return number
end

local function add_flag(command, written)
  local key, required = commands.flag_key(written)
  local spec = assert(commands.FLAGS[key], key)
  if spec.flag then
    command:flag(spec.option, spec.help):target(key)
    return
  end
  local option = command:option(spec.option, spec.help):target(key)
  if spec.choices then option:choices(spec.choices) end
  if spec.count then option:count(spec.count) elseif required then option:count(1) end
  if spec.convert == "integer" then option:convert(to_integer) end
end

local function add_command(parent, entry, parsers, prefix)
  local command = parent:command(entry.name, entry.summary)
  local full_name = prefix .. entry.name
  entry.words = full_name
  parsers[#parsers + 1] = { name = full_name, parser = command, group = entry.commands ~= nil }
  -- argparse runs a group's action after its command's: only the leaves say.
  if not entry.commands then command:action(function(result) result.chosen = entry end) end
  for _, sub in ipairs(entry.commands or {}) do add_command(command, sub, parsers, full_name .. " ") end
  for _, argument in ipairs(entry.arguments or {}) do
    command:argument(argument.name, argument.help):args(argument.many and "+" or 1)
  end
  for _, written in ipairs(entry.flags or {}) do add_flag(command, written) end
end

--- The argparse parser, made from the command table, and the parser of
-- each command ({ name = "bulk rent", parser, group }, in table order: the
-- man page is made from their help).
function cli.parser()
  local parser = argparse("sinchnumbers",
    "Sinch phone numbers from the shell: search, rent, configure and release them.")
    :epilog(exit_code_words())
  parser:flag("--version", "Print the version and exit."):action(function()
    io.stdout:write("sinchnumbers ", version, "\n")
    os.exit(0)
  end)
  parser:option("--profile", "The profile of the profiles file to use (default: default).")
  parser:mutex(parser:flag("--json", "Print one JSON document (the API's own field names)."),
    parser:flag("--csv", "Print comma-separated values with a header row."))
  parser:flag("--no-header", "Leave out the header row of the table or CSV.")
  parser:flag("-y --yes", "Do it without asking (rent, release, submit).")
  parser:flag("--dry-run", "Print what would change things, as curl command lines; send none of it.")
  parser:flag("--debug", "Print each request and answer on stderr (credentials redacted).")
  parser:option("--timeout", "Seconds for each request."):convert(to_seconds)
  parser:option("--base-url", "The Numbers API's URL (default: Sinch's, or SINCH_NUMBERS_URL).")
  parser:option("--auth-url", "The token endpoint's URL (default: Sinch's, or SINCH_AUTH_URL).")
  local parsers = {}
  for _, entry in ipairs(commands.LIST) do add_command(parser, entry, parsers, "") end
  parser:add_complete_command()
  return parser, parsers
end

-- Puts `value` at the dotted `path` of `object`.
local function put(object, path, value)
  local names = {}
  for name in path:gmatch("[^.]+") do names[#names + 1] = name end
  for i = 1, #names - 1 do
    object[names[i]] = object[names[i]] or {}
    object = object[names[i]]
  end
  object[names[#names]] = value
end

-- The params or body that `flags` (a command's, as written there) make.
local function flag_input(flags, args)
  local input = {}
  for _, written in ipairs(flags or {}) do
    local key = commands.flag_key(written)
    local spec, value = commands.FLAGS[key], args[key]
    local given = value ~= nil and not (spec.count and #value == 0)
    if given and spec.to then
      put(input, spec.to, value)
      for path, also in pairs(spec.also or {}) do put(input, path, also) end
    end
  end
  return input
end

local INPUTS = {
  secret = function()
    local secret = terminal.read_line("HMAC secret (not shown): ", true)
    if not secret or secret == "" then return nil, "no secret on stdin: give it on a line of its own" end
    return { hmacSecret = secret }
  end,
}

-- The method's arguments after the path values: its params or body, when
-- its endpoint takes one.
local function call_input(entry, args)
  local endpoint = ENDPOINT[entry.call]
  if not (endpoint.query or endpoint.body) then return nil end
  if entry.input then return INPUTS[entry.input]() end
  return flag_input(entry.flags, args)
end

local function failure_code(entry, err)
  if err.kind == "invalid_argument" then return EXIT.usage end
  if entry.unclear and pipeline.outcome_unclear(err) and err.rented ~= false then return EXIT.unknown end
  return EXIT_BY_KIND[err.kind] or EXIT.failed
end

local function report(err)
  say((tostring(err):gsub("^sinchnumbers: ", "")))
  if HINT_BY_KIND[err.kind] then say("hint: ", HINT_BY_KIND[err.kind]) end
end

local function not_sent(err)
  return err.kind == wire.NOT_SENT
end

local price = output.price
-- The flags of rent-any that search too, for the question's example number.
local SEARCH_FLAGS = { "region", "type", "pattern", "where", "capability" }

local function number_pattern_words(args)
  if not args.pattern then return "" end
  return (" matching %s (%s)"):format(args.pattern, args.where or "START")
end

-- What the question before a command shows: lines(client, args) returns
-- the lines, or nil, err (then nothing is done); question is asked after.
local PREVIEWS = {
  rent = {
    question = "Rent it?",
    lines = function(client, args)
      local available, err = client:get_available_number(args.number)
      if not available then return nil, err end
      return { ("Rent %s (%s %s): %s."):format(args.number, tostring(available.regionCode),
        tostring(available.type), price(available)) }
    end,
  },
  rent_any = {
    question = "Rent one?",
    lines = function(client, args)
      local params = flag_input(SEARCH_FLAGS, args)
      params.size = 1
      local page, err = client:list_available_numbers(params)
      if not page then return nil, err end
      local first = page.availableNumbers and page.availableNumbers[1]
      local what = ("Rent any %s %s number%s"):format(args.region, args.type, number_pattern_words(args))
      if not first then return { what .. ": none is available now (the rent will fail)." } end
      return { ("%s, such as %s: %s."):format(what, first.phoneNumber, price(first)) }
    end,
  },
  release = {
    question = "Release them?",
    lines = function(client, args)
      local lines = {}
      for _, number in ipairs(args.number) do
        local active, err = client:get_active_number(number)
        if not active then return nil, err end
        local name = active.displayName ~= "" and active.displayName ~= sinchnumbers.null
          and (' "' .. tostring(active.displayName) .. '"') or ""
        lines[#lines + 1] = ("Release %s%s (next charge %s): it goes back to Sinch, and may not come back."):format(
          number, name, tostring(active.nextChargeDate))
      end
      return lines
    end,
  },
  submit = {
    question = "Submit it?",
    lines = function(client, args)
      local order, err = client:get_number_order(args.order_id)
      if not order then return nil, err end
      local lines = { ("Submit number order %s (%s %s, %s) for review:"):format(args.order_id,
        tostring(order.regionCode), tostring(order.numberType), tostring(order.state)) }
      for _, number in ipairs(order.orderNumbers or {}) do
        lines[#lines + 1] = ("  %s: %s"):format(tostring(number.phoneNumber), price(number.numberPrice or {}))
      end
      return lines
    end,
  },
}

-- At most this many numbers of a bulk run are listed before its question.
local LISTED = 10

-- The lines of a bulk question: the first LISTED of `lines`, then how many
-- more, then `total`.
local function listed(lines, total)
  local shown = {}
  for i = 1, math.min(#lines, LISTED) do shown[i] = "  " .. lines[i] end
  if #lines > LISTED then shown[#shown + 1] = ("  ... and %d more"):format(#lines - LISTED) end
  shown[#shown + 1] = total
  return shown
end

-- The first failure of a bulk lookup (the question's), as the error to report.
local function first_failure(results, summary)
  if not results then return summary end
  for _, result in ipairs(results) do
    if result.err then return result.err end
  end
end

-- Sums of money by currency: "80.00 USD" (or "80.00 USD + 3.00 EUR").
local function totals(sums)
  local words = {}
  for currency, amount in pairs(sums) do words[#words + 1] = ("%.2f %s"):format(amount, currency) end
  table.sort(words)
  return #words > 0 and table.concat(words, " + ") or "0"
end

local function add_money(sums, money)
  if type(money) == "table" and tonumber(money.amount) then
    local currency = tostring(money.currencyCode)
    sums[currency] = (sums[currency] or 0) + tonumber(money.amount)
  end
end

PREVIEWS.bulk_rent = {
  question = "Rent them?",
  lines = function(client, args, numbers)
    local results, summary = client:map(numbers, function(task_client, number)
      return task_client:get_available_number(number)
    end, { concurrency = args.concurrency })
    local failure = first_failure(results, summary)
    if failure then return nil, failure end
    local lines, setup, monthly = {}, {}, {}
    for _, result in ipairs(results) do
      lines[#lines + 1] = ("Rent %s: %s."):format(result.item, price(result.value))
      add_money(setup, result.value.setupPrice)
      add_money(monthly, result.value.monthlyPrice)
    end
    return listed(lines, ("%d numbers: setup %s in all, then %s a month."):format(#numbers, totals(setup),
      totals(monthly)))
  end,
}

PREVIEWS.bulk_release = {
  question = "Release them?",
  lines = function(client, args, numbers)
    local results, summary = client:get_active_numbers(numbers, { concurrency = args.concurrency })
    local failure = first_failure(results, summary)
    if failure then return nil, failure end
    local lines = {}
    for _, result in ipairs(results) do
      local name = result.value.displayName
      lines[#lines + 1] = ("Release %s%s (next charge %s)."):format(result.item,
        (type(name) == "string" and name ~= "") and (' "' .. name .. '"') or "", tostring(result.value.nextChargeDate))
    end
    return listed(lines, ("%d numbers go back to Sinch, and may not come back."):format(#numbers))
  end,
}

local REFUSED = "%s needs a yes, and there is no terminal to ask on%s: pass --yes to do it"
  .. " (or --dry-run to see the requests)"

-- Does the user want it done? true; or false and the exit code. --yes and
-- --dry-run (which sends nothing that changes state) do not ask. `targets`:
-- the phone numbers of a bulk run.
local function confirmed(client, entry, args, targets)
  if not entry.confirm or args.yes or args.dry_run then return true end
  if not terminal.can_ask() then
    say(REFUSED:format(entry.words, args.from == "-" and " (stdin holds the numbers)" or ""))
    return false, EXIT.usage
  end
  local preview = PREVIEWS[entry.confirm]
  local lines, err = preview.lines(client, args, targets)
  if not lines then
    report(err)
    return false, failure_code({}, err)
  end
  for _, line in ipairs(lines) do io.stderr:write(line, "\n") end
  if terminal.confirm(preview.question) then return true end
  say("nothing done")
  return false, EXIT.failed
end

local function show(answer, entry, settings, is_list)
  io.stdout:write(output.render(answer, entry.view, settings.format, { is_list = is_list, header = settings.header }))
end

local RUNNERS = {}

-- One call (or one for each value of `each`), its answer shown.
function RUNNERS.call(client, entry, args, settings)
  local ok, code = confirmed(client, entry, args)
  if not ok then return code end
  local method = client[entry.call]
  local input, problem = call_input(entry, args)
  if problem then
    say(problem)
    return EXIT.usage
  end
  local first = entry.arguments and entry.arguments[1]
  if entry.each then
    local answers, worst, values = {}, 0, args[first.name]
    for _, value in ipairs(values) do
      local answer, err = method(client, value, input)
      if answer then
        answers[#answers + 1] = answer
      elseif not not_sent(err) then
        report(err)
        if worst == 0 then worst = failure_code(entry, err) end
      end
    end
    if #answers > 0 then show(#values == 1 and answers[1] or answers, entry, settings, #values > 1) end
    return worst
  end
  local values = {}
  for i, argument in ipairs(entry.arguments or {}) do values[i] = args[argument.name] end
  if input then values[#values + 1] = input end
  local answer, err = method(client, (table.unpack or unpack)(values, 1, #values))
  if not answer then
    if not_sent(err) then return 0 end
    report(err)
    return failure_code(entry, err)
  end
  if entry.answer then
    show(answer[entry.answer] or {}, entry, settings, true)
  else
    show(answer, entry, settings, false)
  end
  return 0
end

local DEFAULT_LIST_LIMIT = 50

function RUNNERS.list(client, entry, args, settings)
  if args.all and args.limit then
    say("--all and --limit do not go together: --all lists every number")
    return EXIT.usage
  end
  local numbers, err = client:all_active_numbers(flag_input(entry.flags, args),
    not args.all and (args.limit or DEFAULT_LIST_LIMIT) or nil)
  if not numbers then
    report(err)
    return failure_code(entry, err)
  end
  show(numbers, entry, settings, true)
  return 0
end

-- The phone numbers of a bulk run: one a line of `from` (a file, or - for
-- stdin), blank lines and # comments left out; or nil, message.
local function numbers_from(from)
  local file, problem = io.stdin, nil
  if from ~= "-" then file, problem = io.open(from, "r") end
  if not file then return nil, "--from: " .. tostring(problem) end
  local numbers = {}
  for line in file:lines() do
    local number = line:match("^%s*(.-)%s*$")
    if number ~= "" and not number:find("^#") then numbers[#numbers + 1] = number end
  end
  if file ~= io.stdin then file:close() end
  if #numbers == 0 then return nil, "--from " .. from .. ": no phone numbers in it (one E.164 number a line)" end
  return numbers
end

local BULK = {
  rent = { method = "rent_numbers", done = "rented", body = true },
  update = { method = "update_active_numbers", done = "updated", body = true },
  release = { method = "release_numbers", done = "released" },
}

-- One row of a bulk run's answer: the number, what happened, and for a
-- rent whether it is in the project now (yes, no or unknown).
local function bulk_row(entry, result)
  local err = result.err
  local row = { phoneNumber = result.item, result = err and "failed" or BULK[entry.bulk].done }
  if entry.bulk == "rent" then
    if not err or err.rented == true then
      row.rented = "yes"
    elseif err.rented == false or not pipeline.outcome_unclear(err) then
      row.rented = "no"
    else
      row.rented = "unknown"
    end
  end
  if err then row.error = errors.summary(err) end
  return row
end

local function wall_clock()
  local has_socket, socket = pcall(require, "socket")
  return has_socket and socket.gettime or os.time
end

-- A bulk run: the question (with every number's price, or name), then
-- client:map through the bulk helper, a progress bar on a terminal (plain
-- lines otherwise), every number's row, and the summary on stderr.
function RUNNERS.bulk(client, entry, args, settings)
  local numbers, problem = numbers_from(args.from)
  if not numbers then
    say(problem)
    return EXIT.usage
  end
  if (args.debug or args.dry_run) and args.concurrency and args.concurrency > 1 then
    say("--debug and --dry-run make one call at a time: --concurrency ", args.concurrency, " is not used")
    args.concurrency = nil
  end
  local ok, code = confirmed(client, entry, args, numbers)
  if not ok then return code end
  local bulk = BULK[entry.bulk]
  local update, finish = terminal.progress(#numbers, wall_clock(), terminal.is_terminal(2))
  local options = { concurrency = args.concurrency, on_progress = function(done, _, failed) update(done, failed) end }
  local results, summary
  if bulk.body then
    results, summary = client[bulk.method](client, numbers, flag_input(entry.flags, args), options)
  else
    results, summary = client[bulk.method](client, numbers, options)
  end
  finish()
  if not results then
    report(summary)
    return failure_code(entry, summary)
  end
  local rows, unknown, failed = {}, false, 0
  for _, result in ipairs(results) do
    if not (result.err and not_sent(result.err)) then
      local row = bulk_row(entry, result)
      rows[#rows + 1] = row
      if result.err then
        failed = failed + 1
        unknown = unknown or failure_code(entry, result.err) == EXIT.unknown
      end
    end
  end
  if #rows == 0 then return 0 end   -- --dry-run: the requests were printed
  show(rows, entry, settings, true)
  say(("%s %d of %d numbers, %d failed, in %.1f s"):format(bulk.done, #rows - failed, #rows, failed, summary.seconds))
  if unknown then return EXIT.unknown end
  return failed > 0 and EXIT.partial or 0
end

local function configure(args)
  local name = args.profile or "default"
  local values = {
    project_id = terminal.read_line("Project id: "),
    key_id = terminal.read_line("Key id: "),
    key_secret = terminal.read_line("Key secret (not shown): ", true),
    base_url = args.base_url,
    auth_url = args.auth_url,
  }
  for _, key in ipairs { "project_id", "key_id", "key_secret" } do
    if not values[key] or not values[key]:find("%S") then
      say("configure: no ", key:gsub("_", " "), " given: nothing written")
      return EXIT.usage
    end
  end
  local path, problem = profiles.save(name, values)
  if not path then
    say(problem)
    return EXIT.usage
  end
  say("profile ", name, " written to ", path, " (only you can read it)")
  return 0
end

local function stderr_line(line)
  io.stderr:write(line, "\n")
end

local function stdout_line(line)
  io.stdout:write(line, "\n")
end

-- The client, from the credentials and the global options; or nil, message.
-- With --dry-run or --debug its transport is wrapped (cli/wire.lua): it is
-- returned too, for the caller to close.
local function make_client(args)
  local options, problem = profiles.credentials(args.profile)
  if not options then return nil, problem end
  options.base_url = args.base_url or options.base_url
  options.auth_url = args.auth_url or options.auth_url
  options.timeout = args.timeout
  options.user_agent = "sinchnumbers-cli/" .. version
  local transport
  if args.dry_run or args.debug then
    local made, err = require("sinchnumbers.transport.curl").new { timeout = args.timeout }
    if not made then return nil, tostring(err) end
    transport = made
    if args.dry_run then transport = wire.dry_run(transport, stdout_line) end
    if args.debug then transport = wire.debug(transport, stderr_line) end
    options.transport = transport
  end
  if args.debug then
    options.log_level = "debug"
    options.logger = function(level, message) stderr_line("* " .. level .. ": " .. message) end
  end
  local client, err = sinchnumbers.new(options)
  if not client then
    if transport then transport:close() end
    return nil, tostring(err):gsub("^sinchnumbers: ", "")
  end
  return client, nil, transport
end

local function run(argv)
  local parsed, args = cli.parser():pparse(argv)
  if not parsed then
    say(args)
    say("see sinchnumbers --help (or sinchnumbers COMMAND --help)")
    return EXIT.usage
  end
  local entry = args.chosen
  if entry.run == "configure" then return configure(args) end
  local client, problem, transport = make_client(args)
  if not client then
    say(problem)
    return EXIT.usage
  end
  local settings = { format = args.json and "json" or args.csv and "csv" or "table", header = not args.no_header }
  local code = RUNNERS[entry.run or "call"](client, entry, args, settings)
  client:close()
  if transport then transport:close() end
  return code
end

--- Runs the command line `argv` (a list of strings); returns the exit code.
function cli.main(argv)
  local ok, code = xpcall(function() return run(argv) end, debug.traceback)
  io.stdout:flush()
  if not ok then
    say("internal error, please report it: ", tostring(code))
    return EXIT.failed
  end
  return code
end

return cli
