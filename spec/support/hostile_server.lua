-- The process behind support/hostile.lua: an HTTP server on loopback that
-- answers with whatever raw bytes its rules say, framing errors included.
-- Run as: lua hostile_server.lua RULES_FILE LOG_FILE
-- It prints its URL on the first line of stdout, then serves until killed.
--
-- RULES_FILE is a Lua chunk returning a list of rules, the first match wins:
--   { method = "POST", path = ":rent",     -- both optional; path is a substring
--     answer = "HTTP/1.1 200 OK\r\n...",   -- raw bytes, sent as they are
--     later = "...",                       -- optional: sent 50 ms after `answer`
--     echo = "HTTP/1.1 500 Oops",          -- instead of `answer`: this status line, and
--                                          -- the request's head as a text/plain body
--     connection_number = true,            -- instead of `answer`: a 200 whose body is the
--                                          -- connection's number (1 for the first accepted)
--     close = true }                       -- optional: close after answering
-- A request no rule matches gets a 404. LOG_FILE gets "METHOD TARGET" per request.
local socket = require "socket"

local rules = dofile(arg[1])
local log = assert(io.open(arg[2], "a"))
log:setvbuf("line")

local listener = assert(socket.bind("127.0.0.1", 0))
local _, port = listener:getsockname()
io.stdout:write("http://127.0.0.1:", port, "\n")
io.stdout:flush()

local NOT_FOUND = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

local function rule_for(method, target)
  for _, rule in ipairs(rules) do
    if (not rule.method or rule.method == method) and (not rule.path or target:find(rule.path, 1, true)) then
      return rule
    end
  end
  return { answer = NOT_FOUND }
end

-- Reads one request (head and Content-Length body) and answers it.
-- Returns false when the connection is to be closed.
local numbers, accepted = {}, 0 -- connection -> its number

local function serve_one(connection)
  local request_line = connection:receive("*l")
  if not request_line then return false end
  local method, target = request_line:match("^(%u+) (%S+)")
  local length, head = 0, { request_line }
  while true do
    local line = connection:receive("*l")
    if not line then return false end
    if line == "" then break end
    head[#head + 1] = line
    local value = line:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if value then length = tonumber(value) end
  end
  if length > 0 and not connection:receive(length) then return false end
  log:write(tostring(method), " ", tostring(target), "\n")
  local rule = rule_for(method, target or "")
  if rule.echo then
    local text = table.concat(head, "\r\n")
    connection:send(("%s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"):format(rule.echo, #text, text))
  elseif rule.connection_number then
    local text = tostring(numbers[connection])
    connection:send(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"):format(#text, text))
  else
    connection:send(rule.answer)
  end
  if rule.later then
    socket.sleep(0.05)
    connection:send(rule.later)
  end
  return not rule.close
end

local connections = {}
while true do
  local watched = { listener }
  for i, connection in ipairs(connections) do watched[i + 1] = connection end
  local readable = socket.select(watched)
  for _, ready in ipairs(readable) do
    if ready == listener then
      local connection = listener:accept()
      if connection then
        connection:settimeout(2)
        connections[#connections + 1] = connection
        accepted = accepted + 1
        numbers[connection] = accepted
      end
    else
      if not serve_one(ready) then
        ready:close()
        for i, connection in ipairs(connections) do
          if connection == ready then table.remove(connections, i) break end
        end
      end
    end
  end
end
