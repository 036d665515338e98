-- The client under OpenResty: the cosocket transport and the shared token,
-- inside a real nginx (Debian's, with its Lua module) that this spec starts on
-- loopback. Busted only drives: it posts a plan to a location of the test
-- nginx, a handler in spec/openresty/cases.lua carries it out with cosockets,
-- and the answer says what happened.
local nginx = require "support.nginx"
local socket = require "socket"
local cjson = require "cjson"

-- Sends one request to the test nginx and returns the status and body.
local function http_request(port, method, path, body)
  local connection = assert(socket.connect("127.0.0.1", port))
  connection:settimeout(30)
  assert(connection:send(("%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s")
    :format(method, path, #(body or ""), body or "")))
  local response = assert(connection:receive("*a"))
  connection:close()
  local status, answer = response:match("^HTTP/1%.%d (%d+).-\r\n\r\n(.*)$")
  return tonumber(status), answer
end

-- Posts a plan as JSON and returns the decoded answer; raises with nginx's
-- error log when the handler failed.
local function drive(server, path, plan)
  local status, answer = http_request(server.port, "POST", path, cjson.encode(plan))
  if status ~= 200 then
    error(("%s answered %s:\n%s\n%s"):format(path, tostring(status), answer, server.error_log()), 2)
  end
  return cjson.decode(answer)
end

local function count_keys(set)
  local count = 0
  for _ in pairs(set) do count = count + 1 end
  return count
end

local function make_certificate()
  local dir = assert(io.popen("mktemp -d /tmp/sinchnumbers-cert.XXXXXX")):read("*l")
  assert(os.execute(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    .. " -addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1")
    :format(dir, dir)))
  return dir
end

if not nginx.available() then
  describe("OpenResty", function()
    pending("needs nginx and libnginx-mod-http-lua (make deps)")
  end)
  return
end

local TRANSPORT_SERVER = [[
  lua_socket_log_errors off;
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000;
    location = /transport { content_by_lua_block { require("openresty.cases").transport() } }
    location = /transport/trusting {
      lua_ssl_trusted_certificate ${certs}/cert.pem;
      content_by_lua_block { require("openresty.cases").transport() }
    }
    location = /transport/options { content_by_lua_block { require("openresty.cases").transport_options() } }

    location /echo { content_by_lua_block { require("openresty.cases").echo() } }
    location /closing {
      keepalive_timeout 0;
      content_by_lua_block { require("openresty.cases").echo() }
    }
    location /bytes { content_by_lua_block { require("openresty.cases").bytes() } }
    location /slow { content_by_lua_block { ngx.sleep(tonumber(ngx.var.arg_seconds)) ngx.say("late") } }
    location /trickle { content_by_lua_block { require("openresty.cases").trickle() } }
    location /flaky { content_by_lua_block { require("openresty.cases").flaky() } }
    location /huge-header { content_by_lua_block { require("openresty.cases").huge_header() } }
    location /unframed {
      chunked_transfer_encoding off;
      content_by_lua_block { ngx.say("read until the server closed") }
    }
  }
  server {
    listen 127.0.0.1:${tls} ssl;
    ssl_certificate ${certs}/cert.pem;
    ssl_certificate_key ${certs}/key.pem;
    location / {
      add_header X-Connection $connection;
      return 200 "secret page";
    }
  }
]]

describe("the cosocket transport", function()
  local server, certs

  local function url(path, scheme, port_name)
    return server.url(path, scheme, port_name)
  end

  -- Runs calls on one transport inside nginx; returns their outcomes, and
  -- the whole answer of cases.transport.
  local function run(calls, options, path)
    local answer = drive(server, path or "/transport", { options = options or { timeout = 5 }, calls = calls })
    return answer.calls, answer
  end

  local function one(call, options, path)
    return run({ call }, options, path)[1]
  end

  setup(function()
    certs = make_certificate()
    server = nginx.start{ http = TRANSPORT_SERVER:gsub("%${certs}", certs) }
  end)

  teardown(function()
    if server then server.stop() end
    if certs then os.execute("rm -rf " .. certs) end
  end)

  it("returns the status, the headers by lower-case name and the body", function()
    local result = one{ method = "GET", url = url("/echo?a=1"), headers = { Accept = "application/json" } }
    assert.equals(200, result.status)
    assert.matches("^text/plain", result.headers["content-type"])
    assert.equals("one, two", result.headers["x-repeated"])
    local echoed = cjson.decode(result.body)
    assert.equals("GET", echoed.method)
    assert.equals("/echo?a=1", echoed.uri)
    assert.equals("application/json", echoed.headers.accept)
    assert.equals("127.0.0.1:" .. server.port, echoed.headers.host)
    assert.matches("^sinchnumbers%-lua", echoed.headers["user-agent"])
  end)

  it("sends bodies as given, and Content-Length: 0 for a POST without one", function()
    local body = string.rep("{}", 1000)
    local results = run{
      { method = "POST", url = url("/echo"), headers = { ["Content-Type"] = "application/json" }, body = body },
      { method = "PATCH", url = url("/echo"), headers = { ["Content-Type"] = "application/json" }, body = "{}" },
      { method = "POST", url = url("/echo"), headers = { ["Content-Length"] = "99" } },
      { method = "GET", url = url("/echo") },
    }
    local posted = cjson.decode(results[1].body)
    assert.equals("POST", posted.method)
    assert.equals(body, posted.body)
    assert.equals("application/json", posted.headers["content-type"])
    assert.equals("PATCH", cjson.decode(results[2].body).method)
    local empty = cjson.decode(results[3].body)
    assert.equals("0", empty.headers["content-length"], "the transport frames the body, not the caller")
    assert.equals("", empty.body)
    assert.is_nil(empty.headers["content-type"])
    local got = cjson.decode(results[4].body)
    assert.equals("GET", got.method)
    assert.is_nil(got.headers["content-length"])
  end)

  it("keeps one connection alive for 50 requests, and past the nginx request that opened it", function()
    local calls = {}
    for i = 1, 50 do calls[i] = { method = "GET", url = url("/echo") } end
    local connections = {}
    local results = run(calls)
    -- Earlier tests may have left the connection in the pool already.
    local first = tonumber(results[1].headers["x-connection-requests"])
    for i, result in ipairs(results) do
      assert.equals(200, result.status)
      connections[result.headers["x-connection"]] = true
      assert.equals(tostring(first + i - 1), result.headers["x-connection-requests"])
    end
    assert.equals(1, count_keys(connections))
    local later = one{ method = "GET", url = url("/echo") }
    assert.is_true(connections[later.headers["x-connection"]], "the pool is nginx's, per worker")
    assert.equals(tostring(first + 50), later.headers["x-connection-requests"])
  end)

  it("closes a connection the server closes, and reads an answer framed by the close", function()
    local results = run{
      { method = "GET", url = url("/closing") },
      { method = "GET", url = url("/closing") },
      { method = "GET", url = url("/unframed") },
    }
    assert.equals("close", results[1].headers.connection)
    assert.are_not.equal(results[1].headers["x-connection"], results[2].headers["x-connection"])
    assert.equals(200, results[3].status)
    assert.is_nil(results[3].headers["content-length"])
    assert.is_nil(results[3].headers["transfer-encoding"])
    assert.equals("read until the server closed\n", results[3].body)
  end)

  it("refuses a body over the cap, announced or chunked, and keeps working", function()
    local results = run({
      { method = "GET", url = url("/bytes?size=3000000&chunked=0") },
      { method = "GET", url = url("/bytes?size=3000000&chunked=1") },
      { method = "GET", url = url("/bytes?size=999999&chunked=1") },
      { method = "GET", url = url("/bytes?size=1000000&chunked=0") },
      { method = "GET", url = url("/huge-header") },
    }, { max_body_size = 1000000 })
    for i = 1, 2 do
      assert.equals("too_large", results[i].err.kind)
      assert.matches("1000000 bytes", results[i].err.message)
    end
    assert.equals(200, results[3].status)
    assert.equals(999999, #results[3].body)
    assert.equals(string.rep("x", 1000000), results[4].body)
    assert.equals("too_large", results[5].err.kind, "a header block over 256 KiB")
  end)

  it("gives up after the total timeout, in fractions of a second, and works afterwards", function()
    local results = run{
      { method = "GET", url = url("/slow?seconds=3"), opts = { timeout = 0.4 } },
      { method = "GET", url = url("/echo") },
    }
    local err, elapsed = results[1].err, results[1].elapsed
    assert.equals("timeout", err.kind)
    assert.is_true(err.sent, "the request had left")
    assert.is_true(elapsed >= 0.39 and elapsed < 0.8, "took " .. elapsed)
    assert.equals(200, results[2].status)
  end)

  it("bounds the whole answer by the total timeout, however steadily bytes come", function()
    -- 40 bytes 0.05 s apart: no read waits long, but the answer takes 2 s.
    local result = one({ method = "GET", url = url("/trickle?count=40&every=0.05") }, { timeout = 0.5 })
    assert.equals("timeout", result.err.kind)
    assert.is_true(result.elapsed >= 0.49 and result.elapsed < 0.9, "took " .. result.elapsed)
  end)

  it("gives up when nothing comes for the read timeout", function()
    local result = one({ method = "GET", url = url("/slow?seconds=2") }, { timeout = 5, read_timeout = 0.2 })
    assert.equals("timeout", result.err.kind)
    assert.matches("0.2 s", result.err.message)
    assert.is_true(result.elapsed >= 0.19 and result.elapsed < 0.6, "took " .. result.elapsed)
  end)

  it("gives up connecting after the connect timeout, and says nothing was sent", function()
    -- A listener with a full backlog that never accepts: the kernel drops
    -- further SYNs, so connecting hangs as it would to a dead host.
    local listener = assert(socket.bind("127.0.0.1", 0, 0))
    local _, port = listener:getsockname()
    local fillers = {}
    for i = 1, 4 do
      fillers[i] = socket.tcp()
      fillers[i]:settimeout(0.2)
      fillers[i]:connect("127.0.0.1", port)
    end
    local result = one({ method = "POST", url = "http://127.0.0.1:" .. port .. "/", body = "{}",
                         opts = { connect_timeout = 0.5, timeout = 5 } })
    for _, filler in ipairs(fillers) do filler:close() end
    listener:close()
    assert.equals("timeout", result.err.kind)
    assert.is_false(result.err.sent)
    assert.is_true(result.elapsed >= 0.49 and result.elapsed < 1.0, "took " .. result.elapsed)
  end)

  it("reports a refused connection as a network error with nothing sent", function()
    local result = one{ method = "POST", url = "http://127.0.0.1:" .. nginx.free_port() .. "/", body = "{}" }
    assert.equals("network", result.err.kind)
    assert.is_false(result.err.sent)
    assert.matches("refused", result.err.message)
  end)

  it("verifies certificates against lua_ssl_trusted_certificate, and keeps TLS connections alive", function()
    local tls_url = url("/", "https", "tls")
    local untrusted = one{ method = "GET", url = tls_url }
    assert.equals("network", untrusted.err.kind)
    assert.matches("certificate", untrusted.err.message)
    assert.is_false(untrusted.err.sent)

    local trusted = run({ { method = "GET", url = tls_url }, { method = "GET", url = tls_url } }, nil,
      "/transport/trusting")
    assert.equals(200, trusted[1].status)
    assert.equals("secret page", trusted[1].body)
    assert.equals(trusted[1].headers["x-connection"], trusted[2].headers["x-connection"])

    local lax = one({ method = "GET", url = tls_url }, { ssl_verify = false })
    assert.equals(200, lax.status)
    assert.are_not.equal(trusted[1].headers["x-connection"], lax.headers["x-connection"],
      "an unverified connection is pooled apart from verified ones")
  end)

  it("refuses headers that would split the request, and a lower-case method", function()
    local results = run{
      { method = "GET", url = url("/echo"), headers = { ["X-A"] = "1\r\nX-B: 2" } },
      { method = "GET", url = url("/echo"), headers = { ["X-A\n"] = "1" } },
      { method = "GET", url = url("/echo"), headers = { ["X:A"] = "1" } },
      { method = "get", url = url("/echo") },
      { method = "GET", url = "ftp://127.0.0.1/" },
    }
    for i = 1, 5 do
      assert.equals("invalid_argument", results[i].err.kind)
      assert.is_false(results[i].err.sent)
    end
  end)

  it("sends a GET again on a fresh connection when a kept-alive one is dead, not a POST", function()
    local results = run{
      { method = "GET", url = url("/flaky") },
      { method = "GET", url = url("/flaky") },
      { method = "POST", url = url("/flaky"), body = "{}" },
    }
    assert.equals("fresh\n", results[1].body)
    assert.equals("fresh\n", results[2].body)
    assert.are_not.equal(results[1].headers["x-connection"], results[2].headers["x-connection"])
    local err = results[3].err
    assert.equals("network", err.kind)
    assert.is_true(err.sent, "the server may have acted on it")
    assert.matches("kept%-alive", err.message)
  end)

  it("can be closed twice, and says so when used afterwards", function()
    local _, answer = run{ { method = "GET", url = url("/echo") } }
    assert.matches("cosocket, closed", answer.closed)
    assert.matches("closed transport", answer.used_after_close)
  end)

  it("checks its options", function()
    local errors = drive(server, "/transport/options", {
      { timeout = 0 }, { timeout = "soon" }, { max_body_size = 0 }, { ca_file = "/etc/ssl/cert.pem" },
      { pool_size = 1.5 }, { read_timeout = -1 }, { timeout = 0.5, keepalive_timeout = 10, pool_size = 4 },
    })
    for i = 1, 6 do assert.are_not.equal("accepted", errors[i]) end
    assert.matches("lua_ssl_trusted_certificate", errors[4])
    assert.equals("accepted", errors[7])
  end)

  it("is not usable outside nginx, and says why", function()
    local transport = require "sinchnumbers.transport.ngx"
    assert.is_false(transport.usable())
    assert.has_error(function() transport.new{} end,
      "the cosocket transport runs only inside nginx with the Lua module (OpenResty)")
  end)
end)
