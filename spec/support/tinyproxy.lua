-- Runs Debian's tinyproxy for the specs: an HTTP proxy with CONNECT on a free
-- loopback port, with a generated configuration, started and stopped by its
-- process id.
local socket = require "socket"
local addresses = require "support.addresses"
local shell = require "support.shell"

local tinyproxy = {}

function tinyproxy.available()
  return shell.run("command -v tinyproxy")
end

local read_file = require("support.files").read_so_far

--- Starts a proxy that lets CONNECT reach `connect_ports` only; with
-- `credentials` ("user:password") it asks for them (Proxy-Authorization Basic).
-- Returns a handle with `port`, `url` (credentials not in it), `log()` and `stop()`.
function tinyproxy.start(options)
  local dir = assert(io.popen("mktemp -d /tmp/sinchnumbers-proxy.XXXXXX")):read("*l")
  local port = addresses.free_port()
  local lines = {
    "Port " .. port, "Listen 127.0.0.1", "Timeout 30", "LogLevel Info",
    ('LogFile "%s/proxy.log"'):format(dir), "MaxClients 20", "Allow 127.0.0.1", "DisableViaHeader Yes",
  }
  for _, connect_port in ipairs(options.connect_ports) do lines[#lines + 1] = "ConnectPort " .. connect_port end
  if options.credentials then
    lines[#lines + 1] = "BasicAuth " .. options.credentials:gsub(":", " ", 1)
  end
  local config = assert(io.open(dir .. "/proxy.conf", "w"))
  config:write(table.concat(lines, "\n"), "\n")
  config:close()
  -- -d keeps it in the foreground, a process of its own whose id we hold.
  local pid = assert(io.popen(("tinyproxy -d -c %s/proxy.conf >%s/stderr.log 2>&1 & echo $!")
    :format(dir, dir))):read("*l")
  local handle = { port = port, url = "http://127.0.0.1:" .. port, dir = dir }
  local deadline = socket.gettime() + 5
  repeat
    local client = socket.tcp()
    client:settimeout(0.2)
    local ok = client:connect("127.0.0.1", port)
    client:close()
    if ok then break end
    socket.sleep(0.02)
  until socket.gettime() > deadline

  function handle.log() return read_file(dir .. "/proxy.log") .. read_file(dir .. "/stderr.log") end

  function handle.stop()
    os.execute("kill " .. pid .. " 2>/dev/null")
    os.execute("rm -rf " .. shell.quote(dir))
  end

  return handle
end

return tinyproxy
