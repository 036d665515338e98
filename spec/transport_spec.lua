-- The libcurl transport over real HTTP on loopback, against a real nginx.
local core = require "sinchnumbers.core"
local nginx = require "support.nginx"
local addresses = require "support.addresses"
local socket = require "socket"
local cjson = require "cjson"

local ECHO_SERVER = [[
  lua_socket_log_errors off;
  keepalive_requests 1000;
  server {
    listen 127.0.0.1:${port};
    location /echo {
      content_by_lua_block {
        ngx.req.read_body()
        ngx.header["X-Connection"] = ngx.var.connection
        ngx.header["X-Connection-Requests"] = ngx.var.connection_requests
        ngx.header["X-Repeated"] = { "one", "two" }
        ngx.say(require("cjson").encode{
          method = ngx.req.get_method(),
          uri = ngx.var.request_uri,
          headers = ngx.req.get_headers(),
          body = ngx.req.get_body_data() or "",
        })
      }
    }
    location /repeated {
      content_by_lua_block {
        local values = {}
        for i = 1, tonumber(ngx.var.arg_count) do values[i] = "v" .. i end
        ngx.header["X-Many"] = values
        ngx.say("ok")
      }
    }
    location /slow {
      content_by_lua_block {
        ngx.sleep(tonumber(ngx.var.arg_seconds))
        ngx.say("late")
      }
    }
    location /bytes {
      content_by_lua_block {
        local size = tonumber(ngx.var.arg_size)
        if ngx.var.arg_chunked ~= "1" then ngx.header["Content-Length"] = size end
        local piece = string.rep("x", 65536)
        while size > 0 do
          local n = math.min(size, #piece)
          ngx.print(n == #piece and piece or piece:sub(1, n))
          ngx.flush(true)
          size = size - n
        end
      }
    }
  }
  server {
    listen 127.0.0.1:${tls} ssl;
    ssl_certificate ${prefix}/cert.pem;
    ssl_certificate_key ${prefix}/key.pem;
    location / { return 200 "secret page"; }
  }
]]

local function elapsed_of(f, ...)
  local started = socket.gettime()
  local a, b, c = f(...)
  return socket.gettime() - started, a, b, c
end

describe("core.transport", function()
  local server, transport

  setup(function()
    -- The certificate must exist before nginx reads its configuration, so
    -- nginx is started on a prefix made first; openssl writes into it.
    local prefix = assert(io.popen("mktemp -d /tmp/sinchnumbers-cert.XXXXXX")):read("*l")
    assert(os.execute(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
      .. " -addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1")
      :format(prefix, prefix)))
    server = nginx.start{ http = ECHO_SERVER:gsub("%${prefix}", prefix) }
    server.cert = prefix .. "/cert.pem"
    server.cert_dir = prefix
  end)

  teardown(function()
    if server then
      server.stop()
      os.execute("rm -rf " .. server.cert_dir)
    end
  end)

  before_each(function()
    transport = core.transport{ timeout = 5, connect_timeout = 2 }
  end)

  after_each(function()
    transport:close()
  end)

  it("returns the status, the headers by lower-case name and the body", function()
    local status, headers, body = transport:request("GET", server.url("/echo?a=1"), { Accept = "application/json" })
    assert.equals(200, status)
    assert.matches("^text/plain", headers["content-type"])
    assert.equals("one, two", headers["x-repeated"])
    local echoed = cjson.decode(body)
    assert.equals("GET", echoed.method)
    assert.equals("/echo?a=1", echoed.uri)
    assert.equals("application/json", echoed.headers.accept)
  end)

  it("sends a POST body as given, with no form Content-Type and no Expect", function()
    local body = string.rep("{}", 1000) -- over 1 KiB, where libcurl would wait for 100 Continue
    local status, _, answer = transport:request("POST", server.url("/echo"),
      { ["Content-Type"] = "application/json" }, body)
    assert.equals(200, status)
    local echoed = cjson.decode(answer)
    assert.equals("POST", echoed.method)
    assert.equals(body, echoed.body)
    assert.equals("application/json", echoed.headers["content-type"])
    assert.is_nil(echoed.headers.expect)
  end)

  it("sends PATCH with a body and a POST without one", function()
    local _, _, answer = transport:request("PATCH", server.url("/echo"),
      { ["Content-Type"] = "application/json" }, '{"displayName":"x"}')
    local echoed = cjson.decode(answer)
    assert.equals("PATCH", echoed.method)
    assert.equals('{"displayName":"x"}', echoed.body)

    _, _, answer = transport:request("POST", server.url("/echo"), {})
    echoed = cjson.decode(answer)
    assert.equals("POST", echoed.method)
    assert.equals("", echoed.body)
    assert.equals("0", echoed.headers["content-length"])
    assert.is_nil(echoed.headers["content-type"])

    _, _, answer = transport:request("GET", server.url("/echo"))
    assert.equals("GET", cjson.decode(answer).method, "a GET after a POST on the same handle is a GET")
  end)

  it("sends changed headers after unchanged ones on the same handle", function()
    local headers = { Authorization = "Bearer one", Accept = "application/json" }
    for _ = 1, 3 do
      local _, _, answer = transport:request("GET", server.url("/echo"), headers)
      assert.equals("Bearer one", cjson.decode(answer).headers.authorization)
    end
    headers.Authorization = "Bearer two"
    local _, _, answer = transport:request("GET", server.url("/echo"), headers)
    assert.equals("Bearer two", cjson.decode(answer).headers.authorization)
    _, _, answer = transport:request("GET", server.url("/echo"), { Accept = "application/json" })
    assert.is_nil(cjson.decode(answer).headers.authorization)
    _, _, answer = transport:request("POST", server.url("/echo"), { Accept = "application/json" }, "x")
    assert.is_nil(cjson.decode(answer).headers["content-type"], "no form Content-Type once a body is sent")
  end)

  it("parses the headers of a 2xx answer only when asked to", function()
    local lean = core.transport{ success_headers = false }
    local status, headers = lean:request("GET", server.url("/echo"))
    assert.equals(200, status)
    assert.same({}, headers)
    status, headers = lean:request("GET", server.url("/nothing-here"))
    assert.equals(404, status)
    assert.matches("^text/html", headers["content-type"])
    lean:close()
  end)

  it("sends its User-Agent unless the caller gives one", function()
    local _, _, answer = transport:request("GET", server.url("/echo"))
    assert.equals("sinchnumbers-lua", cjson.decode(answer).headers["user-agent"])
    _, _, answer = transport:request("GET", server.url("/echo"), { ["user-agent"] = "mine/1.0" })
    assert.equals("mine/1.0", cjson.decode(answer).headers["user-agent"])
    local named = core.transport{ user_agent = "app/2.0" }
    _, _, answer = named:request("GET", server.url("/echo"))
    assert.equals("app/2.0", cjson.decode(answer).headers["user-agent"])
    named:close()
    assert.has_error(function() core.transport{ user_agent = "a\r\nX-Injected: 1" } end)
  end)

  it("keeps one connection alive for 50 requests", function()
    local connections = {}
    for i = 1, 50 do
      local status, headers = transport:request("GET", server.url("/echo"))
      assert.equals(200, status)
      connections[headers["x-connection"]] = true
      assert.equals(tostring(i), headers["x-connection-requests"])
    end
    local count = 0
    for _ in pairs(connections) do count = count + 1 end
    assert.equals(1, count)
  end)

  it("gives up after the total timeout, in fractions of a second", function()
    local elapsed, status, err = elapsed_of(transport.request, transport, "GET", server.url("/slow?seconds=3"),
      nil, nil, { timeout = 0.4 })
    assert.is_nil(status)
    assert.equals("timeout", err.kind)
    assert.is_true(err.sent, "the request had left")
    assert.is_true(elapsed >= 0.39 and elapsed < 0.8, "took " .. elapsed)
    -- and the handle is fine afterwards
    assert.equals(200, (transport:request("GET", server.url("/echo"))))
  end)

  it("gives up connecting after the connect timeout, and says nothing was sent", function()
    local nowhere, close_listener = addresses.unaccepting_url()
    local elapsed, status, err = elapsed_of(transport.request, transport, "POST", nowhere .. "/",
      nil, "{}", { connect_timeout = 0.5, timeout = 5 })
    close_listener()
    assert.is_nil(status)
    assert.equals("timeout", err.kind)
    assert.is_false(err.sent)
    assert.is_true(elapsed >= 0.49 and elapsed < 1.0, "took " .. elapsed)
  end)

  it("refuses a body over the cap, announced or chunked, and keeps working", function()
    local capped = core.transport{ max_body_size = 1000000 }
    for _, chunked in ipairs{ "0", "1" } do
      local status, err = capped:request("GET", server.url("/bytes?size=3000000&chunked=" .. chunked))
      assert.is_nil(status)
      assert.equals("too_large", err.kind)
      assert.matches("1000000 bytes", err.message)
    end
    local status, _, body = capped:request("GET", server.url("/bytes?size=999999&chunked=1"))
    assert.equals(200, status)
    assert.equals(999999, #body)
    capped:close()
  end)

  it("joins a header sent many times", function()
    local status, headers = transport:request("GET", server.url("/repeated?count=3"))
    assert.equals(200, status)
    assert.equals("v1, v2, v3", headers["x-many"])
    status, headers = transport:request("GET", server.url("/repeated?count=10000"))
    assert.equals(200, status)
    assert.matches("^v1, v2, .*, v9999, v10000$", headers["x-many"])
  end)

  it("refuses response headers over their cap, and says it was the headers", function()
    local status, err = transport:request("GET", server.url("/repeated?count=40000"))
    assert.is_nil(status)
    assert.equals("too_large", err.kind)
    assert.matches("response headers larger than", err.message)
    assert.equals(200, (transport:request("GET", server.url("/echo"))))
  end)

  it("reports a refused connection as a network error with nothing sent", function()
    local status, err = transport:request("POST", addresses.refused_url() .. "/", nil, "{}")
    assert.is_nil(status)
    assert.equals("network", err.kind)
    assert.is_false(err.sent)
    assert.is_string(err.message)
    assert.is_number(err.curl_code)
  end)

  it("refuses a self-signed https server, and trusts it only when told to", function()
    -- Reading the system's CA bundle is slow under valgrind: time is not the point here.
    local patient = { timeout = 60, connect_timeout = 60 }
    local status, err = transport:request("GET", server.url("/", "https", "tls"), nil, nil, patient)
    assert.is_nil(status)
    assert.equals("network", err.kind)
    assert.matches("certificate", err.message)
    assert.is_false(err.sent)

    local trusting = core.transport{ ca_file = server.cert }
    local trusted_status, _, body = trusting:request("GET", server.url("/", "https", "tls"), nil, nil, patient)
    assert.equals(200, trusted_status)
    assert.equals("secret page", body)
    trusting:close()
  end)

  it("refuses headers that would split the request", function()
    for _, headers in ipairs{ { ["X-A"] = "1\r\nX-B: 2" }, { ["X-A\n"] = "1" }, { ["X:A"] = "1" },
                              { ["X A"] = "1" }, { [""] = "1" }, { ["X-A"] = "1\0" } } do
      local status, err = transport:request("GET", server.url("/echo"), headers)
      assert.is_nil(status)
      assert.equals("invalid_argument", err.kind)
    end
    local status, err = transport:request("get", server.url("/echo"))
    assert.is_nil(status)
    assert.equals("invalid_argument", err.kind)
  end)

  it("can be closed twice, and says so when used afterwards", function()
    local t = core.transport()
    assert.matches("libcurl", tostring(t))
    t:close()
    t:close()
    assert.matches("closed", tostring(t))
    assert.has_error(function() t:request("GET", server.url("/echo")) end, "attempt to use a closed transport")
  end)

  it("is released by the garbage collector while a connection is open", function()
    for _ = 1, 20 do
      local t = core.transport()
      assert.equals(200, (t:request("GET", server.url("/echo"))))
    end
    collectgarbage()
    collectgarbage()
    assert.equals(200, (transport:request("GET", server.url("/echo"))))
  end)

  if _VERSION == "Lua 5.4" then
    it("closes as a to-be-closed variable, and again explicitly", function()
      local chunk = assert(load([[
        local core, url = ...
        local t <close> = core.transport()
        assert(t:request("GET", url))
        return t
      ]]))
      local t = chunk(core, server.url("/echo"))
      assert.matches("closed", tostring(t))
      t:close()
    end)
  end

  it("checks its options", function()
    assert.has_error(function() core.transport{ timeout = 0 } end)
    assert.has_error(function() core.transport{ timeout = "soon" } end)
    assert.has_error(function() core.transport{ max_body_size = 0 } end)
    assert.has_error(function() core.transport{ ca_file = 1 } end)
  end)
end)

describe("core byte helpers", function()
  it("percent-encodes all but the unreserved characters", function()
    assert.equals("%2B12065550100", core.url_encode("+12065550100"))
    assert.equals("a-b.c_d~e", core.url_encode("a-b.c_d~e"))
    assert.equals("%20%2F%3F%26%3D%25%00%FF", core.url_encode(" /?&=%\0\255"))
    assert.equals(3 * 10000, #core.url_encode(string.rep("/", 10000)))
  end)

  it("checks and encodes an E.164 number for a path", function()
    assert.equals("%2B12065550100", core.e164_path("+12065550100"))
    assert.equals("%2B46", core.e164_path("+46"))
    assert.equals("%2B123456789012345", core.e164_path("+123456789012345"))
    for _, wrong in ipairs{ "+1", "12065550100", "+02065550100", "+1206555010a", "+1234567890123456",
                            "+1 206", "", 12065550100 } do
      assert.is_nil(core.e164_path(wrong), tostring(wrong))
    end
  end)

  it("encodes base64 as RFC 4648's vectors", function()
    local vectors = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
                      fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }
    for input, expected in pairs(vectors) do
      assert.equals(expected, core.base64(input))
    end
  end)

  it("computes HMAC-SHA1 as RFC 2202's vectors", function()
    assert.equals("b617318655057264e28bc0b6fb378c8ef146be00",
      core.hmac_sha1_hex(string.rep("\11", 20), "Hi There"))
    assert.equals("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
      core.hmac_sha1_hex("Jefe", "what do ya want for nothing?"))
    assert.equals("aa4ae5e15272d00e95705637ce8a3b55ed402112",
      core.hmac_sha1_hex(string.rep("\170", 80), "Test Using Larger Than Block-Size Key - Hash Key First"))
  end)

  it("compares strings", function()
    assert.is_true(core.equal("abc", "abc"))
    assert.is_false(core.equal("abc", "abd"))
    assert.is_false(core.equal("abc", "abcd"))
    assert.is_true(core.equal("", ""))
  end)
end)
