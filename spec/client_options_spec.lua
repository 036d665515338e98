-- sinchnumbers.new, from_env, the options, custom transports and tostring.
local helper = require "support.client_helper"
local sinchnumbers = require "sinchnumbers"

local REQUIRED = { project_id = "p", key_id = "k", key_secret = "s" }

local function with(extra)
  local options = {}
  for name, value in pairs(REQUIRED) do options[name] = value end
  for name, value in pairs(extra) do options[name] = value end
  return options
end

-- A transport that answers every request with one canned answer, and
-- remembers what it was asked.
local function canned_transport(status, headers, body)
  local transport = { calls = {} }
  function transport:request(method, url, request_headers, request_body, opts)
    self.calls[#self.calls + 1] = {
      method = method, url = url, headers = request_headers, body = request_body, opts = opts,
    }
    if status == nil then return nil, headers end
    return status, headers, body
  end
  return transport
end

describe("sinchnumbers.new", function()
  it("makes a client with the defaults", function()
    local client = assert(sinchnumbers.new(REQUIRED))
    assert.equal("p", client.project_id)
    assert.equal("https://numbers.api.sinch.com", client.base_url)
    assert.equal("sinchnumbers client (project p, https://numbers.api.sinch.com)", tostring(client))
  end)

  it("holds what the user sees, its pipeline and its prepared requests: no other state", function()
    local function names_of(value)
      local names = {}
      for name in next, value do names[#names + 1] = name end
      table.sort(names)
      return names
    end
    local client = assert(sinchnumbers.new(with { deadline = 5, on_request = function() end }))
    assert.same({ "_pipeline", "_requests", "base_url", "project_id" }, names_of(client))
    assert.same({ "auth", "budget", "clock", "deadline", "logging", "max_retries", "on_request", "owns_transport",
      "precise_clock", "sleep", "sleep_yields", "timeouts", "transport" }, names_of(client._pipeline))
  end)

  it("drops a trailing slash from base_url", function()
    local client = assert(sinchnumbers.new(with { base_url = "http://127.0.0.1:9/" }))
    assert.equal("http://127.0.0.1:9", client.base_url)
  end)

  local BAD_OPTIONS = {
    { "options not a table", "p", "options must be a table" },
    { "unknown option", with { projectId = "p" }, 'unknown option "projectId"; did you mean "project_id"?' },
    { "misspelt timeout", with { timout = 1 }, 'did you mean "timeout"?' },
    { "missing project_id", { key_id = "k", key_secret = "s" }, "project_id is required" },
    { "project_id ..", with { project_id = ".." }, 'project_id must be your Sinch project id: a non-empty string'
      .. ' other than "." or "..", without "/", "?" or "#" (got "..")' },
    { "project_id .", with { project_id = "." }, 'other than "." or ".."' },
    { "project_id with a slash", with { project_id = "p/../q" }, '(got "p/../q")' },
    { "project_id with a ?", with { project_id = "p?x=1" }, 'without "/", "?" or "#"' },
    { "project_id with a #", with { project_id = "p#x" }, 'without "/", "?" or "#"' },
    { "project_id blank", with { project_id = "  " }, "project_id must be your Sinch project id" },
    { "empty key_id", with { key_id = "" }, "key_id must be a non-empty string" },
    { "key_secret not a string", with { key_secret = 12 }, "key_secret must be a non-empty string" },
    { "auth not in the enum", with { auth = "bearer" }, 'auth must be one of "oauth2", "basic"' },
    { "base_url not http(s)", with { base_url = "ftp://x" }, "base_url must be an http:// or https:// URL" },
    { "auth_url not a URL", with { auth_url = "auth.sinch.com" }, "auth_url must be an http:// or https:// URL" },
    { "timeout 0", with { timeout = 0 }, "timeout must be a number of seconds above 0" },
    { "connect_timeout a string", with { connect_timeout = "10" }, "connect_timeout must be a number" },
    { "max_retries negative", with { max_retries = -1 }, "max_retries must be an integer from 0 to 10" },
    { "max_retries fractional", with { max_retries = 1.5 }, "max_retries must be an integer" },
    { "transport unknown name", with { transport = "http" }, 'transport must be "curl", "ngx", or an object' },
    { "transport without request", with { transport = {} }, "request(method, url, headers, body, opts)" },
    { "transport ngx outside nginx", with { transport = "ngx" },
      'transport "ngx" (cosockets) works only inside nginx' },
    { "token_cache without set", with { token_cache = { get = function() end } }, "get(key) and set(key, value, ttl)" },
    { "sleep not a function", with { sleep = 1 }, "sleep must be a function" },
    { "user_agent with a line break", with { user_agent = "myapp/1.2\r\nX-Injected: 1" },
      'user_agent must be a product token of your application such as "myapp/1.2", without a line break' },
    { "user_agent empty", with { user_agent = " " }, "user_agent must be a product token" },
    { "user_agent not a string", with { user_agent = 1.2 }, "user_agent must be a product token" },
    { "ca_file missing", with { ca_file = "/nonexistent/ca.pem" },
      'ca_file must be the path of a readable file: a CA bundle (PEM) to trust (got "/nonexistent/ca.pem")' },
    { "proxy not http://host:port, its credentials not echoed", with { proxy = "socks5://user:hunter2@proxy:1080" },
      'proxy must be an http:// URL with a port, "http://[user:password@]host:port", or false for no proxy' },
    { "client_key without client_cert", with { client_key = "/etc/ssl/certs/ca-certificates.crt" },
      "client_key needs client_cert" },
  }

  for _, case in ipairs(BAD_OPTIONS) do
    it("refuses " .. case[1], function()
      local client, err = sinchnumbers.new(case[2])
      assert.is_nil(client)
      assert.equal("invalid_argument", err.kind)
      assert.is_truthy(err.message:find(case[3], 1, true), err.message)
      assert.matches("^sinchnumbers: invalid_argument: sinchnumbers.new: ", tostring(err))
    end)
  end
end)

describe("the proxy option", function()
  local tinyproxy = require "support.tinyproxy"
  local server, new_client = helper.with_fake()

  it("reaches the transport: the client's calls and token requests go through the proxy", function()
    if not tinyproxy.available() then return pending("needs tinyproxy (make deps)") end
    local proxy = tinyproxy.start { connect_ports = {} }
    finally(proxy.stop)
    local client = new_client { proxy = proxy.url, transport = "curl" }
    assert(client:list_available_regions())
    assert.matches("POST " .. server.url .. "/oauth2/token", proxy.log(), 1, true)
    assert.matches("GET " .. server.url .. helper.path("/availableRegions"), proxy.log(), 1, true)
    local direct = new_client { proxy = proxy.url, no_proxy = "127.0.0.1", transport = "curl" }
    local before = #proxy.log()
    assert(direct:list_available_regions())
    assert.is_nil(proxy.log():find("availableRegions", before + 1, true), "no_proxy reaches the fake directly")
  end)

  it("is never echoed in an error: it may hold a password", function()
    local _, err = sinchnumbers.new(with { proxy = "http://user:hunter2@proxy" })
    assert.equal("invalid_argument", err.kind)
    assert.is_nil(tostring(err):find("hunter2", 1, true), tostring(err))
  end)
end)

describe("the TLS files", function()
  it("reach the libcurl transport: a client_key that is not client_cert's fails before a byte is sent", function()
    local dir = assert(io.popen("mktemp -d /tmp/sinchnumbers-cert.XXXXXX")):read("*l")
    finally(function() os.execute("rm -rf " .. dir) end)
    assert(os.execute(("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=client"
      .. " -keyout key.pem -out cert.pem >/dev/null 2>&1 && openssl genrsa -out other.pem 2048 >/dev/null 2>&1")
      :format(dir)))
    -- A listener that never speaks TLS: libcurl loads the client's files once connected.
    local listener = assert(require("socket").bind("127.0.0.1", 0))
    finally(function() listener:close() end)
    local _, port = listener:getsockname()
    local client = assert(sinchnumbers.new(with {
      auth = "basic", base_url = "https://127.0.0.1:" .. port, transport = "curl", connect_timeout = 5, timeout = 5,
      client_cert = dir .. "/cert.pem", client_key = dir .. "/other.pem", max_retries = 0,
    }))
    local result, err = client:list_available_regions()
    assert.is_nil(result)
    assert.equal("network", err.kind)
    assert.matches("private key", err.message)
  end)
end)

describe("sinchnumbers.new with hostile options", function()
  local function raising(fields, event)
    return setmetatable(fields, { [event] = function() error(event .. " raised") end })
  end

  it("never raises, whatever the metatables of the options and their values do", function()
    local cases = {
      raising(with {}, "__index"),
      raising(with {}, "__pairs"),
      raising(with {}, "__len"),
      setmetatable({}, { __index = REQUIRED }),
      with { transport = raising({}, "__index") },
      with { token_cache = raising({ get = function() end, set = function() end }, "__index") },
      with { transport = setmetatable({}, { __index = function() return function() end end }) },
      with { on_request = raising({}, "__call") },
    }
    for i, options in ipairs(cases) do
      local ok, client, err = pcall(sinchnumbers.new, options)
      assert.is_true(ok, "case " .. i .. ": " .. tostring(client))
      assert.is_true(client ~= nil or err.kind == "invalid_argument", "case " .. i)
    end
    -- Read raw: fields that only __index gives are not there.
    local _, err = sinchnumbers.new(setmetatable({}, { __index = REQUIRED }))
    assert.matches("project_id is required", err.message)
    for _, options in ipairs{ raising(with {}, "__index"), raising(with {}, "__pairs") } do
      local ok, client = pcall(sinchnumbers.from_env, options)
      assert.is_true(ok, tostring(client))
    end
  end)
end)

describe("a custom transport", function()
  it("is used for every request, with the timeouts", function()
    local transport = canned_transport(200, {}, '{"availableRegions":[]}')
    local client = assert(sinchnumbers.new(with { auth = "basic", transport = transport, timeout = 3 }))
    assert.same({ availableRegions = {} }, assert(client:list_available_regions()))
    assert.equal(1, #transport.calls)
    local call = transport.calls[1]
    assert.equal("GET", call.method)
    assert.equal("https://numbers.api.sinch.com/v1/projects/p/availableRegions", call.url)
    assert.same({ timeout = 3, connect_timeout = 10, idempotent = true }, call.opts)
  end)

  it("is told which requests are idempotent: an update may ride a kept-alive connection, a rent may not", function()
    local transport = canned_transport(200, {}, '{"phoneNumber":"+12065550100"}')
    local client = assert(sinchnumbers.new(with { auth = "basic", transport = transport }))
    assert(client:update_active_number("+12065550100", { displayName = "Support" }))
    assert(client:rent_number("+12065550100", {}))
    assert.equal("PATCH", transport.calls[1].method)
    assert.is_true(transport.calls[1].opts.idempotent)
    assert.equal("POST", transport.calls[2].method)
    assert.is_nil(transport.calls[2].opts.idempotent, "a rent goes out as today: on a fresh connection")
    -- Near a deadline the timeouts are cut for the try; the flag stays.
    assert(client:update_active_number("+12065550100", { displayName = "Support" }, { deadline = 0.5 }))
    assert.is_true(transport.calls[3].opts.cut)
    assert.is_true(transport.calls[3].opts.idempotent)
  end)

  it("may fail with a plain string: kind network", function()
    local transport = canned_transport(nil, "no route")
    local client = assert(sinchnumbers.new(with { auth = "basic", transport = transport, max_retries = 1,
      sleep = function() end }))
    local _, err = client:list_available_regions()
    assert.equal("network", err.kind)
    assert.equal("no route", err.message)
    assert.equal(2, err.attempts)
  end)

  it("an empty 2xx answer is decode: every endpoint answers an object", function()
    local client = assert(sinchnumbers.new(with { auth = "basic", transport = canned_transport(204, {}, "") }))
    local none, err = client:get_callback_configuration()
    assert.is_nil(none)
    assert.equal("decode", err.kind)
    assert.matches("the answer is empty", err.message)
  end)
end)

describe("client:close()", function()
  local server = helper.with_fake()

  local function closed_transport(transport)
    local status, problem = transport:request("GET", server.url .. "/", {}, nil)
    return status == nil and problem.kind == "invalid_argument" and problem.message:find("closed", 1, true) ~= nil
  end

  it("closes the libcurl transport it made; later calls say the client is closed; safe twice", function()
    local client = helper.client(server, { auth = "basic" })
    assert(client:list_available_regions())
    local transport = client._pipeline.transport
    assert.is_true(client:close())
    assert.is_true(closed_transport(transport))
    assert.is_true(client:close())
    server:clear_requests()
    local none, err = client:list_available_regions({}, { timeout = 1 })
    assert.is_nil(none)
    assert.equal("invalid_argument", err.kind)
    assert.equal("list_available_regions: the client is closed (client:close() was called): nothing was sent;"
      .. " make a new client", err.message)
    local _, page_err = pcall(function() for _ in client:each_active_number() do end end)
    assert.matches("the client is closed", tostring(page_err))
    assert.equal(0, #server:requests())
  end)

  it("leaves a transport of the caller's own open: it may serve other clients", function()
    local transport = canned_transport(200, {}, '{"availableRegions":[]}')
    transport.close = function() error("closed the caller's transport") end
    local client = assert(sinchnumbers.new(with { auth = "basic", transport = transport }))
    assert.is_true(client:close())
    local _, err = client:list_available_regions()
    assert.matches("the client is closed", err.message)
    assert.equal(0, #transport.calls)
  end)

  it("is the client's __close: a <close> variable closes it on 5.4", function()
    if _VERSION ~= "Lua 5.4" then return pending("<close> is Lua 5.4 only") end
    local client = helper.client(server, { auth = "basic" })
    local transport = client._pipeline.transport
    assert(load("local client <close> = ...; assert(client:list_available_regions())"))(client)
    assert.is_true(closed_transport(transport))
  end)

  it("is not closed by the collector under a call that nothing else holds it for", function()
    -- Made and used in one expression, the client is unreachable while its
    -- call runs (the method ends in a tail call): a finalizer closing it then
    -- would make the retry after this 503 fail with a closed transport.
    server:script { path = "availableRegions", status = 503 }
    local collect = function() collectgarbage(); collectgarbage() end
    local regions, err = helper.client(server, { auth = "basic", on_request = collect }):list_available_regions()
    assert.is_nil(err)
    assert.is_table(regions.availableRegions)
  end)
end)

describe("sinchnumbers.from_env", function()
  local server = helper.with_fake()
  local stderr_path = os.tmpname()

  -- What the last child wrote to stderr, for failure messages.
  local function stderr_of_child()
    local file = io.open(stderr_path)
    local text = file and file:read("*a") or ""
    if file then file:close() end
    return "child's stderr: " .. text
  end

  teardown(function()
    os.remove(stderr_path)
  end)

  -- Runs a Lua snippet in a child with the given environment; returns what it
  -- printed. Its stderr is kept apart (under make check-memory a sanitizer may
  -- write there at the child's exit) and shown if the output is not as expected.
  local function run_with_env(env, code)
    local assignments = {}
    for name, value in pairs(env) do assignments[#assignments + 1] = name .. "='" .. value .. "'" end
    local command = table.concat(assignments, " ") .. " " .. helper.lua_command(code) .. " 2>" .. stderr_path
    local pipe = assert(io.popen(command))
    local output = pipe:read("*a")
    pipe:close()
    return output
  end

  it("reads SINCH_PROJECT_ID, SINCH_KEY_ID, SINCH_KEY_SECRET, SINCH_NUMBERS_URL and SINCH_AUTH_URL", function()
    local output = run_with_env({
      SINCH_PROJECT_ID = helper.PROJECT_ID, SINCH_KEY_ID = helper.KEY_ID, SINCH_KEY_SECRET = helper.KEY_SECRET,
      SINCH_NUMBERS_URL = server.url, SINCH_AUTH_URL = server.url .. "/oauth2/token",
    }, [[
      local client = assert(require("sinchnumbers").from_env())
      local config = assert(client:get_callback_configuration())
      print(tostring(client), config.projectId)
    ]])
    assert.equal("sinchnumbers client (project test-project, " .. server.url .. ")\ttest-project\n", output,
      stderr_of_child())
  end)

  it("says which variable is missing", function()
    local output = run_with_env({ SINCH_PROJECT_ID = "p", SINCH_KEY_ID = "k" }, [[
      local client, err = require("sinchnumbers").from_env()
      print(client, err.kind, err.message)
    ]])
    assert.matches("nil\tinvalid_argument\tsinchnumbers.from_env: SINCH_KEY_SECRET is not set", output, 1, true,
      stderr_of_child())
  end)

  it("takes options on top", function()
    local output = run_with_env({ SINCH_PROJECT_ID = "p", SINCH_KEY_ID = "k" }, [[
      local client = assert(require("sinchnumbers").from_env { key_secret = "s", base_url = "http://127.0.0.1:9" })
      print(tostring(client))
    ]])
    assert.equal("sinchnumbers client (project p, http://127.0.0.1:9)\n", output, stderr_of_child())
  end)
end)
