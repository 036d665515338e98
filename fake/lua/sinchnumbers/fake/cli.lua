--- The `sinchnumbers-fake` command: parses its arguments, starts the fake,
-- prints its base URL as the first line of stdout, then serves until it is
-- killed or until the process given by `--parent-pid` is gone. Kept in a
-- module, not in the script, so that `fake.spawn` can run it with any
-- interpreter from any install (LuaRocks installs the script as a shell wrapper).
-- See doc/fake-server.md.
local fake = require "sinchnumbers.fake"
local process = require "sinchnumbers.fake.process"

local cli = {}

local USAGE = [[
usage: sinchnumbers-fake [options]
  --port N             port on 127.0.0.1 (default 0: any free port)
  --seed N             inventory seed (default 1; same seed, same numbers)
  --token-ttl SECONDS  lifetime of issued OAuth2 tokens (default 3600)
  --project-id ID      project id (default test-project)
  --key-id ID          key id (default test-key-id)
  --key-secret SECRET  key secret (default test-key-secret)
  --hmac-secret SECRET callback hmacSecret at start (default test-hmac-secret)
  --parent-pid PID     exit once process PID is gone (default: serve until killed)
]]

-- How often the server looks for its parent: the longest it outlives it.
local PARENT_CHECK_SECONDS = 0.5

-- option -> { name in the parsed options, converter }
local OPTIONS = {
  ["--port"] = { "port", tonumber },
  ["--seed"] = { "seed", tonumber },
  ["--token-ttl"] = { "token_ttl", tonumber },
  ["--project-id"] = { "project_id", tostring },
  ["--key-id"] = { "key_id", tostring },
  ["--key-secret"] = { "key_secret", tostring },
  ["--hmac-secret"] = { "hmac_secret", tostring },
  ["--parent-pid"] = { "parent_pid", tonumber },
}

local function fail(message, status)
  io.stderr:write("sinchnumbers-fake: ", message, "\n", USAGE)
  os.exit(status or 2)
end

local function parse_arguments(args)
  local options = {}
  local i = 1
  while i <= #args do
    local name, value = args[i]:match("^(%-%-[%w-]+)=(.*)$")
    if not name then
      name, value = args[i], args[i + 1]
      i = i + 1
    end
    if name == "--help" or name == "-h" then
      io.stdout:write(USAGE)
      os.exit(0)
    end
    local option = OPTIONS[name]
    if not option then fail("unknown option " .. name) end
    if value == nil then fail("missing value for " .. name) end
    local converted = option[2](value)
    if converted == nil then fail(string.format("%s needs a number, not %q", name, value)) end
    options[option[1]] = converted
    i = i + 1
  end
  return options
end

local function serve(server, parent_pid)
  if not parent_pid then return server:run() end
  while process.alive(parent_pid) do server:step(PARENT_CHECK_SECONDS) end
  server:close()
end

--- Runs the command with its arguments (an array of strings, like `arg`).
-- Returns only when the parent given by `--parent-pid` is gone.
-- @tparam {string,...} args
function cli.main(args)
  local options = parse_arguments(args)
  local parent_pid = options.parent_pid
  options.parent_pid = nil
  local server, err = fake.new(options)
  if not server then fail(err, 1) end
  io.stdout:write(server:url(), "\n")
  io.stdout:flush()
  serve(server, parent_pid)
end

return cli
