-- A small HTTP/1.1 server (and one-shot client) on one socket.select loop.
--
-- Everything is non-blocking (settimeout(0)), so a response that is held back (a
-- scripted delay, a webhook being delivered) never stalls the other connections:
-- a handler gets `reply` and may call it now or later. Connections are kept alive
-- as HTTP/1.1 says, and pipelined requests are answered in order. Request bodies
-- need a Content-Length; chunked request bodies are refused with 501.
--
-- A response is a table:
--   status, headers (name -> value), body             an ordinary answer
--   source = function() -> piece|nil, length|chunked   a streamed body
--   length                                             Content-Length to announce
--                                                      (defaults to #body)
--   close = true                                       close once written
--   drop = true                                        close without answering
local socket = require "socket"

local http = {}

local READ_SIZE = 65536
local MAX_HEAD = 64 * 1024
local MAX_BODY = 16 * 1024 * 1024
local FETCH_TIMEOUT = 5

local REASONS = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [204] = "No Content",
  [301] = "Moved Permanently", [302] = "Found", [304] = "Not Modified",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [408] = "Request Timeout",
  [409] = "Conflict", [413] = "Payload Too Large", [415] = "Unsupported Media Type",
  [429] = "Too Many Requests", [431] = "Request Header Fields Too Large",
  [500] = "Internal Server Error", [501] = "Not Implemented", [502] = "Bad Gateway",
  [503] = "Service Unavailable", [504] = "Gateway Timeout",
}

-- Parses header lines ("Name: value") into a table keyed by lowercased name;
-- repeated headers are joined with ", " as RFC 9110 allows.
local function parse_header_lines(text)
  local headers = {}
  for line in text:gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      name = name:lower()
      headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
    end
  end
  return headers
end

local function plain_response(status, text)
  return { status = status, headers = { ["Content-Type"] = "text/plain" }, body = text .. "\n", close = true }
end

-- Wraps a body source so that each piece goes out as one chunk, then the last chunk.
local function chunked(source)
  local finished = false
  return function()
    if finished then return nil end
    local piece = source()
    while piece == "" do piece = source() end -- an empty chunk would end the body
    if piece then return string.format("%x\r\n%s\r\n", #piece, piece) end
    finished = true
    return "0\r\n\r\n"
  end
end

------------------------------------------------------------------------------
-- One accepted client connection.
------------------------------------------------------------------------------
local Connection = {}
Connection.__index = Connection

local function new_connection(server, sock)
  return setmetatable({
    server = server,
    sock = sock,
    inbuf = "",
    out = {},        -- strings waiting to be written, oldest first
    out_pos = 1,     -- next byte of out[1] to write
    source = nil,    -- a streamed body still being written
    busy = false,    -- a request is with the handler, its reply not yet given
    closing = false, -- close once the output is written
    closed = false,
  }, Connection)
end

function Connection:wants_read()
  return not (self.busy or self.closing or self.closed)
end

function Connection:wants_write()
  return self.out[1] ~= nil or self.source ~= nil
end

function Connection:close()
  if self.closed then return end
  self.closed = true
  self.server.endpoints[self.sock] = nil
  self.sock:close()
end

-- Writes as much as the socket takes now; the loop calls again when it is writable.
function Connection:flush()
  while not self.closed do
    if not self.out[1] and self.source then
      local piece = self.source()
      if piece then self.out[1] = piece else self.source = nil end
    end
    local piece = self.out[1]
    if not piece then break end
    local last, err, partial_last = self.sock:send(piece, self.out_pos)
    if last then
      table.remove(self.out, 1)
      self.out_pos = 1
    elseif err == "timeout" then
      self.out_pos = partial_last + 1
      return
    else
      self:close()
      return
    end
  end
  if self.closing then self:close() end
end

function Connection:write_response(request, response)
  if self.closed then return end
  if response.drop then
    self:close()
    return
  end
  local keep_alive = request.keep_alive and not response.close
  local given = response.headers or {}
  local lines = { string.format("HTTP/1.1 %d %s", response.status, REASONS[response.status] or "Unknown") }
  local present = {}
  for name, value in pairs(given) do
    present[name:lower()] = true
    lines[#lines + 1] = name .. ": " .. tostring(value)
  end
  local function default(name, value)
    if not present[name:lower()] then lines[#lines + 1] = name .. ": " .. value end
  end
  local body = response.body or ""
  if response.source and response.chunked then
    default("Transfer-Encoding", "chunked")
  else
    default("Content-Length", string.format("%d", response.length or #body))
  end
  if not keep_alive then
    default("Connection", "close")
  elseif request.version == "1.0" then
    default("Connection", "keep-alive")
  end
  default("Server", "sinchnumbers-fake")
  -- Head and body in one write: two small writes can meet Nagle and delayed ACK.
  self.out[#self.out + 1] = table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
  if response.source then
    self.source = response.chunked and chunked(response.source) or response.source
  end
  self.closing = self.closing or not keep_alive
  self:flush()
end

-- Splits the next complete request off the input buffer.
-- Returns a request; or nil when more bytes are needed; or nil and an error response.
function Connection:next_request()
  self.inbuf = self.inbuf:gsub("^[\r\n]+", "") -- stray line ends between requests
  local head_end = self.inbuf:find("\r\n\r\n", 1, true)
  if not head_end then
    if #self.inbuf > MAX_HEAD then return nil, plain_response(431, "request head too large") end
    return nil
  end
  local head = self.inbuf:sub(1, head_end - 1)
  local request_line, header_text = head:match("^([^\r\n]*)(.*)$")
  local method, target, version = request_line:match("^(%u+) (%S+) HTTP/(1%.[01])$")
  if not method then return nil, plain_response(400, "malformed request line") end
  local headers = parse_header_lines(header_text)
  if headers["transfer-encoding"] then
    return nil, plain_response(501, "chunked request bodies are not supported; send Content-Length")
  end
  local length = 0
  if headers["content-length"] then
    length = tonumber(headers["content-length"]:match("^%d+$"))
    if not length then return nil, plain_response(400, "bad Content-Length") end
    if length > MAX_BODY then return nil, plain_response(413, "request body too large") end
  end
  local body_end = head_end + 3 + length
  if #self.inbuf < body_end then
    -- curl waits a second for this before sending a large body on its own.
    if (headers.expect or ""):lower() == "100-continue" and not self.sent_continue then
      self.sent_continue = true
      self.out[#self.out + 1] = "HTTP/1.1 100 Continue\r\n\r\n"
      self:flush()
    end
    return nil
  end
  self.sent_continue = false
  local body = self.inbuf:sub(head_end + 4, body_end)
  self.inbuf = self.inbuf:sub(body_end + 1)
  local connection = (headers.connection or ""):lower()
  local keep_alive
  if version == "1.1" then
    keep_alive = not connection:find("close", 1, true)
  else
    keep_alive = connection:find("keep-alive", 1, true) ~= nil
  end
  local path, query = target:match("^([^?]*)%??(.*)$")
  return {
    method = method, target = target, path = path, query = query, version = version,
    headers = headers, body = body, keep_alive = keep_alive,
  }
end

-- Hands complete requests to the handler, one at a time, until one is pending.
function Connection:dispatch()
  while not (self.busy or self.closing or self.closed) do
    local request, failure = self:next_request()
    if failure then
      self:write_response({ keep_alive = false }, failure)
      return
    end
    if not request then return end
    self.busy = true
    local in_dispatch = true
    local replied = false
    self.server.handler(request, function(response)
      if replied then return end
      replied = true
      self.busy = false
      self:write_response(request, response)
      -- A late reply (after a delay) restarts the dispatching of pipelined requests.
      if not in_dispatch then self:dispatch() end
    end)
    in_dispatch = false
  end
end

function Connection:on_readable()
  local data, err, partial = self.sock:receive(READ_SIZE)
  local received = data or partial
  if received and #received > 0 then self.inbuf = self.inbuf .. received end
  self:dispatch()
  if err and err ~= "timeout" then
    -- The peer has shut its side (as `printf ... | nc` does after its request):
    -- answer what it sent, then close.
    if self.busy or self:wants_write() then self.closing = true else self:close() end
  end
end

function Connection:on_writable()
  self:flush()
end

------------------------------------------------------------------------------
-- One outgoing request (used to deliver webhooks), driven by the same loop.
-- It speaks HTTP/1.0, so the answer is never chunked and ends when the peer closes.
------------------------------------------------------------------------------
local Fetch = {}
Fetch.__index = Fetch

function Fetch:wants_read() return self.sent and not self.done end
function Fetch:wants_write() return not self.sent and not self.done end

function Fetch:finish(status, headers, body_or_err)
  if self.done then return end
  self.done = true
  self.timer.cancelled = true
  self.server.endpoints[self.sock] = nil
  self.sock:close()
  self.callback(status, headers, body_or_err)
end

function Fetch:on_writable()
  local last, err, partial_last = self.sock:send(self.request, self.pos)
  if last then
    self.sent = true
  elseif err == "timeout" then
    self.pos = partial_last + 1
  else
    self:finish(nil, nil, err)
  end
end

-- Returns true once the whole answer is in (by Content-Length, or at close).
function Fetch:parse(at_close)
  local received = table.concat(self.received)
  local head_end = received:find("\r\n\r\n", 1, true)
  if not head_end then
    if at_close then self:finish(nil, nil, "connection closed before a complete answer") end
    return at_close
  end
  local status = tonumber(received:match("^HTTP/%d%.%d (%d%d%d)"))
  local headers = parse_header_lines(received:sub(1, head_end - 1):match("^[^\r\n]*(.*)$"))
  local body = received:sub(head_end + 4)
  local length = tonumber(headers["content-length"] or "")
  if length and #body >= length then
    body = body:sub(1, length)
  elseif not at_close then
    return false
  end
  if status then
    self:finish(status, headers, body)
  else
    self:finish(nil, nil, "malformed status line")
  end
  return true
end

function Fetch:on_readable()
  local data, err, partial = self.sock:receive(READ_SIZE)
  local received = data or partial
  if received and #received > 0 then self.received[#self.received + 1] = received end
  if err and err ~= "timeout" then
    if err == "closed" then self:parse(true) else self:finish(nil, nil, err) end
  else
    self:parse(false)
  end
end

------------------------------------------------------------------------------
-- The server: a listener, its connections, outgoing fetches and timers.
------------------------------------------------------------------------------
local Server = {}
Server.__index = Server

-- opts: host, port (0 picks a free one), handler(request, reply).
function http.new_server(opts)
  local listener, err = socket.bind(opts.host, opts.port, 128)
  if not listener then return nil, err end
  listener:settimeout(0)
  local host, port = listener:getsockname()
  return setmetatable({
    listener = listener,
    host = host,
    port = tonumber(port),
    handler = opts.handler,
    endpoints = {}, -- socket -> Connection or Fetch
    timers = {},
  }, Server)
end

-- Calls fn after `seconds`; returns the timer, which `cancelled = true` disarms.
function Server:after(seconds, fn)
  local timer = { due = socket.gettime() + seconds, fn = fn }
  self.timers[#self.timers + 1] = timer
  return timer
end

function Server:run_due_timers()
  local now = socket.gettime()
  local due, waiting = {}, {}
  for _, timer in ipairs(self.timers) do
    if not timer.cancelled then
      if timer.due <= now then due[#due + 1] = timer else waiting[#waiting + 1] = timer end
    end
  end
  self.timers = waiting
  table.sort(due, function(a, b) return a.due < b.due end)
  for _, timer in ipairs(due) do timer.fn() end
end

function Server:seconds_to_next_timer()
  local first
  for _, timer in ipairs(self.timers) do
    if not timer.cancelled and (not first or timer.due < first) then first = timer.due end
  end
  return first and math.max(0, first - socket.gettime())
end

function Server:accept()
  while true do
    local sock = self.listener:accept()
    if not sock then return end
    sock:settimeout(0)
    sock:setoption("tcp-nodelay", true)
    self.endpoints[sock] = new_connection(self, sock)
  end
end

-- Sends one HTTP request and calls callback(status, headers, body) or
-- callback(nil, nil, error_message). Only http:// URLs.
function Server:fetch(url, method, headers, body, callback)
  local host, port, path = url:match("^http://([^/:?#]+):?(%d*)([^#]*)")
  if not host then
    callback(nil, nil, "only http:// URLs can be reached from the fake")
    return
  end
  port = tonumber(port) or 80
  if path == "" then path = "/" end
  -- A blocking lookup, but callback URLs in tests name loopback hosts.
  local address = socket.dns.toip(host)
  if not address then
    callback(nil, nil, "cannot resolve " .. host)
    return
  end
  local sock = socket.tcp()
  sock:settimeout(0)
  local connected, err = sock:connect(address, port)
  if not connected and err ~= "timeout" then
    sock:close()
    callback(nil, nil, err)
    return
  end
  local lines = { string.format("%s %s HTTP/1.0", method, path), "Host: " .. host .. ":" .. port }
  for name, value in pairs(headers) do lines[#lines + 1] = name .. ": " .. value end
  lines[#lines + 1] = string.format("Content-Length: %d", #body)
  local fetch = setmetatable({
    server = self, sock = sock, callback = callback,
    request = table.concat(lines, "\r\n") .. "\r\n\r\n" .. body, pos = 1,
    received = {}, sent = false, done = false,
  }, Fetch)
  fetch.timer = self:after(FETCH_TIMEOUT, function() fetch:finish(nil, nil, "timeout") end)
  self.endpoints[sock] = fetch
end

-- One round of the loop: waits at most `timeout` seconds (nil: until something
-- happens), then serves whatever is ready and fires due timers.
function Server:step(timeout)
  local wait = self:seconds_to_next_timer()
  if timeout and (not wait or timeout < wait) then wait = timeout end
  local recvt, sendt = { self.listener }, {}
  for sock, endpoint in pairs(self.endpoints) do
    if endpoint:wants_read() then recvt[#recvt + 1] = sock end
    if endpoint:wants_write() then sendt[#sendt + 1] = sock end
  end
  local readable, writable = socket.select(recvt, sendt, wait)
  for _, sock in ipairs(writable) do
    local endpoint = self.endpoints[sock]
    if endpoint then endpoint:on_writable() end
  end
  for _, sock in ipairs(readable) do
    if sock == self.listener then
      self:accept()
    else
      local endpoint = self.endpoints[sock]
      if endpoint then endpoint:on_readable() end
    end
  end
  self:run_due_timers()
end

function Server:close()
  for _, endpoint in pairs(self.endpoints) do
    if endpoint.finish then endpoint:finish(nil, nil, "server closed") else endpoint:close() end
  end
  self.listener:close()
end

return http
