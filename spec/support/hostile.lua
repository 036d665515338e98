-- A hostile HTTP server on loopback for the specs: it answers with raw bytes
-- (garbled status lines, HTTP/0.9, oversized headers, bytes after the body),
-- in a process of its own, since the client under test blocks in libcurl.
--
--   local server = hostile.start{ { path = ":rent", answer = "HTTP/1.1 000 Zero\r\n\r\n" } }
--   server.url, server:requests() (a list of "METHOD TARGET"), server:stop()
--
-- support/hostile_server.lua has the rules' fields.
local socket = require "socket"
local shell = require "support.shell"
local files = require "support.files"

local hostile = {}

local STARTUP_TIMEOUT = 5

-- The rules as a Lua chunk: only strings and booleans in flat tables.
local function serialize(rules)
  local out = { "return {\n" }
  for _, rule in ipairs(rules) do
    out[#out + 1] = "  {"
    for name, value in pairs(rule) do
      out[#out + 1] = (" %s = %s,"):format(name, type(value) == "string" and ("%q"):format(value) or tostring(value))
    end
    out[#out + 1] = " },\n"
  end
  out[#out + 1] = "}\n"
  return table.concat(out)
end

local Server = {}
Server.__index = Server

function Server:requests()
  local list = {}
  for line in files.read_so_far(self.log_path):gmatch("[^\n]+") do list[#list + 1] = line end
  return list
end

-- Safe twice. The process is ended by its id, and only it.
function Server:stop()
  if self.stopped then return end
  self.stopped = true
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  for _, path in ipairs { self.rules_path, self.log_path, self.output_path } do os.remove(path) end
end

function hostile.start(rules)
  local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
  local server = setmetatable({
    rules_path = os.tmpname(), log_path = os.tmpname(), output_path = os.tmpname(),
  }, Server)
  files.write(server.rules_path, serialize(rules))
  local command = ("%s %shostile_server.lua %s %s </dev/null >%s 2>&1 & echo $!"):format(
    shell.interpreter(), here, server.rules_path, server.log_path, server.output_path)
  local pipe = assert(io.popen(command))
  server.pid = assert(tonumber(pipe:read("*a"):match("%d+")), "the hostile server did not start")
  pipe:close()
  local give_up_at = socket.gettime() + STARTUP_TIMEOUT
  repeat
    server.url = files.read_so_far(server.output_path):match("^(http://[^\n]+)\n")
    if server.url then return server end
    socket.sleep(0.02)
  until socket.gettime() > give_up_at
  local output = files.read_so_far(server.output_path)
  server:stop()
  error("the hostile server did not start: " .. output)
end

return hostile
