--- HTTP/1.1 over OpenResty's cosockets (`ngx.socket.tcp`), for use inside nginx:
-- while a request waits for Sinch, the worker serves its other requests,
-- where the libcurl transport would stop the whole worker.
--
-- It keeps the rules of `sinchnumbers.transport.contract`, as the libcurl
-- transport (`sinchnumbers.transport.curl`) does.
-- lua-resty-http is the model: connections go back to nginx's keepalive pool
-- (one per scheme, host and port) when a response was read to its end, TLS
-- certificates are verified against `lua_ssl_trusted_certificate`, and connect,
-- send and read have their own timeouts. On top of those, `timeout` bounds
-- the whole request: every socket operation gets at most the time left.
--
-- Hostnames are resolved by nginx, so nginx.conf needs a `resolver` for
-- them; see doc/openresty.md.
-- @module sinchnumbers.transport.ngx
-- @usage
-- local t = assert(require("sinchnumbers.transport.ngx").new{ timeout = 30, pool_size = 30 })
-- local client = sinchnumbers.new{ project_id = ..., key_id = ..., key_secret = ..., transport = t }
-- -- t:request(method, url, headers, body, opts) -> status, headers, body
-- --                                              | nil, { kind, message, sent }

local contract = require "sinchnumbers.transport.contract"
local errors = require "sinchnumbers.errors"

local find, sub, lower, byte = string.find, string.sub, string.lower, string.byte
local concat = table.concat
local min = math.min
local tonumber, type, pairs, setmetatable = tonumber, type, pairs, setmetatable

local _M = {}

-- This transport's own options, beside the contract's.
local OWN_DEFAULTS = {
  pool_size = 30,          -- nginx's own default (lua_socket_pool_size)
  -- Below the idle timeouts of common load balancers (60 s on AWS, 75 s in
  -- nginx), so that we close an idle connection before the server does.
  keepalive_timeout = 30,
  ssl_verify = true,
}
local OWN_FIELDS = {
  contract.seconds_field("send_timeout"),
  contract.seconds_field("read_timeout"),
  contract.seconds_field("keepalive_timeout"),
  { name = "pool_size", type = "integer", min = 1, max = 1e6, expect = "a whole number above 0" },
  { name = "ssl_verify", type = "boolean" },
}
-- ca_file, client_cert and client_key are refused, naming the nginx.conf directive to use.
for _, field in ipairs(contract.TLS_DIRECTIVE_FIELDS) do OWN_FIELDS[#OWN_FIELDS + 1] = field end
local OPTIONS = contract.options(OWN_FIELDS)
-- The status line and headers of one response may not exceed this.
local MAX_HEADER_BYTES = contract.MAX_HEADER_BYTES
-- The most bytes asked of the socket at once.
local READ_SIZE = 65536

-- Phases in which ngx_lua lets a request open a cosocket.
local COSOCKET_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true,
  timer = true, ssl_cert = true, ssl_session_fetch = true,
  ssl_client_hello = true, preread = true,
}

local FRAMING_HEADERS = contract.FRAMING_HEADERS

-- Methods that may be sent again on a fresh connection when a pooled one
-- turns out to be dead: they change nothing on the server (so may a
-- request the caller says is idempotent: the contract's "Sending again").
local SAFE_METHODS = { GET = true, HEAD = true }

--- True when running inside nginx in a phase where cosockets work:
-- rewrite, server_rewrite, access, content, timer, ssl_cert,
-- ssl_session_fetch, ssl_client_hello, preread (not init_by_lua,
-- init_worker_by_lua, set_by_lua, the filters or log).
-- @treturn boolean
function _M.usable()
  return type(ngx) == "table" and type(ngx.get_phase) == "function"
    and COSOCKET_PHASES[ngx.get_phase()] == true
end

--- True when running inside nginx with its Lua module, in any phase: where
-- `new` can make a transport (to be used in a phase where `usable` is true).
-- @treturn boolean
function _M.inside_nginx()
  return type(ngx) == "table" and type(ngx.socket) == "table" and type(ngx.get_phase) == "function"
end

local Transport = {}
Transport.__index = Transport
Transport.__tostring = function(self)
  return self.closed and "sinchnumbers.transport (cosocket, closed)" or "sinchnumbers.transport (cosocket)"
end

local function failure(kind, message, sent)
  return { kind = kind, message = message, sent = sent }
end

--- Makes a transport. Options (all optional): the contract's (timeout,
-- connect_timeout, max_body_size, success_headers, user_agent) and
-- send_timeout, read_timeout, keepalive_timeout (seconds, fractions
-- allowed), pool_size (connections kept per host), ssl_verify (default true).
-- @tparam[opt] table options
-- @tparam[opt=30] number options.timeout seconds for the whole request (connect, send, every read)
-- @tparam[opt=10] number options.connect_timeout seconds to connect, TLS handshake included
-- @tparam[opt] number options.send_timeout longest a send may stall (default: `timeout`)
-- @tparam[opt] number options.read_timeout longest wait for the next bytes (default: `timeout`)
-- @tparam[opt=30] number options.keepalive_timeout seconds an idle connection is kept in the pool
-- @tparam[opt=8388608] int options.max_body_size bytes; a larger answer is a `too_large` error
-- @tparam[opt=30] int options.pool_size idle connections kept per scheme, host and port, per worker
-- @tparam[opt=true] boolean options.ssl_verify verify the server's certificate
-- @tparam[opt=true] boolean options.success_headers false: a 2xx answer gets an empty header table
-- @tparam[opt] string|boolean options.proxy `"http://[user:password@]host:port"`, or
-- false for none; not given, the environment's `https_proxy` (or `HTTPS_PROXY`)
-- and `http_proxy`, read here once (nginx.conf needs an `env` line for each).
-- HTTPS goes through a CONNECT tunnel opened here, http requests to the proxy
-- with the absolute URL; connections through a proxy are pooled apart
-- @tparam[opt] string options.no_proxy hosts reached directly, comma-separated
-- (not given: the environment's `no_proxy` or `NO_PROXY`)
-- @tparam[opt] string options.user_agent default `contract.USER_AGENT`
-- @treturn[1] Transport
-- @treturn[2] nil
-- @treturn[2] table an `invalid_argument` error: a bad option, `ca_file` (use
-- `lua_ssl_trusted_certificate`), `client_cert` or `client_key` (use
-- `lua_ssl_certificate` and `lua_ssl_certificate_key`), or outside nginx
function _M.new(options)
  if not _M.inside_nginx() then
    return nil, errors.invalid_argument("the cosocket transport runs only inside nginx with the Lua module (OpenResty)")
  end
  local settings, err = contract.settings("sinchnumbers.transport.ngx.new", OPTIONS, options, OWN_DEFAULTS)
  if not settings then return nil, err end
  -- Without their own values, sending and reading are bounded by the whole-request timeout only.
  settings.send_timeout = settings.send_timeout or settings.timeout
  settings.read_timeout = settings.read_timeout or settings.timeout
  -- Read once: nginx passes a variable to its workers only with an `env` line.
  local proxies, problem = contract.proxies(settings, os.getenv)
  if not proxies then
    problem.message = "sinchnumbers.transport.ngx.new: " .. problem.message
    return nil, problem
  end
  for _, proxy in pairs { proxies.http, proxies.https } do
    if proxy and proxy.credentials then
      proxy.authorization = "Basic " .. ngx.encode_base64(proxy.credentials)
      proxy.credentials = nil
    end
  end
  settings.proxies = proxies
  settings.closed = false
  return setmetatable(settings, Transport)
end

-- Seconds since the epoch, read fresh: ngx.now() alone is the time the
-- event loop last looked, which may lag behind.
local function now()
  ngx.update_time()
  return ngx.now()
end

--- URL parsing ---------------------------------------------------------------

local DEFAULT_PORTS = { http = 80, https = 443 }

-- Returns scheme, host, port, target ("/path?query"), host header, or nil,
-- message. An IPv6 host keeps its brackets, as nginx's connect() wants it.
local function parse_url(url)
  local scheme, authority, target = url:match("^(%a[%w+.-]*)://([^/?#]*)([^#]*)")
  if not scheme then return nil, "not an absolute http(s) URL: " .. url end
  scheme = lower(scheme)
  if not DEFAULT_PORTS[scheme] then return nil, "unsupported URL scheme " .. scheme end
  if find(authority, "@", 1, true) then return nil, "credentials in the URL are not supported" end
  local host, port = authority:match("^(%[[%x:.]+%]):?(%d*)$") -- [IPv6]:port
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host or host == "" then return nil, "no host in the URL " .. url end
  port = port ~= "" and tonumber(port) or DEFAULT_PORTS[scheme]
  if port < 1 or port > 65535 then return nil, "bad port in the URL " .. url end
  if target == "" then target = "/" elseif byte(target) == 63 then target = "/" .. target end -- "?..."
  return scheme, host, port, target, authority
end

--- The request -------------------------------------------------------------

-- The request head as an array of strings for one sock:send (headers
-- checked already by contract.check_request).
local function request_head(self, method, host_header, target, headers, body, proxy)
  local head = { method, " ", target, " HTTP/1.1\r\n" }
  if proxy and proxy.authorization then head[#head + 1] = "Proxy-Authorization: " .. proxy.authorization .. "\r\n" end
  local has = {}
  for name, value in pairs(headers or {}) do
    local key = lower(name)
    if not FRAMING_HEADERS[key] then
      has[key] = true
      head[#head + 1] = name
      head[#head + 1] = ": "
      head[#head + 1] = value
      head[#head + 1] = "\r\n"
    end
  end
  if not has.host then head[#head + 1] = "Host: " .. host_header .. "\r\n" end
  if not has["user-agent"] then head[#head + 1] = "User-Agent: " .. self.user_agent .. "\r\n" end
  local length = contract.content_length(method, body)
  if length then head[#head + 1] = "Content-Length: " .. length .. "\r\n" end
  head[#head + 1] = "\r\n"
  if body and body ~= "" then head[#head + 1] = body end
  return head
end

-- Gives every socket operation the shorter of its own timeout and the time
-- left. Returns that wait in seconds, or nil when no time is left.
local function limit_next_operation(sock, own_timeout, deadline)
  local left = deadline - now()
  if left <= 0 then return nil end
  local wait = min(own_timeout, left)
  sock:settimeout(wait * 1000 < 1 and 1 or wait * 1000)
  return wait
end

--- Reading the response ------------------------------------------------------
--
-- Everything is read with receiveany() through one small buffer, so that no
-- single socket operation can outlast the time left for the whole request:
-- receive("*l") or receive(n) would rearm their timer whenever a byte came in.

local Reader = {}
Reader.__index = Reader

-- `pending` holds what was received and not yet consumed, from `position` on.
local function new_reader(sock, deadline, read_timeout)
  return setmetatable({ sock = sock, deadline = deadline, read_timeout = read_timeout,
                        pending = "", position = 1, received = 0 }, Reader)
end

function Reader:buffered()
  return #self.pending - self.position + 1
end

-- Reads at most `size` more bytes into the buffer; nil, error on failure.
-- Errors are "read_timeout" (no data within the read timeout), "deadline"
-- (the whole request ran out of time) or the socket's own ("closed", ...).
function Reader:fill(size)
  local wait = limit_next_operation(self.sock, self.read_timeout, self.deadline)
  if not wait then return nil, "deadline" end
  local data, err = self.sock:receiveany(size)
  if not data then
    if err == "timeout" then err = wait < self.read_timeout and "deadline" or "read_timeout" end
    return nil, err
  end
  self.received = self.received + #data
  self.pending = self:buffered() > 0 and sub(self.pending, self.position) .. data or data
  self.position = 1
  return true
end

local function without_cr(line)
  if byte(line, -1) == 13 then return sub(line, 1, -2) end
  return line
end

-- One line without its CRLF; `limit` caps the bytes waited for.
function Reader:line(limit)
  local eol = find(self.pending, "\n", self.position, true)
  if eol then
    local line = sub(self.pending, self.position, eol - 1)
    self.position = eol + 1
    return without_cr(line)
  end
  -- A line that spans reads is gathered in pieces and joined once: adding
  -- each read to the buffer would copy it anew every time, quadratic in
  -- its length when a server trickles it a byte at a time.
  local pieces, size = { sub(self.pending, self.position) }, self:buffered()
  self.pending, self.position = "", 1
  while true do
    if size > limit then return nil, "too_large" end
    local ok, err = self:fill(READ_SIZE)
    if not ok then return nil, err end
    eol = find(self.pending, "\n", 1, true)
    if eol then
      pieces[#pieces + 1] = sub(self.pending, 1, eol - 1)
      self.position = eol + 1
      return without_cr(concat(pieces))
    end
    pieces[#pieces + 1] = self.pending
    size = size + #self.pending
    self.pending = ""
  end
end

-- Exactly `size` bytes, appended to the array `into`.
function Reader:bytes(size, into)
  while size > 0 do
    if self:buffered() == 0 then
      local ok, err = self:fill(min(size, READ_SIZE))
      if not ok then return nil, err end
    end
    local take = min(size, self:buffered())
    into[#into + 1] = sub(self.pending, self.position, self.position + take - 1)
    self.position = self.position + take
    size = size - take
  end
  return true
end

-- Everything until the server closes, at most `cap` bytes.
function Reader:rest(cap, into)
  local total = 0
  while true do
    local available = self:buffered()
    if available > 0 then
      total = total + available
      if total > cap then return nil, "too_large" end
      into[#into + 1] = sub(self.pending, self.position)
      self.position = #self.pending + 1
    end
    local ok, err = self:fill(READ_SIZE)
    if not ok then
      if err == "closed" then return true end
      return nil, err
    end
  end
end

-- The stages below each take what the one before gave: a line is parsed by
-- a pure function, read by one that knows only the Reader. Every malformed
-- answer comes back as nil and a reason; none raises, and each loop ends
-- within a bounded number of reads (each read gives at least one byte, and
-- every line, chunk and body has its cap).

-- `text` without white space at either end, in linear time: the pattern
-- "^%s*(.-)%s*$" takes quadratic time on a long run of inner spaces.
local function trimmed(text)
  local first = find(text, "%S")
  if not first then return "" end
  return text:match("^.*%S", first)
end

-- "HTTP/1.1 200 OK" -> 200, 1 (the minor version); or nil.
local function parse_status_line(line)
  local minor, status = line:match("^HTTP/1%.([01]) (%d%d%d)")
  if not status then return nil end
  return tonumber(status), tonumber(minor)
end

-- "Name: value" -> "name", "value" (trimmed); or nil.
local function parse_header_line(line)
  local name, value = line:match("^([^:%s]+):(.*)$")
  if not name then return nil end
  return lower(name), trimmed(value)
end

-- The longest chunk-size we read: 8 hex digits pass any body cap (1 GiB)
-- already, and more would not fit a Lua 5.3 integer.
local MAX_CHUNK_DIGITS = 8

-- "1a2b;ext=1" -> 6699; nil, "too_large" past 8 significant hex digits;
-- nil, "bad chunk size line" for anything but hex digits and extensions.
local function parse_chunk_size(line)
  local digits, rest = line:match("^%s*(%x+)(.*)$")
  if not digits or not (find(rest, "^%s*$") or find(rest, "^%s*;")) then
    return nil, "bad chunk size line"
  end
  digits = digits:match("^0*(.*)$")
  if #digits > MAX_CHUNK_DIGITS then return nil, "too_large" end
  return tonumber(digits, 16) or 0
end

-- Returns status, http minor version, headers (lower-case names, repeats
-- joined by ", "), or nil, error.
local function read_head(reader)
  local head_bytes = 0
  local function next_line()
    local line, err = reader:line(MAX_HEADER_BYTES - head_bytes)
    if err == "too_large" then return nil, "headers_too_large" end
    if not line then return nil, err end
    head_bytes = head_bytes + #line + 2
    if head_bytes > MAX_HEADER_BYTES then return nil, "headers_too_large" end
    return line
  end

  while true do
    local line, err = next_line()
    if not line then return nil, err end
    local status, minor = parse_status_line(line)
    if not status then return nil, "bad status line" end
    local headers, last_name = {}, nil
    while true do
      line, err = next_line()
      if not line then return nil, err end
      if line == "" then break end
      local first = byte(line)
      if (first == 32 or first == 9) and last_name then -- an obsolete folded continuation
        headers[last_name] = headers[last_name] .. " " .. trimmed(line)
      else
        local name, value = parse_header_line(line)
        if not name then return nil, "bad header line" end
        local previous = headers[name]
        headers[name] = previous and previous .. ", " .. value or value
        last_name = name
      end
    end
    -- 1xx answers (103 Early Hints, a stray 100 Continue) precede the real one.
    if status >= 200 or status == 101 then return status, minor, headers end
  end
end

local function has_token(value, token)
  if not value then return false end
  for item in lower(value):gmatch("[^,%s]+") do
    if item == token then return true end
  end
  return false
end

-- Reads a chunked body into `into`; true, or nil, error.
local function read_chunked(reader, cap, into)
  local total = 0
  while true do
    local line, err = reader:line(1024)
    if not line then return nil, err end
    local size
    size, err = parse_chunk_size(line)
    if not size then return nil, err end
    if size == 0 then break end
    total = total + size
    if total > cap then return nil, "too_large" end
    local ok
    ok, err = reader:bytes(size, into)
    if not ok then return nil, err end
    line, err = reader:line(2)
    if not line then return nil, err end
    if line ~= "" then return nil, "bad chunk end" end
  end
  -- Trailer fields, if any, end with an empty line; none of them are kept.
  local head_bytes = 0
  while true do
    local line, err = reader:line(MAX_HEADER_BYTES - head_bytes)
    if not line then return nil, err end
    if line == "" then return true end
    head_bytes = head_bytes + #line + 2
  end
end

-- Reads the body as the head frames it. Returns the body and whether the
-- connection may carry another request, or nil, error.
local function read_body(reader, method, status, minor, headers, cap)
  local keepalive
  if minor == 1 then
    keepalive = not has_token(headers.connection, "close")
  else
    keepalive = has_token(headers.connection, "keep-alive")
  end
  if method == "HEAD" or status == 204 or status == 304 or status == 101 then
    return "", keepalive and status ~= 101
  end
  local pieces, ok, err = {}
  local length = headers["content-length"]
  if headers["transfer-encoding"] then
    if not has_token(headers["transfer-encoding"], "chunked") then
      return nil, "unsupported transfer-encoding " .. headers["transfer-encoding"]
    end
    ok, err = read_chunked(reader, cap, pieces)
  elseif length then
    local size = length:match("^%d+$") and tonumber(length)
    if not size then return nil, "bad content-length " .. length end
    if size > cap then return nil, "too_large" end
    ok, err = reader:bytes(size, pieces)
  else
    ok, err = reader:rest(cap, pieces)
    keepalive = false
  end
  if not ok then return nil, err end
  -- Bytes beyond the response mean the two sides disagree about framing.
  return concat(pieces), keepalive and reader:buffered() == 0
end

-- The whole answer: status, headers, body and whether the connection may
-- carry another request; or nil, reason.
local function read_response(reader, method, cap)
  local status, minor, headers = read_head(reader)
  if not status then return nil, minor end
  local body, keepalive = read_body(reader, method, status, minor, headers, cap)
  if not body then return nil, keepalive end
  return status, headers, body, keepalive
end

--- One attempt on one connection ----------------------------------------------

-- Opens a tunnel to host:port through the proxy on sock (HTTP CONNECT).
-- Returns true, or nil and the error (nothing of the request was sent).
local function open_tunnel(sock, proxy, where, deadline, connect_timeout)
  local head = { "CONNECT ", where, " HTTP/1.1\r\nHost: ", where, "\r\n" }
  if proxy.authorization then head[#head + 1] = "Proxy-Authorization: " .. proxy.authorization .. "\r\n" end
  head[#head + 1] = "\r\n"
  local ok, err
  if limit_next_operation(sock, connect_timeout, deadline) then ok, err = sock:send(head) else err = "timeout" end
  local status, reader
  if ok then
    reader = new_reader(sock, deadline, connect_timeout)
    status, err = read_head(reader)
  end
  if status == 200 and reader:buffered() == 0 then return true end
  sock:close()
  local refusal = ("the proxy %s did not open a tunnel to %s"):format(proxy.label, where)
  if err == "timeout" or err == "deadline" or err == "read_timeout" then
    return nil, failure("timeout", refusal .. " in time", false)
  end
  local why = status and ("it answered " .. status) or tostring(err)
  -- 407 is Proxy Authentication Required; some proxies (tinyproxy) say 401.
  if status == 407 or status == 401 then why = why .. " (check the proxy's credentials)" end
  return nil, failure("network", refusal .. ": " .. why, false)
end

local function connect(self, scheme, host, port, proxy, deadline, connect_timeout)
  local sock = ngx.socket.tcp()
  local where = host .. ":" .. port
  local wait = limit_next_operation(sock, connect_timeout, deadline)
  if not wait then return nil, failure("timeout", "no time left to connect to " .. where, false) end
  -- TLS connections are pooled apart by whether their certificate was
  -- checked, so a lax transport never lends one to a strict one; and
  -- connections through a proxy apart from direct ones (by the proxy, and
  -- its credentials, so that they are never lent to another user of it).
  local pool = "sinchnumbers:" .. scheme .. "://" .. where
    .. (scheme == "https" and (self.ssl_verify and ":verified" or ":unverified") or "")
  local peer_host, peer_port, peer = host, port, where
  if proxy then
    pool = pool .. ":via:" .. proxy.label .. ":" .. ngx.md5(proxy.authorization or "")
    peer_host, peer_port, peer = proxy.host, proxy.port, "the proxy " .. proxy.label
  end
  local ok, err = sock:connect(peer_host, peer_port, { pool = pool, pool_size = self.pool_size })
  if not ok then
    if err == "timeout" then
      return nil, failure("timeout", ("connecting to %s took longer than %g s"):format(peer, wait), false)
    end
    if find(err, "resolve", 1, true) then err = err .. " (nginx needs a `resolver` for hostnames)" end
    return nil, failure("network", ("could not connect to %s: %s"):format(peer, err), false)
  end
  if proxy and scheme == "https" and sock:getreusedtimes() == 0 then
    ok, err = open_tunnel(sock, proxy, where, deadline, connect_timeout)
    if not ok then return nil, err end
  end
  if scheme == "https" and sock:getreusedtimes() == 0 then
    wait = limit_next_operation(sock, connect_timeout, deadline)
    if wait then
      ok, err = sock:sslhandshake(false, host, self.ssl_verify)
    else
      ok, err = nil, "timeout"
    end
    if not ok then
      sock:close()
      if err == "timeout" then
        local message = ("the TLS handshake with %s took longer than %g s"):format(where, wait or 0)
        return nil, failure("timeout", message, false)
      end
      return nil, failure("network", ("TLS handshake with %s failed: %s"):format(where, err), false)
    end
  end
  return sock
end

-- The error for a failed send or read. Besides the socket's own reasons,
-- "deadline" (the whole request ran out of time), "read_timeout",
-- "send_timeout", "too_large" (the body) and "headers_too_large". `sent`:
-- whether the send had begun.
local function io_failure(self, reason, where, timeout, sock, sent)
  if not sent then
    return failure("timeout", ("no time left to send the request to %s within %g s"):format(where, timeout), false)
  elseif reason == "too_large" then
    return failure("too_large", ("response larger than the limit of %d bytes"):format(self.max_body_size), true)
  elseif reason == "headers_too_large" then
    return failure("too_large", ("response headers larger than the limit of %d bytes"):format(MAX_HEADER_BYTES), true)
  elseif reason == "deadline" then
    return failure("timeout", ("no complete answer from %s within %g s"):format(where, timeout), true)
  elseif reason == "read_timeout" then
    return failure("timeout", ("%s sent nothing for %g s"):format(where, self.read_timeout), true)
  elseif reason == "send_timeout" then
    return failure("timeout", ("%s took nothing for %g s"):format(where, self.send_timeout), true)
  end
  local message = ("talking to %s failed: %s"):format(where, reason)
  if sock:getreusedtimes() > 0 then
    message = message .. " (on a kept-alive connection, which the server may have closed as idle)"
  end
  return failure("network", message, true)
end

-- Sends the request on one connection and reads the answer. Returns status,
-- headers, body; or nil, err, and true when the connection was a pooled one
-- the server had already closed: nothing of an answer came back.
local function attempt(self, method, scheme, host, port, proxy, head, deadline, timeouts)
  local sock, err = connect(self, scheme, host, port, proxy, deadline, timeouts.connect_timeout)
  if not sock then return nil, err end
  local where = host .. ":" .. port

  local reason
  local wait = limit_next_operation(sock, self.send_timeout, deadline)
  local sending = wait ~= nil
  if not sending then
    reason = "deadline"
  else
    local sent
    sent, reason = sock:send(head)
    if not sent and reason == "timeout" then
      reason = wait < self.send_timeout and "deadline" or "send_timeout"
    end
  end
  local reader = new_reader(sock, deadline, self.read_timeout)
  local status, answer_headers, answer_body, keepalive
  if not reason then
    status, answer_headers, answer_body, keepalive = read_response(reader, method, self.max_body_size)
    if not status then reason = answer_headers end
  end

  if reason then
    local dead_pooled = sending and sock:getreusedtimes() > 0 and reader.received == 0
      and reason ~= "read_timeout" and reason ~= "send_timeout" and reason ~= "deadline"
    err = io_failure(self, reason, where, timeouts.timeout, sock, sending)
    sock:close()
    return nil, err, dead_pooled
  end
  if keepalive then
    sock:setkeepalive(self.keepalive_timeout * 1000, self.pool_size)
  else
    sock:close()
  end
  if not self.success_headers and status >= 200 and status < 300 then answer_headers = {} end
  return status, answer_headers, answer_body
end

--- A transport made by `new`. `tostring` says it is the cosocket one.
-- @type Transport

--- Sends one request and reads the whole answer.
-- t:request(method, url, headers, body, opts) -> status, headers, body | nil, err
-- opts may hold timeout and connect_timeout (seconds) for this request.
-- A GET or HEAD that meets a pooled connection the server had closed is
-- sent again on the next connection; any other request then fails with
-- `sent = true`. Headers or URLs with CR, LF or NUL are refused before
-- anything is sent.
-- @tparam string method upper-case letters
-- @tparam string url an `http://` or `https://` URL
-- @tparam[opt] table headers names to values
-- @tparam[opt] string body
-- @tparam[opt] table opts `timeout` and `connect_timeout` for this request only
-- @treturn[1] int status
-- @treturn[1] table headers with lower-case names
-- @treturn[1] string body
-- @treturn[2] nil
-- @treturn[2] table `{ kind, message, sent }`; `kind` is `timeout`, `network`,
-- `too_large` or `invalid_argument`
-- (also for a closed transport); see the contract
function Transport:request(method, url, headers, body, opts)
  if self.closed then return nil, contract.refused("attempt to use a closed transport") end
  local refused = contract.check_request(method, url, headers, body, opts, self)
  if refused then return nil, refused end
  local scheme, host, port, target, host_header = parse_url(url)
  if not scheme then return nil, contract.refused(host) end
  local proxy = self.proxies[scheme]
  if proxy and contract.bypasses(self.proxies.no_proxy, host) then proxy = false end
  local head
  if proxy and scheme == "http" then
    -- A plain request goes to the proxy whole: the absolute URL in its request line.
    head = request_head(self, method, host_header, "http://" .. host_header .. target, headers, body, proxy)
  else
    head = request_head(self, method, host_header, target, headers, body)
  end

  local timeouts = {
    timeout = opts and opts.timeout or self.timeout,
    connect_timeout = opts and opts.connect_timeout or self.connect_timeout,
  }
  local deadline = now() + timeouts.timeout
  while true do
    local status, answer_headers, answer_body = attempt(self, method, scheme, host, port, proxy, head, deadline,
      timeouts)
    if status then return status, answer_headers, answer_body end
    -- A pooled connection the server had closed took the request but gave
    -- nothing back. A GET or HEAD, or a request the caller says is
    -- idempotent, goes out again on the next connection: the pool hands out
    -- its other idle ones, each found dead is closed, and a fresh connection
    -- ends the loop. Anything else might have been acted on, so the
    -- caller's policy decides (err.sent is true).
    local err, dead_pooled = answer_headers, answer_body
    if not (dead_pooled and (SAFE_METHODS[method] or opts and opts.idempotent)) then return nil, err end
  end
end

--- Connections live in nginx's per-worker pool, not in the transport, so
-- closing only stops further use. Safe to call twice.
function Transport:close()
  self.closed = true
end

-- The reader's stages, for the specs and the fuzzer (fuzz/cosocket_reader.lua),
-- which drive them over a socket of their own; not an API.
_M._reader = {
  new = new_reader,
  read_response = read_response,
  read_head = read_head,
  read_body = read_body,
  read_chunked = read_chunked,
  parse_status_line = parse_status_line,
  parse_header_line = parse_header_line,
  parse_chunk_size = parse_chunk_size,
  MAX_HEADER_BYTES = MAX_HEADER_BYTES,
}

return _M
