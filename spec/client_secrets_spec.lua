-- No secret in anything the client shows: the key secret, the Basic
-- credentials (base64 of key_id:key_secret) and the access tokens must not
-- appear in an error (its text or any field, however deep), in
-- tostring(client), in what on_request receives, or in a debug trace. Each
-- case drives one kind of failure, collects all of that, and looks for every
-- secret the fake saw on the wire, in the text and in a file written from it.
-- Also: the on_request hook itself.
local helper = require "support.client_helper"
local sinchnumbers = require "sinchnumbers"
local codec = require "sinchnumbers.codec"
local shell = require "support.shell"
local files = require "support.files"

local KEY_ID = "secrets-spec-key-id"
local KEY_SECRET = "Zq9-secrets-spec-k3y-s3cr3t"
local WRONG_SECRET = "Wr0ng-secrets-spec-s3cr3t"
local HMAC_NUMBER = 987654321
-- The fake's tokens look like fake-<hex>-<n>.
local TOKEN_PATTERN = "fake%-%x+%-%d+"

local function read_command(command)
  return (select(2, shell.run(command)))
end

describe("secrets", function()
  local server, new_client = helper.with_fake { key_id = KEY_ID, key_secret = KEY_SECRET }
  local collected, records

  before_each(function()
    collected, records = {}, {}
  end)

  -- Every string inside `value`: keys, values, tostring() of tables with a
  -- metatable (error objects), however deep, each table once.
  local function collect(value, label, seen)
    seen = seen or {}
    local kind = type(value)
    if kind == "table" then
      if seen[value] then return end
      seen[value] = true
      local meta = getmetatable(value)
      if meta and meta.__tostring then collected[#collected + 1] = { label, tostring(value) } end
      for key, item in pairs(value) do
        collect(key, label .. "[key]", seen)
        collect(item, label .. "." .. tostring(key), seen)
      end
    elseif kind ~= "nil" then
      collected[#collected + 1] = { label, tostring(value) }
    end
  end

  local function on_request(record)
    records[#records + 1] = record
    collect(record, "on_request")
    collected[#collected + 1] = { "traceback in on_request", debug.traceback("in on_request") }
  end

  local function client_of(options)
    local settings = {
      key_id = KEY_ID, key_secret = KEY_SECRET, sleep = function() end, on_request = on_request,
    }
    for name, value in pairs(options or {}) do settings[name] = value end
    return new_client(settings)
  end

  -- Collects the error of a call that must fail: failed(client:method(...)).
  local function failed(result, err)
    assert.is_nil(result)
    assert.is_table(err)
    collected[#collected + 1] = { "tostring(err)", tostring(err) }
    collect(err, "err")
    return err
  end

  local function options_with(extra)
    local options = { project_id = "p", key_id = KEY_ID, key_secret = KEY_SECRET }
    for name, value in pairs(extra) do options[name] = value end
    return options
  end

  -- Each case: the place a secret could leak, and what fills it. Every case
  -- also looks in what on_request received and in a traceback taken there.
  -- `wire` is the Authorization scheme the case's API requests must carry
  -- to the fake, so that there was a secret to leak.
  local CASES = {
    -- Bad input, found before the wire; some of it around the secret itself.
    { place = "the error for a bad phone number", run = function()
      failed(client_of():get_active_number("abc"))
    end },
    { place = "the error for an unknown parameter", run = function()
      failed(client_of():list_available_numbers { regionCode = "US", type = "LOCAL", x = 1 })
    end },
    { place = "the error for a body that is not JSON, made of the secret", wire = "Bearer", run = function()
      local client = client_of()
      failed(client:rent_number(helper.available_number(client), "{" .. KEY_SECRET))
    end },
    { place = "the error for a number as hmacSecret", run = function()
      failed(client_of():update_callback_configuration { hmacSecret = HMAC_NUMBER })
    end },
    { place = "the error of new() for options with a typo", run = function()
      failed(sinchnumbers.new(options_with { timout = 1 }))
    end },
    { place = "the error of new() for a key_secret in a table", run = function()
      failed(sinchnumbers.new(options_with { key_secret = { KEY_SECRET } }))
    end },
    { place = "the error of new() for a number as key_secret", run = function()
      failed(sinchnumbers.new(options_with { key_secret = HMAC_NUMBER }))
    end },

    -- Transport failures.
    { place = "the error for a timeout", wire = "Bearer", run = function()
      local slow = client_of { timeout = 0.2, max_retries = 0 }
      assert(slow:list_available_regions())
      server:script { path = "availableRegions", delay = 1 }
      failed(slow:list_available_regions())
    end },
    { place = "the error for a refused connection", run = function()
      failed(client_of({ base_url = helper.refused_url(), max_retries = 0 }):list_available_regions())
    end },
    { place = "the error for an answer over max_body_size", wire = "Bearer", run = function()
      failed(client_of({ max_body_size = 100 }):list_available_numbers { regionCode = "US", type = "LOCAL" })
    end },

    -- The token endpoint: a wrong secret (itself a secret), its error_description,
    -- an answer without a token, an expired token, and a refresh that fails.
    { place = "the error for a wrong key secret", run = function()
      local err = failed(client_of({ key_secret = WRONG_SECRET }):list_available_regions())
      assert.equal("invalid_client", err.code)
      assert.matches("^client authentication failed", err.message)
      assert.matches("HTTP 401 invalid_client: client authentication failed", tostring(err))
    end },
    { place = "the error for a wrong key secret under Basic", run = function()
      failed(client_of({ key_secret = WRONG_SECRET, auth = "basic" }):list_available_regions())
    end },
    { place = "the error for the token endpoint's 400 and its error_description", run = function()
      server:script { path = "/oauth2/token", status = 400,
        body = { error = "invalid_request", error_description = "scripted description" } }
      local err = failed(client_of():list_available_regions())
      assert.matches("scripted description", err.message)
    end },
    { place = "the error for a token answer without access_token", run = function()
      server:script { path = "/oauth2/token", status = 200, body = { token_type = "bearer" } }
      failed(client_of():list_available_regions())
    end },
    { place = "the error for an expired token whose refresh fails", wire = "Bearer", run = function()
      local client = client_of()
      assert(client:list_available_regions())
      server:expire_tokens()
      assert(client:list_available_regions()) -- refreshed
      server:expire_tokens()
      server:script { path = "/oauth2/token", status = 500, count = 3 }
      failed(client:list_available_regions())
    end },

    { place = "the error object an iterator raises", wire = "Bearer", run = function()
      local client = client_of()
      assert(client:list_available_regions())
      server:script { path = "activeNumbers", status = 500 }
      local ok, raised = pcall(function()
        for _ in client:each_active_number() do end
      end)
      assert.is_false(ok)
      failed(nil, raised)
    end },
    { place = "tostring(client) and the fields of clients that called", wire = "Bearer", run = function()
      local clients = { client_of(), client_of { auth = "basic" }, client_of { key_secret = WRONG_SECRET } }
      for _, client in ipairs(clients) do
        client:list_available_regions()
        collected[#collected + 1] = { "tostring(client)", tostring(client) }
        collect(client, "client")
      end
    end },
  }

  -- Answers of every kind, under OAuth2 and Basic.
  local FAILING_ANSWERS = {
    { "a 401", function(client)
      server:script { path = "availableRegions", status = 401 }
      return client:list_available_regions()
    end },
    { "a 404", function(client) return client:get_active_number("+12065550100") end },
    { "a 429", function(client)
      server:script { path = "availableRegions", status = 429, headers = { ["Retry-After"] = "120" } }
      return client:list_available_regions()
    end },
    { "503s to every try", function(client)
      server:script { path = "availableRegions", status = 503, count = 3 }
      return client:list_available_regions()
    end },
    { "broken JSON", function(client)
      server:script { path = "availableRegions", fault = "broken_json" }
      return client:list_available_regions()
    end },
    { "JSON nested too deep", function(client)
      server:script { path = "availableRegions", body = string.rep("[", 10000) .. string.rep("]", 10000) }
      return client:list_available_regions()
    end },
    { "a 503 to a rent", function(client)
      local phone_number = helper.available_number(client)
      server:script { path = ":rent", status = 503 }
      return client:rent_number(phone_number)
    end },
  }
  for _, auth in ipairs { { "OAuth2", "oauth2", "Bearer" }, { "Basic", "basic", "Basic" } } do
    for _, answer in ipairs(FAILING_ANSWERS) do
      CASES[#CASES + 1] = { place = ("the error for %s under %s"):format(answer[1], auth[1]), wire = auth[3],
        run = function() failed(answer[2](client_of { auth = auth[2] })) end }
    end
  end

  -- What there is to leak: the secrets and the Basic credentials. The
  -- tokens, which the fake's log masks, are found by their shape.
  local FORBIDDEN = {
    KEY_SECRET, WRONG_SECRET, tostring(HMAC_NUMBER),
    codec.base64(KEY_ID .. ":" .. KEY_SECRET), codec.base64(KEY_ID .. ":" .. WRONG_SECRET),
  }

  local function assert_no_secret_in(text)
    for _, secret in ipairs(FORBIDDEN) do
      local at = text:find(secret, 1, true)
      -- Say where, without printing the secret itself.
      assert.is_nil(at, at and ("a secret in: " .. text:sub(math.max(1, at - 80), at - 1) .. "<SECRET>"))
    end
    assert.is_nil(text:find(TOKEN_PATTERN), "something shaped like a token")
  end

  -- The same on disk, as a log would hold it, and looked for with grep.
  local function assert_no_secret_in_a_log_of(text)
    local log, patterns = os.tmpname(), os.tmpname()
    files.write(log, text)
    files.write(patterns, table.concat(FORBIDDEN, "\n") .. "\n")
    local matches = read_command("grep -c -F -f " .. patterns .. " " .. log)
    os.remove(log)
    os.remove(patterns)
    assert.equal("0", matches:match("%d+"))
  end

  for _, case in ipairs(CASES) do
    it("are not in " .. case.place, function()
      case.run()
      -- The case means something only if it collected, and its requests
      -- carried a secret whose on_request record shows it redacted.
      assert.is_true(#collected > 0)
      if case.wire then
        local carried = helper.requests_where(server, function(request)
          return (request.headers.authorization or ""):find("^" .. case.wire .. " ") ~= nil
        end)
        assert.is_true(#carried > 0, "no request with " .. case.wire .. " credentials")
        assert.is_true(#records > 0, "no on_request record")
      end
      for _, record in ipairs(records) do assert.equal("[redacted]", record.headers.Authorization) end
      local lines = {}
      for i, entry in ipairs(collected) do lines[i] = entry[1] .. ": " .. entry[2] end
      local text = table.concat(lines, "\n")
      assert_no_secret_in(text)
      assert_no_secret_in_a_log_of(text)
    end)
  end
end)

describe("on_request", function()
  local server = helper.with_fake()

  it("gets method, url, status, duration, attempt, error and the headers with Authorization redacted", function()
    local records = {}
    local client = helper.client(server, { on_request = function(record) records[#records + 1] = record end })
    server:script { path = "availableRegions", status = 503 }
    assert(client:list_available_regions())
    assert.equal(3, #records)

    local token, failed, succeeded = records[1], records[2], records[3]
    assert.equal("POST", token.method)
    assert.equal(server.url .. "/oauth2/token", token.url)
    assert.equal(200, token.status)
    assert.equal(1, token.attempt)
    assert.equal("[redacted]", token.headers.Authorization)

    local url = server.url .. helper.path("/availableRegions")
    assert.same({ "GET", url, 503, 1 }, { failed.method, failed.url, failed.status, failed.attempt })
    assert.equal("http", failed.error.kind)
    assert.equal(503, failed.error.status)
    assert.same({ "GET", url, 200, 2 }, { succeeded.method, succeeded.url, succeeded.status, succeeded.attempt })
    assert.is_nil(succeeded.error)
    for _, record in ipairs(records) do
      assert.is_true(record.duration >= 0 and record.duration < 5)
      assert.equal("application/json", record.headers.Accept)
    end
    assert.equal("[redacted]", failed.headers.Authorization)

    -- A transport failure has no status, and the error says what happened.
    records = {}
    local nowhere = helper.client(server, { auth = "basic", base_url = helper.refused_url(), max_retries = 0,
      on_request = function(record) records[#records + 1] = record end })
    nowhere:list_available_regions()
    assert.equal(1, #records)
    assert.is_nil(records[1].status)
    assert.equal("network", records[1].error.kind)
    assert.equal("[redacted]", records[1].headers.Authorization)
  end)

  it("must be a function", function()
    local none, err = sinchnumbers.new { project_id = "p", key_id = "k", key_secret = "s", on_request = {} }
    assert.is_nil(none)
    assert.matches("on_request must be a function", err.message)
  end)

  it("changing the record does not change the request", function()
    local client = helper.client(server, { auth = "basic", on_request = function(record)
      record.headers.Authorization = "Basic broken"
      record.headers.Accept = "text/html"
    end })
    assert(client:list_available_regions())
    assert(client:list_available_regions())
    for _, request in ipairs(server:requests()) do
      assert.equal("application/json", request.headers.accept)
    end
  end)

  it("raising an error breaks nothing: the call and its retries go on, and the error goes to stderr", function()
    server:script { path = "availableRegions", status = 503 }
    local code = ([[
      local sinchnumbers = require "sinchnumbers"
      local client = assert(sinchnumbers.new{ project_id = "test-project", key_id = "test-key-id",
        key_secret = "test-key-secret", auth = "basic", base_url = %q, sleep = function() end,
        on_request = function(record) error("hook broke on attempt " .. record.attempt) end })
      local regions, err = client:list_available_regions()
      print(regions and "call succeeded" or tostring(err))
    ]]):format(server.url)
    local output = read_command(helper.lua_command(code) .. " 2>&1")
    assert.matches("call succeeded", output)
    assert.matches("sinchnumbers: the on_request hook raised an error %(ignored%): .*hook broke on attempt 1", output)
    assert.matches("hook broke on attempt 2", output)
    assert.equal(2, #helper.api_requests(server))
  end)

  it("raising an error object whose __tostring raises breaks nothing either", function()
    local code = ([[
      local sinchnumbers = require "sinchnumbers"
      local nasty = setmetatable({}, { __tostring = function() error("tostring broke") end })
      local client = assert(sinchnumbers.new{ project_id = "test-project", key_id = "test-key-id",
        key_secret = "test-key-secret", auth = "basic", base_url = %q,
        on_request = function() error(nasty) end })
      local ok, regions, err = pcall(client.list_available_regions, client)
      print(ok and regions and "call succeeded" or "call failed: " .. tostring(ok and err or regions))
    ]]):format(server.url)
    local output = read_command(helper.lua_command(code) .. " 2>&1")
    assert.matches("call succeeded", output)
    assert.matches("the on_request hook raised an error %(ignored%): %(an error value that cannot be shown as text%)",
      output)
  end)
end)
