-- Runs a real nginx with the Lua module for the specs: a temporary prefix,
-- loopback only, started and stopped by its process id.
local socket = require "socket"
local cjson = require "cjson"
local addresses = require "support.addresses"
local shell = require "support.shell"

local nginx = {}

local ROOT = os.getenv("PWD") or "."
local MODULES = "/usr/lib/nginx/modules"


local function write_file(path, text)
  local file = assert(io.open(path, "w"))
  file:write(text)
  file:close()
end

local function read_file(path)
  local file = io.open(path)
  if not file then return nil end
  local text = file:read("*a")
  file:close()
  return text
end

-- True while the process runs. nginx's master is a daemon, adopted by some
-- other process that may reap it only a while after it exits; a zombie has
-- exited, though kill -0 would still find it.
local function running(pid)
  local stat = read_file("/proc/" .. pid .. "/stat")
  return stat ~= nil and not stat:match("^%d+ %b() Z")
end

nginx.free_port = addresses.free_port

function nginx.available()
  return shell.run("command -v nginx") and read_file(MODULES .. "/ngx_http_lua_module.so") ~= nil
end

local function wait_for_port(port, seconds)
  local deadline = socket.gettime() + seconds
  repeat
    local client = socket.tcp()
    client:settimeout(0.2)
    local ok = client:connect("127.0.0.1", port)
    client:close()
    if ok then return true end
    socket.sleep(0.02)
  until socket.gettime() > deadline
  return false
end

local CONFIG = [[
worker_processes %d;
daemon on;
pid %s/nginx.pid;
error_log %s/error.log warn;
%s
load_module %s/ndk_http_module.so;
load_module %s/ngx_http_lua_module.so;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %s/tmp;
  proxy_temp_path %s/tmp;
  fastcgi_temp_path %s/tmp;
  uwsgi_temp_path %s/tmp;
  scgi_temp_path %s/tmp;
  lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;%s/spec/?.lua;;";
  lua_package_cpath "%s/build/luajit/?.so;;";
  %s
}
]]

--- Starts nginx with `http` as the body of its http block (use ${port},
-- ${port2}, ... and ${prefix} in it). Or, with `config`, a whole
-- configuration of the caller's, with the same placeholders (it must set
-- pid to ${prefix}/nginx.pid itself). As root, nginx gets a `user root`
-- line, unless `user = false`: its workers would run as nobody, who cannot
-- read the prefix (a folder only root can read) nor the checkout if it is
-- private. `copy` lists files and folders of the checkout to copy into the
-- prefix first. `env` is a table of environment variables for nginx (and,
-- with `http`, its workers). Returns
-- a handle with the ports, the prefix and stop(), or raises with nginx's own
-- complaint.
function nginx.start(options)
  local prefix = assert(io.popen("mktemp -d /tmp/sinchnumbers-nginx.XXXXXX")):read("*l")
  assert(os.execute("mkdir -p " .. prefix .. "/tmp"))
  for _, path in ipairs(options.copy or {}) do
    local target = shell.quote(prefix .. "/" .. path)
    local ok, output = shell.run(('mkdir -p "$(dirname %s)" && cp -R %s %s')
      :format(target, shell.quote(ROOT .. "/" .. path), target))
    if not ok then error("cannot copy " .. path .. " for nginx: " .. output) end
  end
  local handle = { prefix = prefix, ports = {} }
  local function fill_in(text)
    return (text:gsub("%${(%w+)}", function(name)
      if name == "prefix" then return prefix end
      if not handle.ports[name] then handle.ports[name] = nginx.free_port() end
      return tostring(handle.ports[name])
    end))
  end
  local user = options.user ~= false and shell.run("test \"$(id -u)\" = 0") and "user root;" or ""
  if options.config then
    write_file(prefix .. "/nginx.conf", user .. "\n" .. fill_in(options.config))
  else
    local http = fill_in(options.http)
    -- nginx passes a variable on to its workers only when told to.
    local main = user
    for name in pairs(options.env or {}) do main = main .. "\nenv " .. name .. ";" end
    write_file(prefix .. "/nginx.conf", CONFIG:format(options.workers or 1, prefix, prefix, main,
      MODULES, MODULES, prefix, prefix, prefix, prefix, prefix, ROOT, ROOT, ROOT, ROOT, http))
  end
  handle.port = handle.ports.port

  local environment = ""
  for name, value in pairs(options.env or {}) do
    environment = environment .. name .. "=" .. shell.quote(value) .. " "
  end
  local ok, output = shell.run(("%snginx -p %s -c %s/nginx.conf -e %s/error.log")
    :format(environment, prefix, prefix, prefix))
  if not ok then
    error("nginx did not start: " .. output .. (read_file(prefix .. "/error.log") or ""))
  end
  handle.pid = tonumber((read_file(prefix .. "/nginx.pid") or ""):match("%d+"))
  for _, port in pairs(handle.ports) do
    if not wait_for_port(port, 5) then error("nginx is not listening on " .. port) end
  end

  function handle.url(path, scheme, port_name)
    return ("%s://127.0.0.1:%d%s"):format(scheme or "http", handle.ports[port_name or "port"], path or "")
  end

  function handle.error_log()
    return read_file(prefix .. "/error.log") or ""
  end

  --- Sends one HTTP/1.0 request to this nginx; returns the open connection.
  function handle.send(method, path, body)
    local connection = assert(socket.connect("127.0.0.1", handle.port))
    connection:settimeout(30)
    assert(connection:send(("%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s")
      :format(method, path, #(body or ""), body or "")))
    return connection
  end

  --- Reads the answer to `send` (until nginx closes); returns its JSON
  -- decoded, and as text. Raises with nginx's error log unless it is a 200.
  function handle.answer(connection, path)
    local response = assert(connection:receive("*a"))
    connection:close()
    local status, answer = response:match("^HTTP/1%.%d (%d+).-\r\n\r\n(.*)$")
    if status ~= "200" then
      error(("%s answered %s:\n%s\n%s"):format(path, tostring(status), answer, handle.error_log()), 3)
    end
    return cjson.decode(answer), answer
  end

  --- Posts a plan as JSON to a handler (spec/openresty/cases.lua) and returns its decoded answer.
  function handle.drive(path, plan)
    return handle.answer(handle.send("POST", path, cjson.encode(plan)), path)
  end

  function handle.stop()
    if not handle.pid then return end
    os.execute("kill -QUIT " .. handle.pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not running(handle.pid) then break end
      socket.sleep(0.05)
    end
    os.execute("kill -KILL " .. handle.pid .. " 2>/dev/null; rm -rf " .. prefix)
    handle.pid = nil
  end

  return handle
end

return nginx
