-- The transport contract (lua/sinchnumbers/transport/contract.lua) as one
-- table of cases, run against every transport by spec/transport_contract_spec.lua:
-- the libcurl one directly, the cosocket one inside nginx (spec/openresty/cases.lua
-- runs the calls there). A case is data the runner can send as JSON:
--
--   name     what the transport does
--   only     the one transport this case is about (a behaviour only it has), else all
--   options  for the transport's new()
--   calls    { method, url, headers, body, body_size, opts, pause } run in a row on one
--            transport; url is a path on the test server, or { path, scheme, port },
--            or a function(context) giving a whole URL
--   path     the nginx location that runs the calls (cosockets only; default /transport)
--   prepare  function() -> context (listeners of its own), and finish(context)
--   needs    a program the case cannot do without (pending when it is missing)
--   check    function(results, context, answer): results[i] is { status, headers,
--            body, elapsed } or { err, elapsed }; answer.closed is tostring of the
--            closed transport, answer.used_after_close the error of a request after it
--
-- Cases with `run(server)` instead of calls need the transport in the spec's
-- own process (garbage collection, `<close>`): they are libcurl's.
local assert = require "luassert"
local addresses = require "support.addresses"
local contract = require "sinchnumbers.transport.contract"
local version = require "sinchnumbers.version"
local cjson = require "cjson"
local socket = require "socket"

local cases = {}

-- The test server: what the calls talk to, and (for cosockets) where they run.
cases.SERVER = [[
  lua_socket_log_errors off;
  # Plans with long URLs stay in memory, where the handler reads them.
  client_body_buffer_size 1m;
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
    location /huge-header { content_by_lua_block { require("openresty.cases").huge_header() } }
    location /repeated { content_by_lua_block { require("openresty.cases").repeated() } }
    location /slow { content_by_lua_block { ngx.sleep(tonumber(ngx.var.arg_seconds)) ngx.say("late") } }
    location /trickle { content_by_lua_block { require("openresty.cases").trickle() } }
    location /empty { return 204; }
    location /flaky { content_by_lua_block { require("openresty.cases").flaky() } }
    location /raw { content_by_lua_block { require("openresty.cases").raw() } }
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
  server {
    listen 127.0.0.1:${mtls} ssl;
    ssl_certificate ${certs}/server.pem;
    ssl_certificate_key ${certs}/server-key.pem;
    ssl_client_certificate ${certs}/ca.pem;
    ssl_verify_client on;
    location / { return 200 "hello $ssl_client_s_dn"; }
  }
]]

local function echoed(result)
  return cjson.decode(result.body)
end

local function within(result, low, high)
  assert.is_true(result.elapsed >= low and result.elapsed < high, "took " .. result.elapsed)
end

local function many(count, call)
  local calls = {}
  for i = 1, count do calls[i] = call end
  return calls
end

-- Reading the system's CA bundle is slow under valgrind: time is not the point of TLS cases.
local PATIENT = { timeout = 60, connect_timeout = 60 }
local TLS = { "/", "https", "tls" }

cases.list = {
  {
    name = "returns the status, the headers by lower-case name and the body",
    calls = { { method = "GET", url = "/echo?a=1", headers = { Accept = "application/json" } } },
    check = function(results, context)
      local result = results[1]
      assert.equals(200, result.status)
      assert.matches("^text/plain", result.headers["content-type"])
      assert.equals("one, two", result.headers["x-repeated"])
      local request = echoed(result)
      assert.equals("GET", request.method)
      assert.equals("/echo?a=1", request.uri)
      assert.equals("application/json", request.headers.accept)
      assert.equals("127.0.0.1:" .. context.port, request.headers.host)
    end,
  },
  {
    name = "sends its User-Agent, the one version's, unless the caller gives one",
    calls = {
      { method = "GET", url = "/echo" },
      { method = "GET", url = "/echo", headers = { ["user-agent"] = "mine/1.0" } },
    },
    check = function(results)
      -- The Lua in the name is the one the transport runs under (LuaJIT's 5.1 inside nginx).
      local agent = "^sinchnumbers%-lua/" .. version:gsub("%.", "%%.") .. " %(Lua 5%.%d%)$"
      assert.matches(agent, contract.USER_AGENT)
      assert.matches(agent, echoed(results[1]).headers["user-agent"])
      assert.equals("mine/1.0", echoed(results[2]).headers["user-agent"])
    end,
  },
  {
    name = "sends the user_agent it is given",
    options = { user_agent = "app/2.0" },
    calls = { { method = "GET", url = "/echo" } },
    check = function(results) assert.equals("app/2.0", echoed(results[1]).headers["user-agent"]) end,
  },
  {
    name = "sends a POST body as given, with no form Content-Type and no Expect",
    -- Over 1 KiB, where libcurl would wait for 100 Continue.
    calls = { { method = "POST", url = "/echo", headers = { ["Content-Type"] = "application/json" },
                body = string.rep("{}", 1000) } },
    check = function(results)
      local request = echoed(results[1])
      assert.equals("POST", request.method)
      assert.equals(string.rep("{}", 1000), request.body)
      assert.equals("application/json", request.headers["content-type"])
      assert.is_nil(request.headers.expect)
    end,
  },
  {
    name = "frames every body itself: Content-Length: 0 for a POST, PUT or PATCH without one, none for a GET",
    calls = {
      { method = "PATCH", url = "/echo", headers = { ["Content-Type"] = "application/json" },
        body = '{"displayName":"x"}' },
      { method = "POST", url = "/echo", headers = { ["Content-Length"] = "99", Connection = "close" } },
      { method = "PATCH", url = "/echo" },
      { method = "PUT", url = "/echo" },
      { method = "GET", url = "/echo" },
      { method = "DELETE", url = "/echo" },
      { method = "POST", url = "/echo", headers = { Accept = "application/json" }, body = "x" },
    },
    check = function(results)
      local patched = echoed(results[1])
      assert.equals("PATCH", patched.method)
      assert.equals('{"displayName":"x"}', patched.body)
      for i, method in pairs { [2] = "POST", [3] = "PATCH", [4] = "PUT" } do
        local request = echoed(results[i])
        assert.equals(method, request.method)
        assert.equals("0", request.headers["content-length"],
          method .. ": the transport frames the body, not the caller")
        assert.equals("", request.body)
        assert.is_nil(request.headers["content-type"])
      end
      for i, method in pairs { [5] = "GET", [6] = "DELETE" } do
        local request = echoed(results[i])
        assert.equals(method, request.method, "a GET after a POST on the same handle is a GET")
        assert.is_nil(request.headers["content-length"])
      end
      assert.is_nil(echoed(results[7]).headers["content-type"], "no form Content-Type once a body is sent")
    end,
  },
  {
    name = "sends changed headers after unchanged ones",
    calls = {
      { method = "GET", url = "/echo", headers = { Authorization = "Bearer one", Accept = "application/json" } },
      { method = "GET", url = "/echo", headers = { Authorization = "Bearer one", Accept = "application/json" } },
      { method = "GET", url = "/echo", headers = { Authorization = "Bearer two", Accept = "application/json" } },
      { method = "GET", url = "/echo", headers = { Accept = "application/json" } },
    },
    check = function(results)
      assert.equals("Bearer one", echoed(results[2]).headers.authorization)
      assert.equals("Bearer two", echoed(results[3]).headers.authorization)
      assert.is_nil(echoed(results[4]).headers.authorization)
    end,
  },
  {
    name = "parses the headers of a 2xx answer only when asked to (success_headers)",
    options = { success_headers = false },
    calls = { { method = "GET", url = "/echo" }, { method = "GET", url = "/nothing-here" } },
    check = function(results)
      assert.equals(200, results[1].status)
      assert.same({}, results[1].headers)
      assert.equals(404, results[2].status)
      assert.matches("^text/html", results[2].headers["content-type"])
    end,
  },
  {
    name = "keeps one connection alive for 50 requests",
    calls = many(50, { method = "GET", url = "/echo" }),
    check = function(results)
      -- A pool that outlives the transport (nginx's) may hold the connection already.
      local first = tonumber(results[1].headers["x-connection-requests"])
      for i, result in ipairs(results) do
        assert.equals(200, result.status)
        assert.equals(results[1].headers["x-connection"], result.headers["x-connection"], "one connection")
        assert.equals(tostring(first + i - 1), result.headers["x-connection-requests"])
      end
    end,
  },
  {
    name = "closes a connection the server closes, and reads an answer framed by the close",
    calls = {
      { method = "GET", url = "/closing" }, { method = "GET", url = "/closing" }, { method = "GET", url = "/unframed" },
    },
    check = function(results)
      assert.are_not.equal(results[1].headers["x-connection"], results[2].headers["x-connection"])
      assert.equals(200, results[3].status)
      assert.is_nil(results[3].headers["content-length"])
      assert.is_nil(results[3].headers["transfer-encoding"])
      assert.equals("read until the server closed\n", results[3].body)
    end,
  },
  {
    name = "reads no body after HEAD or a 204, and keeps the connection",
    calls = {
      { method = "HEAD", url = "/echo" }, { method = "GET", url = "/empty" }, { method = "GET", url = "/echo" },
    },
    check = function(results)
      assert.equals(200, results[1].status)
      assert.equals("", results[1].body)
      assert.equals(204, results[2].status)
      assert.equals("", results[2].body)
      local requests = tonumber(results[1].headers["x-connection-requests"])
      assert.equals(results[1].headers["x-connection"], results[3].headers["x-connection"])
      assert.equals(tostring(requests + 2), results[3].headers["x-connection-requests"])
    end,
  },
  {
    name = "refuses a body over the cap, announced or chunked, and keeps working",
    options = { max_body_size = 1000000 },
    calls = {
      { method = "GET", url = "/bytes?size=3000000&chunked=0" },
      { method = "GET", url = "/bytes?size=3000000&chunked=1" },
      { method = "GET", url = "/bytes?size=999999&chunked=1" },
      { method = "GET", url = "/bytes?size=1000000&chunked=0" },
    },
    check = function(results)
      for i = 1, 2 do
        assert.equals("too_large", results[i].err.kind)
        assert.equals("response larger than the limit of 1000000 bytes", results[i].err.message)
        assert.is_true(results[i].err.sent)
      end
      assert.equals(999999, #results[3].body)
      assert.equals(string.rep("x", 1000000), results[4].body)
    end,
  },
  {
    name = "joins a header sent many times",
    calls = { { method = "GET", url = "/repeated?count=3" }, { method = "GET", url = "/repeated?count=10000" } },
    check = function(results)
      assert.equals("v1, v2, v3", results[1].headers["x-many"])
      assert.matches("^v1, v2, .*, v9999, v10000$", results[2].headers["x-many"])
    end,
  },
  {
    name = "refuses response headers over their cap, says it was the headers, and keeps working",
    calls = { { method = "GET", url = "/repeated?count=40000" }, { method = "GET", url = "/echo" } },
    check = function(results)
      assert.equals("too_large", results[1].err.kind)
      assert.equals(("response headers larger than the limit of %d bytes"):format(contract.MAX_HEADER_BYTES),
        results[1].err.message)
      assert.equals(200, results[2].status)
    end,
  },
  {
    name = "refuses one header line over the cap as too_large, naming the headers",
    calls = { { method = "GET", url = "/huge-header" }, { method = "GET", url = "/echo" } },
    check = function(results)
      assert.equals("too_large", results[1].err.kind)
      assert.matches("header", results[1].err.message)
      assert.equals(200, results[2].status)
    end,
  },
  {
    name = "returns nil, err for a malformed chunk size (zz, -5, 20 digits), never raises, and keeps working",
    calls = {
      { method = "GET", url = "/raw?answer=chunk_zz" },
      { method = "POST", url = "/raw?answer=chunk_minus", body = "{}" },
      { method = "GET", url = "/raw?answer=chunk_20_digits" },
      { method = "GET", url = "/echo" },
    },
    check = function(results)
      for i = 1, 3 do
        assert.is_table(results[i].err, i)
        assert.is_true(results[i].err.sent, i)
      end
      for i = 1, 2 do assert.equals("network", results[i].err.kind, i) end
      assert.equals(200, results[4].status)
    end,
  },
  {
    -- libcurl reads "5 junk" as a chunk size with an extension.
    name = "refuses junk after a chunk size, says which line was bad, and that 20 digits are too large",
    only = "ngx",
    calls = {
      { method = "GET", url = "/raw?answer=chunk_zz" },
      { method = "POST", url = "/raw?answer=chunk_junk", body = "{}" },
      { method = "GET", url = "/raw?answer=chunk_20_digits" },
    },
    check = function(results)
      for i = 1, 2 do
        assert.equals("network", results[i].err.kind, i)
        assert.matches("bad chunk size line", results[i].err.message, 1, true)
      end
      assert.equals("too_large", results[3].err.kind)
    end,
  },
  {
    name = "reads a header with a long run of inner spaces in linear time, a few bytes at a time",
    calls = { { method = "GET", url = "/raw?answer=spaces&piece=7" } },
    check = function(results)
      assert.equals(200, results[1].status)
      assert.equals("a" .. string.rep(" ", 30000) .. "b", results[1].headers["x-spaces"])
      assert.equals("ok", results[1].body)
      within(results[1], 0, 2)
    end,
  },
  {
    name = "gives up after the total timeout, in fractions of a second, and works afterwards",
    calls = {
      { method = "GET", url = "/slow?seconds=3", opts = { timeout = 0.4 } },
      { method = "GET", url = "/echo" },
    },
    check = function(results)
      assert.equals("timeout", results[1].err.kind)
      assert.is_true(results[1].err.sent, "the request had left")
      within(results[1], 0.39, 0.8)
      assert.equals(200, results[2].status)
    end,
  },
  {
    name = "bounds the whole answer by the total timeout, however steadily bytes come",
    -- 40 bytes 0.05 s apart: no read waits long, but the answer takes 2 s.
    options = { timeout = 0.5 },
    calls = { { method = "GET", url = "/trickle?count=40&every=0.05" } },
    check = function(results)
      assert.equals("timeout", results[1].err.kind)
      within(results[1], 0.49, 0.9)
    end,
  },
  {
    name = "gives up connecting after the connect timeout, and says nothing was sent",
    prepare = function()
      local url, close = addresses.unaccepting_url()
      return { url = url, close = close }
    end,
    finish = function(context) context.close() end,
    calls = { { method = "POST", url = function(context) return context.url .. "/" end, body = "{}",
                opts = { connect_timeout = 0.5, timeout = 5 } } },
    check = function(results)
      assert.equals("timeout", results[1].err.kind)
      assert.is_false(results[1].err.sent)
      within(results[1], 0.49, 1.0)
    end,
  },
  {
    name = "reports a refused connection as a network error with nothing sent",
    calls = { { method = "POST", url = function() return addresses.refused_url() .. "/" end, body = "{}" } },
    check = function(results)
      assert.equals("network", results[1].err.kind)
      assert.is_false(results[1].err.sent)
      assert.matches("connect", results[1].err.message)
    end,
  },
  {
    name = "refuses a self-signed https server, and says nothing was sent",
    calls = { { method = "GET", url = TLS, opts = PATIENT } },
    check = function(results)
      assert.equals("network", results[1].err.kind)
      assert.matches("certificate", results[1].err.message)
      assert.is_false(results[1].err.sent)
    end,
  },
  {
    name = "refuses, before sending, a request that would break apart: headers, method, URL, body, timeouts",
    calls = {
      { method = "GET", url = "/echo", headers = { ["X-A"] = "1\r\nX-B: 2" } },
      { method = "GET", url = "/echo", headers = { ["X-A\n"] = "1" } },
      { method = "GET", url = "/echo", headers = { ["X:A"] = "1" } },
      { method = "GET", url = "/echo", headers = { ["X A"] = "1" } },
      { method = "GET", url = "/echo", headers = { [""] = "1" } },
      { method = "GET", url = "/echo", headers = { ["X-A"] = "1\0" } },
      { method = "get", url = "/echo" },
      { method = "GET", url = function() return "ftp://127.0.0.1/" end },
      { method = "GET", url = "/echo?" .. string.rep("a", contract.MAX_URL_BYTES) },
      { method = "GET", url = "/echo", headers = "Accept: */*" },
      { method = "GET", url = "/echo", opts = { timeout = 0 } },
      { method = "GET", url = "/echo", opts = { connect_timeout = "soon" } },
      { method = "GET", url = "/echo", opts = { timeout = contract.MAX_SECONDS + 1 } },
      { method = "PATCH", url = "/echo", opts = { idempotent = "yes" } },
    },
    check = function(results)
      for i, result in ipairs(results) do
        assert.is_table(result.err, i)
        assert.equals("invalid_argument", result.err.kind, i)
        assert.is_false(result.err.sent, i)
      end
      assert.matches("above the limit of " .. contract.MAX_URL_BYTES, results[9].err.message)
      assert.matches("timeout must be a number of seconds above 0 and at most 86400", results[11].err.message)
      assert.matches("idempotent must be true, false or nil", results[#results].err.message)
    end,
  },
  {
    name = "sends a GET again on a fresh connection when a kept-alive one is dead",
    calls = { { method = "GET", url = "/flaky" }, { method = "GET", url = "/flaky" } },
    check = function(results)
      assert.equals("fresh\n", results[1].body)
      assert.equals("fresh\n", results[2].body)
      assert.are_not.equal(results[1].headers["x-connection"], results[2].headers["x-connection"])
    end,
  },
  {
    name = "fails a POST on a dead kept-alive connection with sent = true, and does not send it again",
    only = "ngx",
    calls = { { method = "GET", url = "/flaky" }, { method = "POST", url = "/flaky", body = "{}" } },
    check = function(results)
      local err = results[2].err
      assert.equals("network", err.kind)
      assert.is_true(err.sent, "the server may have acted on it")
      assert.matches("kept%-alive", err.message)
    end,
  },
  {
    name = "sends an idempotent PATCH (an update) on the kept-alive connection",
    calls = {
      { method = "GET", url = "/echo" },
      { method = "PATCH", url = "/echo", body = "{}", opts = { idempotent = true } },
    },
    check = function(results)
      assert.equals(200, results[2].status)
      assert.equals(results[1].headers["x-connection"], results[2].headers["x-connection"], "one connection")
      assert.equals(tostring(tonumber(results[1].headers["x-connection-requests"]) + 1),
        results[2].headers["x-connection-requests"])
    end,
  },
  {
    name = "sends an idempotent PATCH again on a fresh connection when a kept-alive one is dead",
    calls = {
      { method = "GET", url = "/flaky" },
      { method = "PATCH", url = "/flaky", body = "{}", opts = { idempotent = true } },
    },
    check = function(results)
      assert.equals("fresh\n", results[2].body)
      assert.are_not.equal(results[1].headers["x-connection"], results[2].headers["x-connection"])
    end,
  },
  {
    -- libcurl sends again by itself on a connection that turns out dead, and cannot be told not to.
    name = "sends a POST not marked idempotent (a rent) only on a fresh connection, never on a kept-alive one",
    only = "curl",
    calls = {
      { method = "GET", url = "/flaky" },
      { method = "POST", url = "/flaky", body = "{}", opts = { idempotent = false } },
    },
    check = function(results)
      assert.equals("fresh\n", results[2].body)
      assert.are_not.equal(results[1].headers["x-connection"], results[2].headers["x-connection"])
    end,
  },
  {
    name = "can be closed twice, and refuses a request afterwards",
    calls = { { method = "GET", url = "/echo" } },
    check = function(_, _, answer)
      assert.matches("closed", answer.closed)
      assert.equals("invalid_argument", answer.used_after_close.kind)
      assert.matches("closed transport", answer.used_after_close.message)
    end,
  },
  {
    name = "gives up when nothing comes for the read timeout",
    only = "ngx",
    options = { timeout = 5, read_timeout = 0.2 },
    calls = { { method = "GET", url = "/slow?seconds=2" } },
    check = function(results)
      assert.equals("timeout", results[1].err.kind)
      assert.matches("sent nothing for 0.2 s", results[1].err.message)
      within(results[1], 0.19, 0.6)
    end,
  },
  {
    name = "gives up when a server takes nothing for the send timeout",
    only = "ngx",
    -- The kernel accepts connections to a listener that never calls accept(),
    -- but nobody reads: once the socket buffers are full, sending stalls.
    prepare = function()
      local listener = assert(socket.bind("127.0.0.1", 0, 8))
      local _, port = listener:getsockname()
      return { listener = listener, url = "http://127.0.0.1:" .. port .. "/" }
    end,
    finish = function(context) context.listener:close() end,
    options = { timeout = 5, send_timeout = 0.3 },
    calls = { { method = "POST", url = function(context) return context.url end, body_size = 64 * 1024 * 1024 } },
    check = function(results)
      assert.equals("timeout", results[1].err.kind)
      assert.matches("took nothing for 0.3 s", results[1].err.message)
      assert.is_true(results[1].err.sent)
      within(results[1], 0.29, 2)
    end,
  },
  {
    name = "keeps a connection in nginx's pool past the transport and the nginx request that opened it",
    only = "ngx",
    calls = { { method = "GET", url = "/echo" } },
    check = function(results, context)
      local later = context.run_again{ { method = "GET", url = "/echo" } }[1]
      assert.equals(results[1].headers["x-connection"], later.headers["x-connection"],
        "the pool is nginx's, per worker")
      assert.equals(tostring(tonumber(results[1].headers["x-connection-requests"]) + 1),
        later.headers["x-connection-requests"])
    end,
  },
  {
    name = "verifies certificates against lua_ssl_trusted_certificate, and keeps TLS connections alive",
    only = "ngx",
    path = "/transport/trusting",
    calls = { { method = "GET", url = TLS }, { method = "GET", url = TLS } },
    check = function(results, context)
      assert.equals(200, results[1].status)
      assert.equals("secret page", results[1].body)
      assert.equals(results[1].headers["x-connection"], results[2].headers["x-connection"])
      local lax = context.run_again({ { method = "GET", url = TLS } }, { ssl_verify = false })[1]
      assert.equals(200, lax.status)
      assert.are_not.equal(results[1].headers["x-connection"], lax.headers["x-connection"],
        "an unverified connection is pooled apart from verified ones")
    end,
  },
  {
    name = "trusts the ca_file it is given",
    only = "curl",
    options = function(context) return { ca_file = context.cert } end,
    calls = { { method = "GET", url = TLS, opts = PATIENT } },
    check = function(results)
      assert.equals(200, results[1].status)
      assert.equals("secret page", results[1].body)
    end,
  },
}

-- The server that asks for a client certificate, with the files for it.
local MTLS_CALLS = { { method = "GET", url = { "/", "https", "mtls" }, opts = PATIENT } }
local function mtls_files(context, client)
  local files = { ca_file = context.certs .. "/ca.pem" }
  if client then
    files.client_cert, files.client_key = context.certs .. "/" .. client .. ".pem",
      context.certs .. "/" .. client .. "-key.pem"
  end
  return files
end

table.insert(cases.list, {
  name = "presents the client_cert and client_key it is given to a server that asks for one (mutual TLS)",
  only = "curl",
  options = function(context) return mtls_files(context, "client") end,
  calls = MTLS_CALLS,
  check = function(results, context)
    assert.equals(200, results[1].status)
    assert.equals("hello CN=sinchnumbers-client", results[1].body)
    local without = context.run_again(MTLS_CALLS, mtls_files(context))[1]
    local stranger = context.run_again(MTLS_CALLS, mtls_files(context, "stranger"))[1]
    local mismatched = mtls_files(context, "client")
    mismatched.client_key = context.certs .. "/stranger-key.pem"
    local wrong_key = context.run_again(MTLS_CALLS, mismatched)[1]
    -- nginx's HTTP server finishes the handshake and answers 400 in its own words.
    assert.equals(400, without.status)
    assert.matches("No required SSL certificate was sent", without.body)
    assert.equals(400, stranger.status)
    assert.matches("The SSL certificate error", stranger.body)
    -- A key that is not the certificate's fails before a byte is sent.
    assert.equals("network", wrong_key.err.kind)
    assert.matches("private key", wrong_key.err.message)
    assert.is_false(wrong_key.err.sent)
  end,
})

-- Proxies (spec/support/tinyproxy.lua): context.proxy lets anyone through,
-- context.guarded asks for context.credentials; CONNECT reaches the TLS server only.
local PROXIED = { "/proxied", "https", "tls" }

-- Options that trust the TLS server: the curl transport's ca_file (the ngx
-- cases run under /transport/trusting instead).
local function trusting(context, options)
  if context.transport == "curl" then options.ca_file = context.cert end
  return options
end

local function with_credentials(proxy, credentials)
  return "http://" .. credentials .. "@" .. proxy.url:sub(#"http://" + 1)
end

local PROXY_CASES = {
  {
    name = "reaches an https server through a proxy's CONNECT tunnel, the certificate verified end to end",
    path = "/transport/trusting",
    options = function(context) return trusting(context, { proxy = context.proxy.url }) end,
    calls = { { method = "GET", url = PROXIED, opts = PATIENT } },
    check = function(results, context)
      assert.equals(200, results[1].status)
      assert.equals("secret page", results[1].body)
      assert.matches("CONNECT 127.0.0.1:" .. context.tls_port, context.proxy.log(), 1, true)
      if context.transport == "curl" then
        local untrusted = context.run_again({ { method = "GET", url = PROXIED, opts = PATIENT } },
          { proxy = context.proxy.url })[1]
        assert.equals("network", untrusted.err.kind, "the server's certificate is checked through the tunnel")
        assert.is_false(untrusted.err.sent)
      end
    end,
  },
  {
    name = "sends a plain http request through the proxy with the absolute URL in its request line",
    options = function(context) return { proxy = context.proxy.url } end,
    calls = { { method = "GET", url = "/echo?via=proxy" } },
    check = function(results, context)
      assert.equals(200, results[1].status)
      assert.equals("/echo?via=proxy", echoed(results[1]).uri)
      assert.matches(("GET http://127.0.0.1:%d/echo?via=proxy"):format(context.port), context.proxy.log(), 1, true)
    end,
  },
  {
    name = "reaches the hosts in no_proxy directly",
    options = function(context) return { proxy = context.proxy.url, no_proxy = "example.com,127.0.0.1" } end,
    calls = { { method = "GET", url = "/echo?reached=directly" } },
    check = function(results, context)
      assert.equals(200, results[1].status)
      assert.is_nil(context.proxy.log():find("reached=directly", 1, true))
    end,
  },
  {
    name = "opens the tunnel with the proxy's credentials; wrong ones fail without the credentials in the error",
    path = "/transport/trusting",
    options = function(context)
      -- Percent-encoded, as in any URL ("%34" is "4").
      local encoded = context.credentials:gsub("4", "%%34")
      return trusting(context, { proxy = with_credentials(context.guarded, encoded) })
    end,
    calls = { { method = "GET", url = PROXIED, opts = PATIENT } },
    check = function(results, context)
      assert.equals(200, results[1].status)
      local plain = context.run_again({ { method = "GET", url = "/echo?through=guarded" } },
        { proxy = with_credentials(context.guarded, context.credentials) })[1]
      assert.equals(200, plain.status, "a plain request carries Proxy-Authorization too")
      local wrong = context.run_again({ { method = "GET", url = PROXIED, opts = PATIENT } },
        trusting(context, { proxy = with_credentials(context.guarded, "sinch:wrong-secret") }))[1]
      assert.equals("network", wrong.err.kind)
      assert.is_false(wrong.err.sent, "the request never left: the tunnel was refused")
      -- tinyproxy says 401 where RFC 9110 says 407.
      assert.matches("40[17]", wrong.err.message)
      for _, secret in ipairs { "wrong-secret", "proxypass", "sinch:" } do
        assert.is_nil(wrong.err.message:find(secret, 1, true), wrong.err.message)
        assert.is_nil(context.guarded.log():find(secret, 1, true), "the proxy's log")
      end
    end,
  },
}
for _, case in ipairs(PROXY_CASES) do
  case.needs = "tinyproxy"
  table.insert(cases.list, case)
end

-- Options each new() must refuse (with nil, err) or take: the contract's, then each transport's own.
cases.options = {
  all = {
    refused = {
      { timeout = 0 }, { timeout = "soon" }, { timeout = 86401 }, { connect_timeout = -1 }, { max_body_size = 0 },
      { max_body_size = 1.5 }, { user_agent = "a\r\nX-Injected: 1" }, { user_agent = 2 }, { success_headers = "no" },
      { timout = 3 }, { proxy = "https://127.0.0.1:3128" }, { proxy = "http://127.0.0.1" }, { proxy = true },
      { proxy = "http://127.0.0.1:3128/path" }, { no_proxy = "a/b" }, { no_proxy = 1 },
    },
    taken = {
      {}, { proxy = false }, { proxy = "http://u:p%40ss@127.0.0.1:3128", no_proxy = "*" }, { no_proxy = "" },
      { timeout = 0.5, connect_timeout = 1, max_body_size = 10, success_headers = false, user_agent = "x" },
    },
  },
  curl = {
    refused = {
      { ca_file = 1 }, { pool_size = 4 }, { ca_file = "/nonexistent/ca.pem" }, { client_cert = "/nonexistent/c.pem" },
      { client_key = "/etc/ssl/certs/ca-certificates.crt" },
    },
    taken = {
      { ca_file = "/etc/ssl/certs/ca-certificates.crt" },
      { client_cert = "/etc/ssl/certs/ca-certificates.crt", client_key = "/etc/ssl/certs/ca-certificates.crt" },
    },
  },
  ngx = {
    refused = {
      { ca_file = "/etc/ssl/cert.pem" }, { client_cert = "/etc/ssl/certs/ca-certificates.crt" },
      { client_key = "/etc/ssl/certs/ca-certificates.crt" },
      { pool_size = 1.5 }, { read_timeout = -1 }, { ssl_verify = "yes" },
    },
    taken = {
      { timeout = 0.5, keepalive_timeout = 10, pool_size = 4, send_timeout = 1, read_timeout = 1, ssl_verify = false },
    },
  },
}

return cases
