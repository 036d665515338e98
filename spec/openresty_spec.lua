-- The client under OpenResty: the cosocket transport and the shared token,
-- inside a real nginx (Debian's, with its Lua module) that this spec starts on
-- loopback. Busted only drives: it posts a plan to a location of the test
-- nginx, a handler in spec/openresty/cases.lua carries it out with cosockets,
-- and the answer says what happened.
local nginx = require "support.nginx"
local addresses = require "support.addresses"
local hostile = require "support.hostile"
local shell = require "support.shell"
local socket = require "socket"
local cjson = require "cjson"

-- Sends one request to the test nginx; returns the open connection.
local function send_request(port, method, path, body)
  local connection = assert(socket.connect("127.0.0.1", port))
  connection:settimeout(30)
  assert(connection:send(("%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s")
    :format(method, path, #(body or ""), body or "")))
  return connection
end

-- Reads the answer to send_request (HTTP/1.0: until the server closes);
-- returns its JSON decoded, and as text. Raises with nginx's error log when
-- the handler failed.
local function read_answer(server, connection, path)
  local response = assert(connection:receive("*a"))
  connection:close()
  local status, answer = response:match("^HTTP/1%.%d (%d+).-\r\n\r\n(.*)$")
  if status ~= "200" then
    error(("%s answered %s:\n%s\n%s"):format(path, tostring(status), answer, server.error_log()), 3)
  end
  return cjson.decode(answer), answer
end

-- Posts a plan as JSON and returns the decoded answer.
local function drive(server, path, plan)
  return read_answer(server, send_request(server.port, "POST", path, cjson.encode(plan)), path)
end

-- Posts every plan at once, each on its own connection, then reads every
-- answer: as many requests in flight in nginx as there are plans.
local function drive_concurrently(server, path, plans)
  local connections = {}
  for i, plan in ipairs(plans) do
    connections[i] = send_request(server.port, "POST", path, cjson.encode(plan))
  end
  local answers = {}
  for i, connection in ipairs(connections) do answers[i] = read_answer(server, connection, path) end
  return answers
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
    location /empty { return 204; }
    location /flaky { content_by_lua_block { require("openresty.cases").flaky() } }
    location /huge-header { content_by_lua_block { require("openresty.cases").huge_header() } }
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

  it("reads no body after HEAD or a 204, and keeps the connection", function()
    local results = run{
      { method = "HEAD", url = url("/echo") },
      { method = "GET", url = url("/empty") },
      { method = "GET", url = url("/echo") },
    }
    assert.equals(200, results[1].status)
    assert.equals("", results[1].body)
    assert.equals(204, results[2].status)
    assert.equals("", results[2].body)
    local requests = tonumber(results[1].headers["x-connection-requests"])
    assert.equals(results[1].headers["x-connection"], results[3].headers["x-connection"])
    assert.equals(tostring(requests + 2), results[3].headers["x-connection-requests"])
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
    assert.equals("response headers larger than the limit of 262144 bytes", results[5].err.message)
  end)

  it("returns nil, err for a malformed chunk size (zz, -5, junk), never raises, and keeps working", function()
    local results = run{
      { method = "GET", url = url("/raw?answer=chunk_zz") },
      { method = "GET", url = url("/raw?answer=chunk_minus") },
      { method = "POST", url = url("/raw?answer=chunk_junk"), body = "{}" },
      { method = "GET", url = url("/raw?answer=chunk_20_digits") },
      { method = "GET", url = url("/echo") },
    }
    for i = 1, 3 do
      assert.equals("network", results[i].err.kind, i)
      assert.is_true(results[i].err.sent, i)
      assert.matches("bad chunk size line", results[i].err.message, 1, true)
    end
    assert.equals("too_large", results[4].err.kind)
    assert.equals(200, results[5].status)
  end)

  it("reads a header with a long run of inner spaces in linear time, a few bytes at a time", function()
    local result = one{ method = "GET", url = url("/raw?answer=spaces&piece=7") }
    assert.equals(200, result.status)
    assert.equals("a" .. string.rep(" ", 30000) .. "b", result.headers["x-spaces"])
    assert.equals("ok", result.body)
    assert.is_true(result.elapsed < 2, "took " .. result.elapsed .. " s")
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
    assert.matches("sent nothing for 0.2 s", result.err.message)
    assert.is_true(result.elapsed >= 0.19 and result.elapsed < 0.6, "took " .. result.elapsed)
  end)

  it("gives up when a server takes nothing for the send timeout", function()
    -- The kernel accepts connections to a listener that never calls accept(),
    -- but nobody reads: once the socket buffers are full, sending stalls.
    local listener = assert(socket.bind("127.0.0.1", 0, 8))
    local _, port = listener:getsockname()
    local result = one({ method = "POST", url = "http://127.0.0.1:" .. port .. "/", body_size = 64 * 1024 * 1024 },
      { timeout = 5, send_timeout = 0.3 })
    listener:close()
    assert.equals("timeout", result.err.kind)
    assert.matches("took nothing for 0.3 s", result.err.message)
    assert.is_true(result.err.sent)
    assert.is_true(result.elapsed >= 0.29 and result.elapsed < 2, "took " .. result.elapsed)
  end)

  it("gives up connecting after the connect timeout, and says nothing was sent", function()
    local nowhere, close_listener = addresses.unaccepting_url()
    local result = one({ method = "POST", url = nowhere .. "/", body = "{}",
                         opts = { connect_timeout = 0.5, timeout = 5 } })
    close_listener()
    assert.equals("timeout", result.err.kind)
    assert.is_false(result.err.sent)
    assert.is_true(result.elapsed >= 0.49 and result.elapsed < 1.0, "took " .. result.elapsed)
  end)

  it("reports a refused connection as a network error with nothing sent", function()
    local result = one{ method = "POST", url = addresses.refused_url() .. "/", body = "{}" }
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

local CLIENT_SERVER = [[
  lua_socket_log_errors off;
  # Plans with long arguments stay in memory, where the handler reads them.
  client_body_buffer_size 1m;
  lua_shared_dict sinch_tokens 1m;
  ${early}
  server {
    # reuseport: the kernel spreads connections over the workers.
    listen 127.0.0.1:${port} reuseport;
    location = /client { content_by_lua_block { require("openresty.cases").client() } }
    location = /client/early { content_by_lua_block { require("openresty.cases").early() } }
  }
]]

describe("the client inside nginx", function()
  local fake_server, one_worker, two_workers

  local function client_options(extra)
    local options = {
      project_id = "test-project", key_id = "test-key-id", key_secret = "test-key-secret",
      base_url = fake_server.url, auth_url = fake_server.url .. "/oauth2/token",
    }
    for name, value in pairs(extra or {}) do options[name] = value end
    return options
  end

  local function requests_to(path_part)
    local found = {}
    for _, request in ipairs(fake_server:requests()) do
      if request.path:find(path_part, 1, true) then found[#found + 1] = request end
    end
    return found
  end

  -- What the clients made in init_by_lua and in init_worker's timer found.
  local function early_results()
    return read_answer(one_worker, send_request(one_worker.port, "GET", "/client/early"), "/client/early")
  end

  setup(function()
    fake_server = require("sinchnumbers.fake").spawn{ lua = "lua5.4" }
    local early_hooks = ([[
      init_by_lua_block { require("openresty.early").init("%s") }
      init_worker_by_lua_block { require("openresty.early").init_worker() }
    ]]):format(fake_server.url)
    one_worker = nginx.start{ http = CLIENT_SERVER:gsub("%${early}", early_hooks) }
    two_workers = nginx.start{ http = CLIENT_SERVER:gsub("%${early}", ""), workers = 2 }
    -- The timer's requests must be over before the tests count requests.
    for _ = 1, 100 do
      if early_results().timer then break end
      socket.sleep(0.05)
    end
  end)

  teardown(function()
    if one_worker then one_worker.stop() end
    if two_workers then two_workers.stop() end
    if fake_server then fake_server:stop() end
  end)

  before_each(function()
    fake_server:reset()
  end)

  it("runs every operation through the cosocket transport", function()
    local options = client_options{ transport = "ngx" }
    local found = drive(one_worker, "/client", { name = "every-operation", options = options, calls = {
      { method = "list_available_numbers", args = { { regionCode = "US", type = "LOCAL" } } },
    } }).calls[1]
    assert.is_nil(found.err)
    local first = found.result.availableNumbers[1].phoneNumber

    local calls = drive(one_worker, "/client", { name = "every-operation", options = options, calls = {
      { method = "list_available_regions", args = { { types = { "LOCAL" } } } },
      { method = "get_available_number", args = { first } },
      { method = "rent_number", args = { first, { callbackUrl = "https://example.com/hook" } } },
      { method = "rent_any_number", args = { { regionCode = "US", type = "LOCAL" } } },
      { method = "get_active_number", args = { first } },
      { method = "update_active_number", args = { first, { displayName = "from nginx" } } },
      { method = "list_active_numbers", args = { { regionCode = "US", pageSize = 1 } } },
      { method = "all_active_numbers", args = { { regionCode = "US", pageSize = 1 } } },
      { method = "each_active_number", args = { { pageSize = 1 } }, iterate = true },
      { method = "active_number_pages", args = { { pageSize = 1 } }, iterate = true },
      { method = "update_callback_configuration", args = { { hmacSecret = "from-nginx" } } },
      { method = "get_callback_configuration" },
      { method = "release_number", args = { first } },
      { method = "get_active_number", args = { first } },
      { method = "get_active_number", args = { "not a number" } },
    } }).calls
    for i = 1, 13 do
      assert.is_nil(calls[i].err, ("call %d: %s"):format(i, tostring(calls[i].err and calls[i].err.message)))
    end
    assert.is_true(#calls[1].result.availableRegions > 0)
    assert.equals(first, calls[2].result.phoneNumber)
    assert.equals(first, calls[3].result.phoneNumber)
    assert.equals("US", calls[4].result.regionCode)
    assert.equals(first, calls[5].result.phoneNumber)
    assert.equals("from nginx", calls[6].result.displayName)
    assert.equals(1, #calls[7].result.activeNumbers)
    assert.equals(2, #calls[8].result)
    assert.equals(2, #calls[9].result)
    assert.equals(2, #calls[10].result, "two pages of one number")
    assert.equals("from-nginx", calls[12].result.hmacSecret)
    assert.equals(first, calls[13].result.phoneNumber)
    assert.equals("not_found", calls[14].err.kind)
    assert.equals("invalid_argument", calls[15].err.kind)

    -- One token for the whole run, and the fake saw every kind of call.
    assert.equals(1, #requests_to("/oauth2/token"))
    local seen = {}
    for _, request in ipairs(fake_server:requests()) do
      local shape = request.path:gsub("^/v1/projects/test%-project", ""):gsub("%?.*", ""):gsub("%%2B%d+", "{phone}")
      seen[request.method .. " " .. shape] = true
    end
    for _, expected in ipairs{
      "GET /availableRegions", "GET /availableNumbers", "GET /availableNumbers/{phone}",
      "POST /availableNumbers/{phone}:rent", "POST /availableNumbers:rentAny", "GET /activeNumbers",
      "GET /activeNumbers/{phone}", "PATCH /activeNumbers/{phone}", "POST /activeNumbers/{phone}:release",
      "GET /callbackConfiguration", "PATCH /callbackConfiguration",
    } do
      assert.is_true(seen[expected], expected)
    end
  end)

  it("serves 20 requests at once from one worker, each waiting 300 ms for Sinch", function()
    -- No transport option: the client picks cosockets in a content handler.
    local plan = { name = "automatic", options = client_options(), calls = {
      { method = "list_active_numbers", args = { { regionCode = "US" } } },
    } }
    assert.is_nil(drive(one_worker, "/client", plan).calls[1].err) -- the token, ahead of time
    fake_server:script{ path = "activeNumbers", delay = 0.3, count = 20 }
    local plans = {}
    for i = 1, 20 do plans[i] = plan end

    local started = socket.gettime()
    local answers = drive_concurrently(one_worker, "/client", plans)
    local elapsed = socket.gettime() - started

    for _, answer in ipairs(answers) do
      assert.is_nil(answer.calls[1].err)
      assert.is_true(answer.calls[1].elapsed >= 0.29, "the fake held each answer 300 ms")
      assert.equals(answers[1].worker, answer.worker)
    end
    -- One after another they would take 6 s; together, about one delay.
    assert.is_true(elapsed < 2, "20 requests took " .. elapsed .. " s")
  end)

  it("takes the transport it is given: libcurl (the C core loads in nginx) or the caller's", function()
    local calls = { { method = "list_available_regions" }, { method = "get_callback_configuration" } }
    local curl = drive(one_worker, "/client", { options = client_options{ transport = "curl" }, calls = calls })
    assert.is_nil(curl.calls[1].err)
    assert.is_nil(curl.calls[2].err)
    local own = drive(one_worker, "/client", { options = client_options{ transport = "counting" }, calls = calls })
    assert.is_nil(own.calls[2].err)
    assert.equals(3, own.transport_requests, "a token and two calls")
  end)

  it("takes a rent whose answer has headers over the cap as unclear, and refuses an overlong URL", function()
    local phone = "+12065550100"
    local active_number = ('{"phoneNumber":"%s"}'):format(phone)
    local server = hostile.start {
      { method = "GET", path = "/activeNumbers/",
        answer = ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"):format(#active_number, active_number) },
      { answer = "HTTP/1.1 200 OK\r\n" .. ("X-Filler: " .. ("f"):rep(1000) .. "\r\n"):rep(300)
        .. "Content-Length: 2\r\n\r\n{}", close = true },
    }
    local options = { project_id = "test-project", key_id = "k", key_secret = "s", auth = "basic",
      base_url = server.url, transport = "ngx" }
    local ok, answer = pcall(drive, one_worker, "/client", { options = options, calls = {
      { method = "rent_number", args = { phone } },
      { method = "list_active_numbers", args = { { pageToken = ("t"):rep(100 * 1024) } } },
    } })
    local requests = server:requests()
    server:stop()
    assert(ok, answer)
    local rent, listing = answer.calls[1].err, answer.calls[2].err
    assert.equals("too_large", rent.kind)
    assert.matches("response headers larger than the limit of 262144 bytes", rent.message)
    assert.matches("it was rented", rent.message)
    assert.equals("invalid_argument", listing.kind)
    assert.matches("above the limit of 65536", listing.message)
    assert.equals(2, #requests, "a rent and its check, and no listing")
  end)

  it("picks libcurl in init_by_lua and cosockets in a timer", function()
    local early = early_results()
    assert.same({ phase = "init", cosockets = false, regions = 5 }, early.init)
    assert.same({ phase = "timer", cosockets = true, regions = 5 }, early.timer)
  end)

  it("runs examples/openresty as written from a folder only root can read, against the fake", function()
    local file = assert(io.open("examples/openresty/nginx.conf"))
    local config = file:read("*a")
    file:close()
    -- The example runs with -p <the checkout>: here the checkout is copied
    -- into the prefix, a folder of mode 0700, and started as the user of the
    -- spec with no `user` line of the spec's. As root, the workers then run
    -- as nobody, who cannot read a single file of it. Only the port and
    -- where nginx keeps its pid and log change.
    config = config:gsub("build/openresty/", "${prefix}/"):gsub("127%.0%.0%.1:8080", "127.0.0.1:${port}")
    local example = nginx.start{ config = config, user = false,
      copy = { "lua", "build/luajit", "examples/openresty" }, env = {
        SINCH_PROJECT_ID = "test-project", SINCH_KEY_ID = "test-key-id", SINCH_KEY_SECRET = "test-key-secret",
        SINCH_NUMBERS_URL = fake_server.url, SINCH_AUTH_URL = fake_server.url .. "/oauth2/token",
      } }
    finally(example.stop)
    local _, mode = shell.run("stat -c %a " .. example.prefix)
    assert.equals("700", mode:match("%d+"))
    local me = select(2, shell.run("id -un")):match("%S+")
    local workers = select(2, shell.run("ps -o user= --ppid " .. example.pid))
    assert.matches("%S", workers, 1, false, "nginx has workers")
    for worker in workers:gmatch("%S+") do
      if me == "root" then assert.are_not.equal("root", worker) else assert.equals(me, worker) end
    end

    local function search(query)
      return read_answer(example, send_request(example.port, "GET", "/numbers?" .. query), "/numbers")
    end
    local found = search("region=US&starts_with=%2B1206")
    assert.is_true(#found.numbers > 0)
    for _, number in ipairs(found.numbers) do
      assert.matches("^%+1206", number.phoneNumber)
      assert.equals("USD", number.currency)
      assert.is_string(number.monthlyPrice)
    end
    local _, none = search("region=US&starts_with=%2B1999")
    assert.matches('"numbers":%[%]', none)
  end)

  it("makes one token request for 50 calls at once on one client without a token cache, and one at expiry", function()
    fake_server:script{ path = "/oauth2/token", delay = 0.3 }
    local plans = {}
    for i = 1, 50 do
      plans[i] = { name = "one-client-50-calls", options = client_options{ transport = "ngx" },
                   calls = { { method = "list_active_numbers" } } }
    end
    for _, answer in ipairs(drive_concurrently(one_worker, "/client", plans)) do
      assert.is_nil(answer.calls[1].err)
    end
    assert.equals(1, #requests_to("/oauth2/token"))
    assert.equals(50, #requests_to("/activeNumbers"))

    fake_server:expire_tokens()
    fake_server:script{ path = "/oauth2/token", delay = 0.3 }
    for _, answer in ipairs(drive_concurrently(one_worker, "/client", plans)) do
      assert.is_nil(answer.calls[1].err)
    end
    assert.equals(2, #requests_to("/oauth2/token"))
  end)

  -- Leaves the shared dict without the tokens and locks a test put there.
  local function flush_token_cache()
    drive(two_workers, "/client", { flush = "sinch_tokens", options = client_options(), calls = {} })
  end

  it("frees the shared token lock when the token request raises: the next call does not wait", function()
    finally(flush_token_cache)
    local answer = drive(two_workers, "/client", { flush = "sinch_tokens", calls = {
      { method = "list_active_numbers" }, { method = "list_active_numbers" },
    }, options = client_options{ token_cache = "sinch_tokens", transport = "raising_once" } })
    assert.equals("raised", answer.calls[1].err.kind)
    assert.matches("the transport broke", answer.calls[1].err.message)
    assert.is_nil(answer.calls[2].err)
    assert.is_true(answer.calls[2].elapsed < 5, "waited " .. answer.calls[2].elapsed .. " s for the lock")
  end)

  it("waits for a leftover lock in real time, with libcurl's sleep that does not yield, then fetches", function()
    finally(flush_token_cache)
    -- A worker died holding the lock, which frees itself after 1 s. socket.sleep
    -- stops nginx's clock (and the dict's expiry) unless the wait reads it anew.
    local answer = drive(two_workers, "/client", { flush = "sinch_tokens", leftover_lock = 1, calls = {
      { method = "list_active_numbers" },
    }, options = client_options{ token_cache = "sinch_tokens", transport = "curl" } })
    assert.is_nil(answer.calls[1].err)
    assert.is_true(answer.calls[1].elapsed >= 0.9 and answer.calls[1].elapsed < 5,
      "took " .. answer.calls[1].elapsed .. " s")
    assert.equals(1, #requests_to("/oauth2/token"))
  end)

  it("makes one token request for 40 calls on two workers sharing a token cache, and one at expiry", function()
    -- The token comes slowly, so every call arrives while it is on its way.
    fake_server:script{ path = "/oauth2/token", delay = 0.3 }
    local plans = {}
    for i = 1, 40 do
      -- A new client for every request: only the shared dict ties them together.
      plans[i] = { options = client_options{ token_cache = "sinch_tokens" }, calls = {
        { method = "list_active_numbers" },
      } }
    end
    local answers = drive_concurrently(two_workers, "/client", plans)

    local workers = {}
    for _, answer in ipairs(answers) do
      assert.is_nil(answer.calls[1].err)
      workers[answer.worker] = true
    end
    assert.equals(2, count_keys(workers), "both workers served")
    assert.equals(1, #requests_to("/oauth2/token"))
    assert.equals(40, #requests_to("/activeNumbers"))

    -- The token expires: 40 calls get a 401 that says so, and one new token
    -- serves them all.
    fake_server:expire_tokens()
    fake_server:script{ path = "/oauth2/token", delay = 0.3 }
    for _, answer in ipairs(drive_concurrently(two_workers, "/client", plans)) do
      assert.is_nil(answer.calls[1].err)
    end
    assert.equals(2, #requests_to("/oauth2/token"))
  end)
end)
