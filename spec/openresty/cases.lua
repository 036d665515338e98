-- What the test nginx runs for spec/openresty_spec.lua. The spec (busted,
-- outside nginx) posts a plan as JSON; a handler here carries it out inside
-- nginx, with cosockets, and answers with what happened as JSON, so that the
-- assertions stay in the spec.
local cjson = require "cjson"

-- Response headers are set by writing to ngx.header, which the .luacheckrc
-- declares read-only for the whole ngx table.
-- luacheck: ignore 122

local cases = {}

local function now()
  ngx.update_time()
  return ngx.now()
end

local function read_plan()
  ngx.req.read_body()
  return cjson.decode(ngx.req.get_body_data() or "{}")
end

local function reply(result)
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(result))
end

-- One request's outcome as plain data.
local function outcome(started, status, headers, body)
  if status then
    return { status = status, headers = headers, body = body, elapsed = now() - started }
  end
  return { err = headers, elapsed = now() - started }
end

--- POST /transport { options = {...}, calls = { { method, url, headers, body, opts, pause }, ... } }
-- Runs the calls in a row on one cosocket transport (`body_size` instead of
-- `body` sends that many bytes; `pause` sleeps after a call), then closes it
-- twice and tries it once more: spec/support/transport_cases.lua says what
-- should happen.
function cases.transport()
  local plan = read_plan()
  local transport = assert(require("sinchnumbers.transport.ngx").new(plan.options))
  local results = {}
  for i, call in ipairs(plan.calls) do
    local started = now()
    local body = call.body or (call.body_size and string.rep("x", call.body_size))
    results[i] = outcome(started, transport:request(call.method, call.url, call.headers, body, call.opts))
    if call.pause then ngx.sleep(call.pause) end
  end
  transport:close()
  transport:close()
  reply{
    calls = results,
    closed = tostring(transport),
    used_after_close = select(2, transport:request("GET", plan.calls[1].url)),
  }
end

--- POST /transport/threads { options, urls = { ... } }
-- One cosocket transport, one light thread per URL, all at once: each GETs
-- its URL. Answers with every thread's status and body (or error), in the
-- order of `urls`.
function cases.transport_threads()
  local plan = read_plan()
  local transport = assert(require("sinchnumbers.transport.ngx").new(plan.options))
  local threads = {}
  for i, url in ipairs(plan.urls) do
    threads[i] = ngx.thread.spawn(function() return outcome(now(), transport:request("GET", url)) end)
  end
  local results = {}
  for i, thread in ipairs(threads) do
    local ok, result = ngx.thread.wait(thread)
    results[i] = ok and result or { raised = tostring(result) }
  end
  reply(results)
end

--- POST /transport/options { {options}, ... }: what each new{} says: "accepted", or its error's message.
function cases.transport_options()
  local said = {}
  for i, options in ipairs(read_plan()) do
    local transport, err = require("sinchnumbers.transport.ngx").new(options)
    said[i] = transport and "accepted" or err.message
  end
  reply(said)
end

--- The client ----------------------------------------------------------------

-- Named clients live as long as the worker, the way an application keeps one.
local clients = {}

-- A transport of the caller's: the cosocket one, counting its requests.
local function counting_transport()
  return {
    requests = 0,
    inner = require("sinchnumbers.transport.ngx").new(),
    request = function(self, ...)
      self.requests = self.requests + 1
      return self.inner:request(...)
    end,
  }
end

-- The cosocket transport, except that its first request raises an error
-- (as a broken transport of the caller's might).
local function raising_once_transport()
  local inner = require("sinchnumbers.transport.ngx").new()
  return {
    raised = false,
    request = function(self, ...)
      if not self.raised then
        self.raised = true
        error("the transport broke")
      end
      return inner:request(...)
    end,
  }
end

local TRANSPORTS = { counting = counting_transport, raising_once = raising_once_transport }

-- options.token_cache names a shared dict; options.transport = "counting"
-- or "raising_once" stands for one of the transports above.
local function client_for(plan)
  local existing = plan.name and clients[plan.name]
  if existing then return existing end
  local options = plan.options
  if options.token_cache then options.token_cache = ngx.shared[options.token_cache] end
  if TRANSPORTS[options.transport] then options.transport = TRANSPORTS[options.transport]() end
  local client = assert(require("sinchnumbers").new(options))
  if plan.name then clients[plan.name] = client end
  return client, options.transport
end

-- Runs one client method; an iterator's items are collected into an array.
-- A method that raises gives nil and { kind = "raised", message }.
local function call_client(client, call)
  local args = call.args or {}
  local method = client[call.method]
  if not call.iterate then
    local ok, result, err = pcall(method, client, unpack(args, 1, call.n or #args))
    if not ok then
      return nil, setmetatable({ kind = "raised", message = tostring(result) }, { __tostring = function(raised)
        return raised.message
      end })
    end
    return result, err
  end
  local items = {}
  local ok, problem = pcall(function()
    for item in method(client, unpack(args, 1, call.n or #args)) do items[#items + 1] = item end
  end)
  if ok then return items end
  return nil, problem
end

-- Leaves the lock of a token request in the shared dict, as a worker that
-- died while fetching would (holder: a pid that is not this worker's). The
-- key is auth.lua's: the token's key plus ":lock".
local function leave_lock(options, seconds)
  local codec = require "sinchnumbers.codec"
  local key = "sinchnumbers:token:"
    .. codec.hmac_sha1_hex(options.key_secret, options.auth_url .. "\n" .. options.key_id)
  assert(options.token_cache:set(key .. ":lock", 1, seconds))
end

--- POST /client { name, options, calls = { { method, args, n, iterate }, ... },
-- flush = dict name, leftover_lock = seconds }
-- Runs client methods in a row on one client (a new one unless `name` names
-- one this worker made before); answers with each result or error, which
-- worker ran them, and how many requests a counting transport saw. `flush`
-- empties a shared dict first; `leftover_lock` leaves a lock in the token cache.
function cases.client()
  local plan = read_plan()
  if plan.flush then ngx.shared[plan.flush]:flush_all() end
  local client, transport = client_for(plan)
  if plan.leftover_lock then leave_lock(plan.options, plan.leftover_lock) end
  local results = {}
  for i, call in ipairs(plan.calls) do
    local started = now()
    local result, err = call_client(client, call)
    results[i] = { result = result, elapsed = now() - started }
    if err then results[i].err = { kind = err.kind, message = tostring(err) } end
  end
  reply{
    calls = results,
    worker = ngx.worker.pid(),
    transport_requests = type(transport) == "table" and transport.requests or nil,
  }
end

--- POST /client/threads { options, transport_options, phones = { ... }, rounds }
-- One client (on a cosocket transport made with `transport_options`), one
-- light thread per phone number, all at once: each gets its number's active
-- number, `rounds` times in a row. Answers with what every thread asked and
-- got, in the order of `phones`.
function cases.threads()
  local plan = read_plan()
  plan.options.transport = assert(require("sinchnumbers.transport.ngx").new(plan.transport_options))
  local client = client_for(plan)
  local function get_each_round(phone)
    local got = {}
    for round = 1, plan.rounds or 1 do
      local number, err = client:get_active_number(phone)
      got[round] = number and number.phoneNumber or { kind = err.kind, message = tostring(err) }
    end
    return got
  end
  local threads = {}
  for i, phone in ipairs(plan.phones) do threads[i] = ngx.thread.spawn(get_each_round, phone) end
  local answers = {}
  for i, thread in ipairs(threads) do
    local ok, got = ngx.thread.wait(thread)
    answers[i] = { asked = plan.phones[i], got = ok and got or { "raised: " .. tostring(got) } }
  end
  reply{ answers = answers, worker = ngx.worker.pid() }
end

-- The functions a map plan names: each gets (client, item, index, plan).
local MAP_FUNCTIONS = {
  get = function(client, phone) return client:get_active_number(phone) end,
  rent = function(client, phone) return client:rent_number(phone) end,
  -- Item `plan.raise_at` raises `plan.raise` (a string, or an error of the
  -- client's when it is "error object"); the others get their number.
  raise = function(client, phone, index, plan)
    if index == plan.raise_at then
      if plan.raise == "error object" then error(require("sinchnumbers.errors").new("network", "raised on purpose")) end
      error(plan.raise, 0)
    end
    return client:get_active_number(phone)
  end,
  -- Item `plan.close_at` closes the client a moment after it starts; the others get their number.
  close = function(client, phone, index, plan)
    if index == plan.close_at then
      ngx.sleep(0.05)
      client:close()
      return "closed it"
    end
    return client:get_active_number(phone)
  end,
}

-- A map result as plain data: the value's phone number (or the value), the error's fields.
local function map_result(result)
  local value = result.value
  if type(value) == "table" then value = value.phoneNumber or true end
  local err = result.err
  if err then
    err = { kind = err.kind, message = tostring(err), rented = err.rented, status = err.status }
  end
  return { item = result.item, value = value, err = err }
end

--- POST /client/map { name, options, items, fn, map_options, raise_at, raise, close_at }
-- Runs client:map(items, MAP_FUNCTIONS[fn], map_options) on light threads
-- and answers with its results and summary (or its error) and how long it took.
function cases.map()
  local plan = read_plan()
  local client = client_for(plan)
  local fn = MAP_FUNCTIONS[plan.fn]
  local started = now()
  local results, summary = client:map(plan.items, function(c, item, index) return fn(c, item, index, plan) end,
    plan.map_options)
  local answer = { elapsed = now() - started, worker = ngx.worker.pid() }
  if results then
    answer.results, answer.summary = {}, summary
    for i, result in ipairs(results) do answer.results[i] = map_result(result) end
  else
    answer.err = { kind = summary.kind, message = tostring(summary) }
  end
  reply(answer)
end

--- GET /client/early: what the clients made before any request found; see
-- spec/openresty/early.lua.
function cases.early()
  reply(require("openresty.early").results)
end

--- Locations that play the server -------------------------------------------

-- Echoes the request as JSON, with the connection's number and how many
-- requests it has carried, to count kept-alive connections.
function cases.echo()
  ngx.req.read_body()
  ngx.header["X-Connection"] = ngx.var.connection
  ngx.header["X-Connection-Requests"] = ngx.var.connection_requests
  ngx.header["X-Repeated"] = { "one", "two" }
  ngx.say(cjson.encode{
    method = ngx.req.get_method(),
    uri = ngx.var.request_uri,
    headers = ngx.req.get_headers(),
    body = ngx.req.get_body_data() or "",
  })
end

-- `size` bytes of "x", with a Content-Length unless chunked=1, flushed in
-- pieces so that a chunked answer has many chunks.
function cases.bytes()
  local size = tonumber(ngx.var.arg_size)
  if ngx.var.arg_chunked ~= "1" then ngx.header["Content-Length"] = size end
  local piece = string.rep("x", 65536)
  while size > 0 do
    local n = math.min(size, #piece)
    ngx.print(n == #piece and piece or piece:sub(1, n))
    ngx.flush(true)
    size = size - n
  end
end

-- Answers the first request of a connection; later ones on the same
-- connection are closed without a byte (nginx's 444), as a server does with
-- a kept-alive connection it has already given up.
function cases.flaky()
  if tonumber(ngx.var.connection_requests) > 1 then return ngx.exit(444) end
  ngx.header["X-Connection"] = ngx.var.connection
  ngx.say("fresh")
end

-- Answers that no server should send, written byte for byte on the raw
-- connection (GET /raw?answer=<name>), then the connection is closed.
local RAW_ANSWERS = {
  chunk_zz = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
  chunk_minus = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
  chunk_junk = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 junk\r\nhello\r\n0\r\n\r\n",
  chunk_20_digits = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nhello\r\n",
  -- A header value with a long run of inner spaces, sent a few bytes at a time.
  spaces = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Spaces: a" .. string.rep(" ", 30000) .. "b\r\n\r\nok",
}

function cases.raw()
  local answer = RAW_ANSWERS[ngx.var.arg_answer]
  local sock = assert(ngx.req.socket(true))
  local piece = tonumber(ngx.var.arg_piece) or #answer
  for at = 1, #answer, piece do
    assert(sock:send(answer:sub(at, at + piece - 1)))
  end
end

-- GET /pieces?id=N&chunked=0|1: `{"id":"N"}` in three pieces a few
-- milliseconds apart, chunked or with a Content-Length, so that a client
-- reads each answer in several reads while it reads others.
function cases.pieces()
  local id = ngx.var.arg_id
  local pieces = { '{"id":"', id, '"}' }
  if ngx.var.arg_chunked ~= "1" then ngx.header["Content-Length"] = #table.concat(pieces) end
  for i, piece in ipairs(pieces) do
    if i > 1 then ngx.sleep(0.002 * (i + tonumber(id) % 5)) end
    ngx.print(piece)
    ngx.flush(true)
  end
end

-- One header line larger than the transport accepts.
function cases.huge_header()
  ngx.header["X-Huge"] = string.rep("h", 300 * 1024)
  ngx.say("too much")
end

-- The header X-Many sent `count` times (GET /repeated?count=N).
function cases.repeated()
  local values = {}
  for i = 1, tonumber(ngx.var.arg_count) do values[i] = "v" .. i end
  ngx.header["X-Many"] = values
  ngx.say("ok")
end

-- A body of `count` bytes, one every `every` seconds: each byte comes well
-- within any read timeout, but the whole answer takes count * every.
function cases.trickle()
  local count, every = tonumber(ngx.var.arg_count), tonumber(ngx.var.arg_every)
  ngx.header["Content-Length"] = count
  for _ = 1, count do
    ngx.print("x")
    ngx.flush(true)
    ngx.sleep(every)
  end
end

return cases
