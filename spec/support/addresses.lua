-- Loopback addresses that misbehave on purpose, for the specs' network faults.
local socket = require "socket"

local addresses = {}

--- A port nothing listens on right now: connecting is refused at once.
function addresses.free_port()
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  server:close()
  return tonumber(port)
end

function addresses.refused_url()
  return "http://127.0.0.1:" .. addresses.free_port()
end

--- A URL where connecting hangs, as it does to a dead host: a listener with
-- a full backlog that never accepts, so the kernel drops further SYNs.
-- Returns the URL and a function that closes it all.
function addresses.unaccepting_url()
  local listener = assert(socket.bind("127.0.0.1", 0, 0))
  local _, port = listener:getsockname()
  local fillers = {}
  for i = 1, 4 do
    fillers[i] = socket.tcp()
    fillers[i]:settimeout(0.2)
    fillers[i]:connect("127.0.0.1", port)
  end
  return "http://127.0.0.1:" .. port, function()
    for _, filler in ipairs(fillers) do filler:close() end
    listener:close()
  end
end

return addresses
