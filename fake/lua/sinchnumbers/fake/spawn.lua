--- fake.spawn: runs the sinchnumbers-fake command (sinchnumbers.fake.cli) in a
-- background process and drives its control paths over HTTP (luasocket's
-- socket.http), for test suites. The server exits by itself once the process
-- that spawned it is gone.
--
--   local h = fake.spawn{ token_ttl = 2 }   -- waits until it listens
--   h.url, h.pid
--   h:script{ path = "activeNumbers", status = 503, headers = { ["Retry-After"] = "1" } }
--   h:stop()                                 -- safe twice; also on <close> (5.4)
--
-- Control helpers raise an error when the fake cannot be reached or refuses.
-- @module sinchnumbers.fake
local socket = require "socket"
local socket_http = require "socket.http"
local ltn12 = require "ltn12"
local json = require "sinchnumbers.fake.json"
local process = require "sinchnumbers.fake.process"

local spawn = {}

local STARTUP_TIMEOUT = 5
local STOP_TIMEOUT = 2

-- fake.spawn option -> command-line flag
local FLAGS = {
  port = "--port", seed = "--seed", token_ttl = "--token-ttl", project_id = "--project-id",
  key_id = "--key-id", key_secret = "--key-secret", hmac_secret = "--hmac-secret",
}

local function shell_quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

local function read_command(command)
  local pipe = io.popen(command)
  local output = pipe:read("*a")
  pipe:close()
  return output
end

local function read_file(path)
  local file = io.open(path, "rb")
  if not file then return "" end
  local text = file:read("*a")
  file:close()
  return text
end

-- The directory that holds sinchnumbers/fake/ (fake/lua/ in a checkout, or an
-- installed tree), as an absolute path ending in "/": the child loads the fake
-- from where this process loaded it.
local function module_tree()
  local source = debug.getinfo(1, "S").source
  local tree = source:match("^@(.-)sinchnumbers[/\\]fake[/\\]spawn%.lua$") or ""
  if tree:sub(1, 1) ~= "/" then
    local cwd = os.getenv("PWD") or read_command("pwd"):gsub("%s+$", "")
    tree = cwd .. "/" .. tree
  end
  return tree
end

-- The interpreter running this code, so the child speaks the same Lua.
local function default_interpreter()
  local name = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
  if read_command("command -v " .. name .. " 2>/dev/null"):match("%S") then return name end
  return "lua"
end

-- This process's id (the fake's parent): the parent of the shell that io.popen starts.
local own_pid
local function this_process_id()
  own_pid = own_pid or read_command("echo $PPID"):match("%d+")
  return own_pid
end

-- The Lua chunk the child runs with `-e`: the fake's modules from `tree`, the
-- rest (luasocket, lua-cjson) from this process's paths when the child runs
-- the same interpreter (another Lua keeps its own, as its C modules differ),
-- then the command with `arguments`. Never a script found on PATH: LuaRocks
-- installs that as a shell wrapper, which no Lua can run.
local function child_chunk(tree, same_interpreter, arguments)
  local fake_path = tree .. "?.lua;" .. tree .. "?/init.lua;"
  local quoted = {}
  for i, argument in ipairs(arguments) do quoted[i] = string.format("%q", argument) end
  local paths
  if same_interpreter then
    paths = string.format("package.path = %q; package.cpath = %q;", fake_path .. package.path, package.cpath)
  else
    paths = string.format("package.path = %q .. package.path;", fake_path)
  end
  return paths .. " require('sinchnumbers.fake.cli').main{ " .. table.concat(quoted, ", ") .. " }"
end

--- What `spawn` returns: a running fake in another process, and helpers
-- for its control paths (doc/fake-server.md has what each accepts). The
-- helpers return the control path's decoded JSON answer, and raise an error
-- when the fake refuses or cannot be reached.
-- @type Handle
-- @tfield string url the base URL, e.g. `"http://127.0.0.1:40123"`
-- @tfield int pid the server's process id
local Handle = {}
Handle.__index = Handle

--- Kills the server (SIGTERM) and waits briefly for it to go. Safe to call twice;
-- also called when a Lua 5.4 `<close>` variable holding the handle goes out of scope.
function Handle:stop()
  if self.stopped then return end
  self.stopped = true
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  local deadline = socket.gettime() + STOP_TIMEOUT
  while process.alive(self.pid) and socket.gettime() < deadline do socket.sleep(0.01) end
  os.remove(self.output_path)
end

-- Not on __gc: `fake.spawn().url` would then kill the server at a random moment.
Handle.__close = Handle.stop

--- Everything the server wrote to stdout and stderr so far (for diagnostics).
-- @treturn string
function Handle:output()
  return read_file(self.output_path)
end

--- Calls a control path; returns the decoded JSON answer or raises.
-- @tparam string method `"GET"`, `"POST"` or `"DELETE"`
-- @tparam string path e.g. `"/_fake/reset"`
-- @tparam[opt] table body sent as JSON
-- @treturn table
function Handle:control(method, path, body)
  local payload = body and json.encode(body) or ""
  local chunks = {}
  local ok, status = socket_http.request({
    url = self.url .. path,
    method = method,
    headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#payload) },
    source = ltn12.source.string(payload),
    sink = ltn12.sink.table(chunks),
  })
  local text = table.concat(chunks)
  if not ok then error(string.format("sinchnumbers.fake: %s %s failed: %s", method, path, tostring(status)), 2) end
  if status ~= 200 then
    error(string.format("sinchnumbers.fake: %s %s answered %d: %s", method, path, status, text), 2)
  end
  return json.decode(text)
end

--- State, scripts and log back to the start (same seed, same inventory);
-- tokens issued so far answer as expired. `POST /_fake/reset`.
function Handle:reset() return self:control("POST", "/_fake/reset") end
--- The requests the fake has served, oldest first, control paths excluded.
-- `GET /_fake/requests`.
-- @treturn {table,...} `{ method, path, headers, body }` each; `path` is raw,
-- with the query; header names are lower-case; `authorization` is masked
-- (`"Bearer masked:1a2b3c4d"`: the scheme and a fingerprint, never the credential)
function Handle:requests() return self:control("GET", "/_fake/requests").requests end
--- Empties the request log. `DELETE /_fake/requests`.
function Handle:clear_requests() return self:control("DELETE", "/_fake/requests") end
--- Scripts the next answers (fault injection). `POST /_fake/script`.
-- @tparam table spec `path` (part of the raw path to match), `method`,
-- `count` (default 1), `status`, `headers`, `body`, `delay` (seconds),
-- `fault` (`"drop"`, `"broken_json"`, `"huge"`, `"reset_mid_body"`), `size`, `chunked`
-- @usage h:script{ path = "activeNumbers", count = 2, status = 503, headers = { ["Retry-After"] = "1" } }
function Handle:script(spec) return self:control("POST", "/_fake/script", spec) end
--- Drops the scripts not used yet. `DELETE /_fake/script`.
function Handle:clear_scripts() return self:control("DELETE", "/_fake/script") end
--- Makes every token issued so far answer as expired. `POST /_fake/expire_tokens`.
function Handle:expire_tokens() return self:control("POST", "/_fake/expire_tokens") end
--- Puts numbers straight into the project (for paging tests). `POST /_fake/active_numbers`.
-- @tparam[opt] table spec e.g. `{ count = 250, regionCode = "US", type = "LOCAL" }`
-- @treturn table `{ phoneNumbers = {...} }`
function Handle:add_active_numbers(spec) return self:control("POST", "/_fake/active_numbers", spec or {}) end
--- Sends a signed event to a number's `callbackUrl`. `POST /_fake/events`.
-- @tparam table spec `phoneNumber` (required), `eventType`, `status`, `failureCode`, ...
-- @treturn table `{ delivered, status, body, signature, payload }`, or
-- `delivered = false` and `error`
function Handle:send_event(spec) return self:control("POST", "/_fake/events", spec) end
--- Moves the fake's clock forward (tokens expire, number orders expire after
-- 48 hours of it). `POST /_fake/clock`.
-- @tparam number seconds how far, at least 0
-- @treturn table `{ now, advanced }`: the fake's time now, and the total advance since reset
function Handle:advance_clock(seconds) return self:control("POST", "/_fake/clock", { advance = seconds }) end
--- Decides an `IN_REVIEW` number order: `"COMPLETED"` rents its numbers into
-- the project, `"REJECTED"` puts them back; then a signed
-- `NUMBER_ORDER_PROCESSING` event goes to the order's `callbackUrl`.
-- `POST /_fake/number_orders/{id}`.
-- @tparam string order_id the order's `idNumberOrder`
-- @tparam string state `"COMPLETED"` or `"REJECTED"`
-- @treturn table `{ order, delivered, status, body, signature, payload }`, or
-- `delivered = false` and `error` (also when the order has no callbackUrl)
function Handle:decide_number_order(order_id, state)
  return self:control("POST", "/_fake/number_orders/" .. order_id, { state = state })
end

-- options: lua (interpreter), port, seed, token_ttl, project_id, key_id,
-- key_secret, hmac_secret. Returns a handle once the server listens; raises if
-- it does not start within a few seconds. The server exits by itself once
-- this process is gone (--parent-pid).
function spawn.start(options)
  options = options or {}
  for name in pairs(options) do
    if not FLAGS[name] and name ~= "lua" then error("sinchnumbers.fake.spawn: unknown option " .. tostring(name), 2) end
  end
  local interpreter = default_interpreter()
  local arguments = { "--parent-pid=" .. this_process_id() }
  for name, flag in pairs(FLAGS) do
    if options[name] ~= nil then arguments[#arguments + 1] = flag .. "=" .. tostring(options[name]) end
  end
  local chunk = child_chunk(module_tree(), options.lua == nil or options.lua == interpreter, arguments)
  local output_path = os.tmpname()
  -- The child's stdout goes to a file: a pipe left open would tie its life to ours.
  local command = string.format("%s -e %s </dev/null >%s 2>&1 & echo $!",
    shell_quote(options.lua or interpreter), shell_quote(chunk), shell_quote(output_path))
  local pid = read_command(command):match("%d+")
  if not pid then error("sinchnumbers.fake.spawn: could not start " .. (options.lua or interpreter), 2) end
  local handle = setmetatable({ pid = tonumber(pid), output_path = output_path }, Handle)
  local deadline = socket.gettime() + STARTUP_TIMEOUT
  repeat
    local url = handle:output():match("^(http://[^\r\n]+)\n")
    if url then
      handle.url = url
      return handle
    end
    if not process.alive(handle.pid) then break end
    socket.sleep(0.02)
  until socket.gettime() > deadline
  local output = handle:output()
  handle:stop()
  error("sinchnumbers.fake.spawn: the server did not start: " .. output, 2)
end

return spawn
