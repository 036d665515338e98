-- make examples: skip (a server; spec/webhook_example_spec.lua runs it)
-- A receiver for Sinch number events (webhooks), in plain Lua with luasocket.
--
--   SINCH_HMAC_SECRET=... lua5.4 examples/webhook_server.lua [port [host]]
--
-- (in a checkout, with its modules on the paths: LUA_PATH='lua/?.lua;lua/?/init.lua;;'
-- LUA_CPATH='build/5.4/?.so;;').
-- Listens on host (default 127.0.0.1) and port (default 0: a free one) and
-- prints "listening on http://host:port/"; give Sinch that URL (behind your
-- TLS proxy) as a number's callbackUrl, and the same secret as the project's
-- hmacSecret (client:update_callback_configuration{ hmacSecret = ... }).
--
-- Each POST is checked first: X-Sinch-Signature must be the HMAC-SHA1 of the
-- raw body keyed with the secret (sinchnumbers.verify_request), else 401.
-- Then the body is read as an event (sinchnumbers.parse_event), else 400;
-- the event is printed and the answer is 200 with {"received":"<eventId>"}.
-- Answer fast: Sinch waits for the 2xx; slow work belongs in a queue.
--
-- One connection at a time and HTTP/1.1 without keep-alive: an example of
-- what to check, not a production server (see examples/openresty/webhook.lua).
--
-- Against the bundled fake: rent a number with callbackUrl set to this URL,
-- set the same hmacSecret, then POST /_fake/events {"phoneNumber": ...} to
-- the fake (fake.spawn's h:send_event{ phoneNumber = ... }).
local socket = require "socket"
local cjson = require "cjson"
local sinchnumbers = require "sinchnumbers"

local MAX_BODY = 64 * 1024        -- an event is a few hundred bytes
local MAX_HEADERS = 100
local CLIENT_TIMEOUT = 5          -- seconds for a sender to deliver its request

local secret = os.getenv("SINCH_HMAC_SECRET")
if not secret or secret == "" then
  io.stderr:write("set SINCH_HMAC_SECRET to the project's callback hmacSecret\n")
  os.exit(2)
end

local REASONS = {
  [200] = "OK", [400] = "Bad Request", [401] = "Unauthorized", [404] = "Not Found",
  [405] = "Method Not Allowed", [411] = "Length Required", [413] = "Content Too Large",
}

local function respond(client, status, body)
  client:send(("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
    .. "Connection: close\r\n\r\n%s"):format(status, REASONS[status], #body, body))
end

local function json_error(message)
  return cjson.encode { error = message }
end

-- Reads one request: method, path, headers (a name sent twice becomes a list,
-- which verify_request refuses), raw body. Or nil, status, message.
local function read_request(client)
  local line, err = client:receive("*l")
  if not line then return nil, nil, err end
  local method, path = line:match("^(%u+) (%S+) HTTP/1%.%d$")
  if not method then return nil, 400, "not an HTTP request line" end
  local headers, count = {}, 0
  while true do
    line, err = client:receive("*l")
    if not line then return nil, nil, err end
    if line == "" then break end
    count = count + 1
    local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
    if not name or count > MAX_HEADERS then return nil, 400, "bad or too many headers" end
    name = name:lower()
    local earlier = headers[name]
    if earlier == nil then
      headers[name] = value
    elseif type(earlier) == "table" then
      earlier[#earlier + 1] = value
    else
      headers[name] = { earlier, value }
    end
  end
  if headers["transfer-encoding"] then return nil, 411, "send a Content-Length" end
  local length = tonumber(type(headers["content-length"]) == "string" and headers["content-length"]:match("^%d+$"))
  if method == "POST" and not length then return nil, 411, "send a Content-Length" end
  if (length or 0) > MAX_BODY then return nil, 413, "the body is larger than an event can be" end
  local body = ""
  if length and length > 0 then
    body, err = client:receive(length)
    if not body then return nil, nil, err end
  end
  return { method = method, path = path, headers = headers, body = body }
end

local function handle(request)
  if request.method ~= "POST" then return 405, json_error("POST events here") end
  -- The signature is checked against the body exactly as it arrived, first.
  local ok, err = sinchnumbers.verify_request(request.headers, request.body, secret)
  if not ok then
    print("refused: " .. err.message)
    return 401, json_error("bad signature")
  end
  local event
  event, err = sinchnumbers.parse_event(request.body)
  if not event then
    print("refused: " .. err.message)
    return 400, json_error("not an event")
  end
  print(("event %s: %s %s for %s at %s%s"):format(tostring(event.eventId), tostring(event.eventType),
    tostring(event.status), tostring(event.resourceId),
    event.unix_time and os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(event.unix_time)) or "?",
    type(event.failureCode) == "string" and " (" .. event.failureCode .. ")" or ""))
  return 200, cjson.encode { received = event.eventId }
end

local port, host = tonumber(arg[1] or "0"), arg[2] or "127.0.0.1"
local server = assert(socket.bind(host, port))
local _, bound_port = server:getsockname()
-- Line-buffered, so whoever reads our output sees each event as it comes.
io.stdout:setvbuf("line")
print(("listening on http://%s:%d/"):format(host, bound_port))

while true do
  local client = server:accept()
  if client then
    client:settimeout(CLIENT_TIMEOUT)
    local request, status, message = read_request(client)
    if request then
      respond(client, handle(request))
    elseif status then
      respond(client, status, json_error(message))
    end
    client:close()
  end
end
