-- No secret in anything the client shows: the key secret, the Basic
-- credentials (base64 of key_id:key_secret) and the access tokens must not
-- appear in an error (its text or any field, however deep), in
-- tostring(client), in what on_request receives, or in a debug trace. The
-- spec drives every kind of failure, collects all of that, writes it to a
-- file and looks for every secret the fake saw on the wire.
-- Also: the on_request hook itself.
local helper = require "support.client_helper"
local sinchnumbers = require "sinchnumbers"
local codec = require "sinchnumbers.codec"

local KEY_ID = "secrets-spec-key-id"
local KEY_SECRET = "Zq9-secrets-spec-k3y-s3cr3t"
local WRONG_SECRET = "Wr0ng-secrets-spec-s3cr3t"
local HMAC_NUMBER = 987654321
-- The fake's tokens look like fake-<hex>-<n>.
local TOKEN_PATTERN = "fake%-%x+%-%d+"

local function read_command(command)
  local pipe = assert(io.popen(command))
  local output = pipe:read("*a")
  pipe:close()
  return output
end

describe("secrets", function()
  local server, collected, records

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
    return helper.client(server, settings)
  end

  -- Runs a call that must fail and collects its error.
  local function failing(label, f, ...)
    local result, err = f(...)
    assert.is_nil(result, label)
    assert.is_table(err, label)
    collected[#collected + 1] = { label .. ": tostring", tostring(err) }
    collect(err, label)
    return err
  end

  setup(function()
    server = helper.start_fake { key_id = KEY_ID, key_secret = KEY_SECRET }
    collected, records = {}, {}
  end)

  teardown(function()
    server:stop()
  end)

  it("are in no error, tostring(client), on_request record or debug trace", function()
    local client = client_of()
    local basic = client_of { auth = "basic" }
    local phone_number = helper.available_number(client)

    -- Bad input, found before the wire; some of it around the secret itself.
    failing("bad phone", client.get_active_number, client, "abc")
    failing("unknown parameter", client.list_available_numbers, client, { regionCode = "US", type = "LOCAL", x = 1 })
    failing("body not JSON", client.rent_number, client, phone_number, "{" .. KEY_SECRET)
    failing("hmacSecret a number", client.update_callback_configuration, client, { hmacSecret = HMAC_NUMBER })
    failing("options with a typo", sinchnumbers.new, { project_id = "p", key_id = KEY_ID, key_secret = KEY_SECRET,
      timout = 1 })
    failing("key_secret a table", sinchnumbers.new, { project_id = "p", key_id = KEY_ID, key_secret = { KEY_SECRET } })
    failing("key_secret a number", sinchnumbers.new, { project_id = "p", key_id = KEY_ID, key_secret = HMAC_NUMBER })

    -- Answers of every kind, under OAuth2 and Basic.
    for _, c in ipairs { client, basic } do
      server:script { path = "availableRegions", status = 401 }
      failing("401", c.list_available_regions, c)
      failing("404", c.get_active_number, c, "+12065550100")
      server:script { path = "availableRegions", status = 429, headers = { ["Retry-After"] = "120" } }
      failing("429", c.list_available_regions, c)
      server:script { path = "availableRegions", status = 503, count = 3 }
      failing("503", c.list_available_regions, c)
      server:script { path = "availableRegions", fault = "broken_json" }
      failing("broken JSON", c.list_available_regions, c)
      server:script { path = "availableRegions", body = string.rep("[", 10000) .. string.rep("]", 10000) }
      failing("deep JSON", c.list_available_regions, c)
      server:script { path = ":rent", status = 503 }
      failing("rent 503", c.rent_number, c, phone_number)
    end
    local slow = client_of { timeout = 0.2, max_retries = 0 }
    assert(slow:list_available_regions())
    server:script { path = "availableRegions", delay = 1 }
    failing("timeout", slow.list_available_regions, slow)
    local nowhere = client_of { base_url = helper.refused_url(), max_retries = 0 }
    failing("network", nowhere.list_available_regions, nowhere)
    local capped = client_of { max_body_size = 100 }
    failing("too_large", capped.list_available_numbers, capped, { regionCode = "US", type = "LOCAL" })

    -- The token endpoint: a wrong secret (itself a secret), its error_description,
    -- an answer without a token, an expired token, and a refresh that fails.
    local wrong = client_of { key_secret = WRONG_SECRET }
    local err = failing("wrong key secret", wrong.list_available_regions, wrong)
    assert.matches("invalid_client: client authentication failed", err.message)
    local wrong_basic = client_of { key_secret = WRONG_SECRET, auth = "basic" }
    failing("wrong key secret, Basic", wrong_basic.list_available_regions, wrong_basic)
    local fresh = client_of()
    server:script { path = "/oauth2/token", status = 400,
      body = { error = "invalid_request", error_description = "scripted description" } }
    err = failing("token endpoint 400", fresh.list_available_regions, fresh)
    assert.matches("scripted description", err.message)
    server:script { path = "/oauth2/token", status = 200, body = { token_type = "bearer" } }
    failing("no access_token", fresh.list_available_regions, fresh)
    assert(client:list_available_regions())
    server:expire_tokens()
    assert(client:list_available_regions()) -- refreshed
    server:expire_tokens()
    server:script { path = "/oauth2/token", status = 500, count = 3 }
    failing("expired, refresh fails", client.list_available_regions, client)

    -- An iterator raises the error object.
    server:script { path = "activeNumbers", status = 500 }
    local ok, raised = pcall(function()
      for _ in client:each_active_number() do end
    end)
    assert.is_false(ok)
    collected[#collected + 1] = { "iterator: tostring", tostring(raised) }
    collect(raised, "iterator")

    for _, c in ipairs { client, basic, wrong, fresh } do
      collected[#collected + 1] = { "tostring(client)", tostring(c) }
      collect(c, "client")
    end

    -- What was there to leak: the secrets, the Basic credentials, and the
    -- tokens, which the fake's log masks: anything shaped like one (below).
    local forbidden = {
      KEY_SECRET, WRONG_SECRET, tostring(HMAC_NUMBER),
      codec.base64(KEY_ID .. ":" .. KEY_SECRET), codec.base64(KEY_ID .. ":" .. WRONG_SECRET),
    }
    -- The test means something only if tokens were used (told apart by the
    -- log's fingerprints) and much was collected.
    local tokens, token_count = {}, 0
    for _, request in ipairs(server:requests()) do
      local bearer = (request.headers.authorization or ""):match("^Bearer (%S+)$")
      if bearer and not tokens[bearer] then
        tokens[bearer] = true
        token_count = token_count + 1
      end
    end
    assert.is_true(token_count >= 3, "tokens seen on the wire: " .. token_count)
    assert.is_true(#collected > 500, "strings collected: " .. #collected)
    assert.is_true(#records >= 30, "on_request records: " .. #records)

    local lines = {}
    for i, entry in ipairs(collected) do lines[i] = entry[1] .. ": " .. entry[2] end
    local text = table.concat(lines, "\n")
    for _, secret in ipairs(forbidden) do
      local at = text:find(secret, 1, true)
      -- Say where, without printing the secret itself.
      assert.is_nil(at, at and ("a secret in: " .. text:sub(math.max(1, at - 80), at - 1) .. "<SECRET>"))
    end
    assert.is_nil(text:find(TOKEN_PATTERN), "something shaped like a token")

    -- The same on disk, as a log would hold it, and looked for with grep.
    local log, patterns = os.tmpname(), os.tmpname()
    local file = assert(io.open(log, "w"))
    file:write(text)
    file:close()
    file = assert(io.open(patterns, "w"))
    file:write(table.concat(forbidden, "\n"), "\n")
    file:close()
    local matches = read_command("grep -c -F -f " .. patterns .. " " .. log)
    local sanity = read_command("grep -c -F 'on_request.headers.Authorization: [redacted]' " .. log)
    os.remove(log)
    os.remove(patterns)
    assert.equal("0", matches:match("%d+"))
    assert.is_true(tonumber(sanity:match("%d+")) >= 30)
  end)
end)

describe("on_request", function()
  local server

  setup(function()
    server = helper.start_fake()
  end)

  teardown(function()
    server:stop()
  end)

  before_each(function()
    server:reset()
  end)

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
    local command = helper.interpreter() .. " -e \"package.path='lua/?.lua;lua/?/init.lua;'..package.path;"
      .. " package.cpath='" .. package.cpath:gsub("'", "") .. "'\" -e '" .. code .. "' 2>&1"
    local output = read_command(command)
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
    local command = helper.interpreter() .. " -e \"package.path='lua/?.lua;lua/?/init.lua;'..package.path;"
      .. " package.cpath='" .. package.cpath:gsub("'", "") .. "'\" -e '" .. code .. "' 2>&1"
    local output = read_command(command)
    assert.matches("call succeeded", output)
    assert.matches("the on_request hook raised an error %(ignored%): %(an error value that cannot be shown as text%)",
      output)
  end)
end)
