-- Every transport against the one table of contract cases
-- (spec/support/transport_cases.lua), over real HTTP on loopback against a
-- real nginx: libcurl in this process, cosockets inside that nginx.
local client_helper = require "support.client_helper"
local files = require "support.files"
local nginx = require "support.nginx"
local tinyproxy = require "support.tinyproxy"
local transport_cases = require "support.transport_cases"
local contract = require "sinchnumbers.transport.contract"
local socket = require "socket"

if not nginx.available() then
  describe("the transport contract", function()
    pending("needs nginx and libnginx-mod-http-lua (make deps)")
  end)
  return
end

-- A self-signed cert.pem for the TLS server; for the one that asks for a
-- client certificate, a CA (ca.pem), its server.pem and its client.pem, and a
-- stranger.pem from a CA of its own.
local function make_certificates()
  local dir = assert(io.popen("mktemp -d /tmp/sinchnumbers-cert.XXXXXX")):read("*l")
  local loopback = "subjectAltName=DNS:127.0.0.1,IP:127.0.0.1"
  files.openssl(dir, "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext " .. loopback
    .. " -keyout key.pem -out cert.pem")
  for _, ca in ipairs { "ca", "stranger-ca" } do
    files.openssl(dir, ("req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=%s -keyout %s-key.pem -out %s.pem")
      :format(ca, ca, ca))
  end
  local signed = {
    { name = "server", ca = "ca", subject = "/CN=127.0.0.1", ext = loopback },
    { name = "client", ca = "ca", subject = "/CN=sinchnumbers-client", ext = "extendedKeyUsage=clientAuth" },
    { name = "stranger", ca = "stranger-ca", subject = "/CN=stranger", ext = "extendedKeyUsage=clientAuth" },
  }
  for _, cert in ipairs(signed) do
    files.openssl(dir, ("req -newkey rsa:2048 -nodes -subj %s -keyout %s-key.pem -out %s.csr")
      :format(cert.subject, cert.name, cert.name))
    local ext = dir .. "/" .. cert.name .. ".ext"
    local file = assert(io.open(ext, "w"))
    file:write(cert.ext, "\n")
    file:close()
    files.openssl(dir, ("x509 -req -in %s.csr -CA %s.pem -CAkey %s-key.pem -CAcreateserial -days 1"
      .. " -extfile %s -out %s.pem"):format(cert.name, cert.ca, cert.ca, ext, cert.name))
  end
  return dir
end

-- A transport made in this process: runs the calls as cases.transport does inside nginx.
local function in_process(module)
  local new = require(module).new
  local runner = {}

  function runner.run(_, calls, options)
    local transport = assert(new(options))
    local results = {}
    for i, call in ipairs(calls) do
      local started = socket.gettime()
      local body = call.body or (call.body_size and string.rep("x", call.body_size))
      local status, headers, answer = transport:request(call.method, call.url, call.headers, body, call.opts)
      results[i] = status and { status = status, headers = headers, body = answer } or { err = headers }
      results[i].elapsed = socket.gettime() - started
      if call.pause then socket.sleep(call.pause) end
    end
    transport:close()
    transport:close()
    local _, after_close = transport:request("GET", calls[1].url)
    return { calls = results, closed = tostring(transport), used_after_close = after_close }
  end

  function runner.new_says(_, options)
    local transport, err = new(options)
    if not transport then return err.message end
    transport:close()
    return "accepted"
  end

  return runner
end

-- The libcurl transport's Multi, through the plain-Lua engine of map
-- (sinchnumbers.tasks.curl): each call is one task's request, so every rule
-- holds for a transfer of the Multi as for the sequential request.
local function through_engine()
  local curl = require "sinchnumbers.transport.curl"
  local pipeline = require "sinchnumbers.pipeline"
  local tasks = require "sinchnumbers.tasks.curl"
  local runner = {}

  function runner.run(_, calls, options)
    local transport = assert(curl.new(options))
    local client_pipeline = pipeline.new { transport = transport, sleep = socket.sleep, precise_clock = socket.gettime }
    local engine = assert(tasks.new(client_pipeline, 1))
    local function in_a_task(call, body)
      local status, headers, answer
      engine:run(1, function()
        status, headers, answer =
          engine.pipeline.transport:request(call.method, call.url, call.headers, body, call.opts)
      end)
      return status, headers, answer
    end
    local results = {}
    for i, call in ipairs(calls) do
      local started = socket.gettime()
      local body = call.body or (call.body_size and string.rep("x", call.body_size))
      local status, headers, answer = in_a_task(call, body)
      results[i] = status and { status = status, headers = headers, body = answer } or { err = headers }
      results[i].elapsed = socket.gettime() - started
      if call.pause then socket.sleep(call.pause) end
    end
    -- The Multi outlives the transport it was made from, and closes twice.
    transport:close()
    engine:close()
    engine:close()
    local _, after_close = in_a_task(calls[1])
    return { calls = results, closed = tostring(engine.multi), used_after_close = after_close }
  end

  runner.new_says = in_process("sinchnumbers.transport.curl").new_says
  return runner
end

-- The cosocket transport, inside the test nginx.
local function inside_nginx()
  local runner = {}
  function runner.run(server, calls, options, path)
    return server.drive(path or "/transport", { options = options or {}, calls = calls })
  end
  function runner.new_says(server, options)
    return server.drive("/transport/options", { options })[1]
  end
  return runner
end

-- One line per transport; `family` is the transport whose `only` cases a
-- way of running it takes too.
local TRANSPORTS = {
  { name = "curl", runner = in_process("sinchnumbers.transport.curl") },
  { name = "curl multi", family = "curl", runner = through_engine(), needs = "engine" },
  { name = "ngx", runner = inside_nginx() },
}

local server, certs
local proxies = {}
-- tinyproxy takes letters and digits only.
local PROXY_CREDENTIALS = "sinch:proxypass42"

setup(function()
  certs = make_certificates()
  server = nginx.start{ http = transport_cases.SERVER:gsub("%${certs}", certs) }
  server.cert = certs .. "/cert.pem"
  if tinyproxy.available() then
    proxies.open = tinyproxy.start { connect_ports = { server.ports.tls } }
    proxies.guarded = tinyproxy.start { connect_ports = { server.ports.tls }, credentials = PROXY_CREDENTIALS }
  end
end)

teardown(function()
  for _, proxy in pairs(proxies) do proxy.stop() end
  if server then server.stop() end
  if certs then os.execute("rm -rf " .. certs) end
end)

local function resolve(url, context)
  if type(url) == "function" then return url(context) end
  if type(url) == "table" then return server.url(url[1], url[2], url[3]) end
  return server.url(url)
end

local function resolved(calls, context)
  local copies = {}
  for i, call in ipairs(calls) do
    local copy = {}
    for name, value in pairs(call) do copy[name] = value end
    copy.url = resolve(call.url, context)
    copies[i] = copy
  end
  return copies
end

for _, transport in ipairs(TRANSPORTS) do
  local family = transport.family or transport.name
  describe("the " .. transport.name .. " transport", function()
    if transport.needs == "engine" and not client_helper.curl_engine_runs() then
      pending("the curl engine needs LuaJIT or Lua 5.2 or later")
      return
    end
    for _, case in ipairs(transport_cases.list) do
      if case.only == nil or case.only == family then
        it(case.name, function()
          if case.needs == "tinyproxy" and not proxies.open then
            pending("needs tinyproxy (make deps)")
            return
          end
          local context = case.prepare and case.prepare() or {}
          context.port, context.cert, context.certs = server.port, server.cert, certs
          context.transport, context.tls_port = family, server.ports.tls
          context.proxy, context.guarded, context.credentials = proxies.open, proxies.guarded, PROXY_CREDENTIALS
          function context.run_again(calls, options)
            return transport.runner.run(server, resolved(calls, context), options, case.path).calls
          end
          local options = case.options
          if type(options) == "function" then options = options(context) end
          local ok, answer = pcall(transport.runner.run, server, resolved(case.calls, context), options, case.path)
          if case.finish then case.finish(context) end
          assert(ok, answer)
          case.check(answer.calls, context, answer)
        end)
      end
    end

    it("refuses the options the contract refuses, with nil, err, and takes the others", function()
      for _, group in ipairs { transport_cases.options.all, transport_cases.options[transport.name] } do
        for _, options in ipairs(group.refused) do
          assert.are_not.equal("accepted", transport.runner.new_says(server, options))
        end
        for _, options in ipairs(group.taken) do
          assert.equals("accepted", transport.runner.new_says(server, options))
        end
      end
    end)
  end)
end

describe("the TLS files", function()
  it("the curl transport says which file it cannot open, before anything is sent", function()
    local none, err = require("sinchnumbers.transport.curl").new{ client_cert = certs .. "/missing.pem" }
    assert.is_nil(none)
    assert.equals("invalid_argument", err.kind)
    assert.equals("client_cert", err.field)
    assert.matches("client_cert must be the path of a readable file: a client certificate %(PEM%)", err.message)
    assert.matches("missing.pem", err.message, 1, true)
    local _, alone = require("sinchnumbers.transport.curl").new{ client_key = certs .. "/client-key.pem" }
    assert.matches("client_key needs client_cert", alone.message)
  end)

  it("the ngx transport refuses each, naming the nginx.conf directive to use", function()
    local said = {}
    for _, name in ipairs { "ca_file", "client_cert", "client_key" } do
      said[name] = inside_nginx().new_says(server, { [name] = certs .. "/client.pem" })
    end
    assert.matches("ca_file must be left out under nginx: .* lua_ssl_trusted_certificate", said.ca_file)
    assert.matches("client_cert must be left out under nginx: .* lua_ssl_certificate ", said.client_cert)
    assert.matches("client_key must be left out under nginx: .* lua_ssl_certificate_key", said.client_key)
  end)
end)

-- The proxy from the environment: each transport in a process of its own
-- with https_proxy set (libcurl in a new Lua, cosockets in a new nginx).
describe("the proxy from the environment", function()
  local helper = require "support.client_helper"
  local shell = require "support.shell"

  local function literal(options)
    local fields = {}
    for name, value in pairs(options) do fields[#fields + 1] = ("[%q] = %s"):format(name, tostring(value)) end
    for i, field in ipairs(fields) do
      fields[i] = field:gsub("= ([^ft].*)$", function(text) return ("= %q"):format(text) end)
    end
    return "{ " .. table.concat(fields, ", ") .. " }"
  end

  -- Runs one GET with `options` under `environment`: the status, or the error's message.
  local RUNNERS = {
    curl = function(environment, options, url)
      options.ca_file = server.cert
      local code = ([[
        local t = assert(require("sinchnumbers.transport.curl").new(%s))
        local status, err = t:request("GET", %q)
        io.write(status and tostring(status) or err.message)
      ]]):format(literal(options), url)
      local prefix = ""
      for name, value in pairs(environment) do prefix = prefix .. name .. "=" .. shell.quote(value) .. " " end
      local pipe = assert(io.popen(prefix .. helper.lua_command(code) .. " 2>&1"))
      local said = pipe:read("*a")
      pipe:close()
      return tonumber(said) or said
    end,
    ngx = function(environment, options, url)
      local inside = nginx.start {
        env = environment,
        http = ([[
          server {
            listen 127.0.0.1:${port};
            location = /transport {
              lua_ssl_trusted_certificate %s;
              content_by_lua_block { require("openresty.cases").transport() }
            }
          }
        ]]):format(server.cert),
      }
      local answer = inside.drive("/transport", { options = options, calls = { { method = "GET", url = url } } })
      inside.stop()
      local result = answer.calls[1]
      return result.status or result.err.message
    end,
  }

  for _, name in ipairs { "curl", "ngx" } do
    it("the " .. name .. " transport takes https_proxy, unless proxy = false or no_proxy names the host", function()
      if not proxies.open then return pending("needs tinyproxy (make deps)") end
      local proxy = tinyproxy.start { connect_ports = { server.ports.tls } }
      finally(proxy.stop)
      local function tunnels()
        local count = 0
        for _ in proxy.log():gmatch("CONNECT 127%.0%.0%.1:") do count = count + 1 end
        return count
      end
      local url = server.url("/", "https", "tls")
      local run = RUNNERS[name]
      local environment = { https_proxy = proxy.url }
      assert.equals(200, run(environment, {}, url))
      assert.equals(1, tunnels(), "through the proxy of https_proxy")
      assert.equals(200, run(environment, { proxy = false }, url))
      assert.equals(200, run(environment, { no_proxy = "127.0.0.1" }, url))
      assert.equals(200, run({ https_proxy = proxy.url, no_proxy = "example.com, 127.0.0.1" }, {}, url))
      assert.equals(1, tunnels(), "proxy = false and no_proxy go directly")
      local said = run({ https_proxy = "http://user:hunter2@127.0.0.1:" .. nginx.free_port() }, {}, url)
      assert.is_string(said)
      assert.is_nil(said:find("hunter2", 1, true), said)
    end)
  end
end)

-- What only a transport in this process can show.
describe("the curl transport, in this process", function()
  local curl = require "sinchnumbers.transport.curl"

  it("names libcurl in tostring, and says the option and what is allowed", function()
    local transport = assert(curl.new())
    assert.matches("libcurl", tostring(transport))
    transport:close()
    local none, err = curl.new{ timeout = 0 }
    assert.is_nil(none)
    assert.equals("invalid_argument", err.kind)
    assert.equals("timeout", err.field)
    assert.matches("timeout must be a number of seconds above 0 and at most " .. contract.MAX_SECONDS, err.message)
  end)

  it("is released by the garbage collector while a connection is open", function()
    for _ = 1, 20 do
      local transport = assert(curl.new())
      assert.equals(200, (transport:request("GET", server.url("/echo"))))
    end
    collectgarbage()
    collectgarbage()
    local transport = assert(curl.new())
    assert.equals(200, (transport:request("GET", server.url("/echo"))))
    transport:close()
  end)

  it("takes complete settings only: the C module refuses a table without them", function()
    assert.has_error(function() require("sinchnumbers.transport.libcurl").new{} end)
  end)

  if _VERSION == "Lua 5.4" then
    it("closes as a to-be-closed variable, and again explicitly", function()
      local chunk = assert(load([[
        local curl, url = ...
        local t <close> = assert(curl.new())
        assert(t:request("GET", url))
        return t
      ]]))
      local transport = chunk(curl, server.url("/echo"))
      assert.matches("closed", tostring(transport))
      transport:close()
    end)
  end
end)

describe("the ngx transport, outside nginx", function()
  -- The moment between connecting and sending cannot be hit on purpose in a
  -- real nginx: here a scripted `ngx` whose connect takes all the time left.
  it("says sent = false when the time runs out after connecting, before the first byte", function()
    local clock, sends = 1000, 0
    local socket_of_nginx = {
      settimeout = function() end,
      connect = function() clock = clock + 10 return true end,
      getreusedtimes = function() return 0 end,
      send = function() sends = sends + 1 return nil, "closed" end,
      close = function() end,
    }
    _G.ngx = {
      update_time = function() end,
      now = function() return clock end,
      get_phase = function() return "content" end,
      socket = { tcp = function() return socket_of_nginx end },
    }
    finally(function() _G.ngx = nil end)
    local transport = assert(require("sinchnumbers.transport.ngx").new{ timeout = 5 })
    local status, err = transport:request("POST", "http://127.0.0.1:1/", nil, "{}")
    assert.is_nil(status)
    assert.equals(0, sends)
    assert.equals("timeout", err.kind)
    assert.is_false(err.sent, "not a byte left")
  end)


  it("is not usable, and says why with nil, err", function()
    local ngx_transport = require "sinchnumbers.transport.ngx"
    assert.is_false(ngx_transport.usable())
    local none, err = ngx_transport.new{}
    assert.is_nil(none)
    assert.equals("invalid_argument", err.kind)
    assert.equals("the cosocket transport runs only inside nginx with the Lua module (OpenResty)", err.message)
  end)
end)
