-- The logger option: what each level says, SINCH_DEBUG=1, and that no log
-- line ever holds a credential.
local helper = require "support.client_helper"
local curl = require "sinchnumbers.transport.curl"

local EXPIRED = 'Bearer realm="sinch", error="invalid_token", error_description="expired"'

-- A logger that keeps what it is given.
local function collector()
  local lines = {}
  return lines, function(level, message, fields)
    lines[#lines + 1] = { level = level, message = message, fields = fields }
  end
end

local function at(lines, level)
  local found = {}
  for _, line in ipairs(lines) do
    if line.level == level then found[#found + 1] = line end
  end
  return found
end

describe("logging", function()
  local server, new_client = helper.with_fake()

  it("debug: each attempt, with method, URL, status, duration, attempt and bytes", function()
    local lines, logger = collector()
    local client = new_client { auth = "basic", logger = logger, log_level = "debug" }
    server:script { path = "availableRegions", status = 503 }
    assert(client:list_available_regions())
    local attempts = at(lines, "debug")
    assert.equal(2, #attempts)
    local first, second = attempts[1].fields, attempts[2].fields
    assert.equal("GET", first.method)
    assert.equal(server.url .. helper.path("/availableRegions"), first.url)
    assert.equal(503, first.status)
    assert.equal(1, first.attempt)
    assert.equal("http", first.error)
    assert.equal(200, second.status)
    assert.equal(2, second.attempt)
    assert.is_true(second.bytes > 0)
    assert.is_true(second.duration >= 0 and second.duration < 5)
    assert.matches("^GET .*/availableRegions: HTTP 200 in %d+%.%d+ s %(attempt 2%)$", attempts[2].message)
  end)

  it("info (the default level): retries and token requests, no attempts", function()
    local lines, logger = collector()
    local client = new_client { logger = logger }
    server:script { path = "availableRegions", status = 503 }
    assert(client:list_available_regions())
    assert.equal(0, #at(lines, "debug"))
    local infos = at(lines, "info")
    assert.equal(2, #infos)
    assert.equal("requesting an access token from " .. server.url .. "/oauth2/token", infos[1].message)
    assert.matches("^trying GET .*/availableRegions again in [%d.]+ s %(retry 1 of 2%): HTTP 503 ", infos[2].message)
    assert.equal(1, infos[2].fields.attempt)
  end)

  it("info: a token the service says expired", function()
    local lines, logger = collector()
    local client = new_client { logger = logger }
    assert(client:list_available_regions())
    server:script { path = "availableRegions", status = 401, headers = { ["WWW-Authenticate"] = EXPIRED } }
    assert(client:list_available_regions())
    local infos = at(lines, "info")
    assert.equal("the service says the access token expired: trying once more with a new one", infos[2].message)
    assert.equal("requesting an access token from " .. server.url .. "/oauth2/token", infos[3].message)
  end)

  it("warn: an unclear rent, with what the check showed; a clear failure is not logged", function()
    local lines, logger = collector()
    local client = new_client { logger = logger, log_level = "warn" }
    local phone_number = helper.available_number(client)
    server:script { path = ":rent", status = 500 }
    local _, err = client:rent_number(phone_number)
    assert.is_false(err.rented)
    local warnings = at(lines, "warn")
    assert.equal(1, #warnings)
    assert.matches("^rent_number ended without a clear answer: HTTP 500 .*it was not rented", warnings[1].message)
    assert.is_false(warnings[1].fields.rented)
    assert.is_nil(client:get_active_number("+12065550100"))
    assert.equal(1, #lines, "only the warning")
  end)

  it("a logger that raises is logged to stderr and ignored", function()
    local client = new_client { auth = "basic", logger = function() error("logger broke") end, log_level = "debug" }
    assert(client:list_available_regions())
  end)

  it("refuses an unknown log_level, with the levels", function()
    local sinchnumbers = require "sinchnumbers"
    local _, err = sinchnumbers.new { project_id = "p", key_id = "k", key_secret = "s", log_level = "verbose" }
    assert.matches('log_level must be one of "debug", "info", "warn", "error"', err.message)
  end)

  it("SINCH_DEBUG=1 logs every attempt to stderr without code changes", function()
    local code = ([[
      local client = assert(require("sinchnumbers").new { project_id = %q, key_id = %q, key_secret = %q,
        base_url = %q, auth_url = %q })
      assert(client:list_available_regions())
    ]]):format(helper.PROJECT_ID, helper.KEY_ID, helper.KEY_SECRET, server.url, server.url .. "/oauth2/token")
    local pipe = assert(io.popen("SINCH_DEBUG=1 " .. helper.lua_command(code) .. " 2>&1"))
    local output = pipe:read("*a")
    pipe:close()
    assert.matches("sinchnumbers: %[info%] requesting an access token from ", output)
    assert.matches("sinchnumbers: %[debug%] POST [^\n]*/oauth2/token: HTTP 200 in ", output)
    assert.matches("sinchnumbers: %[debug%] GET [^\n]*/availableRegions: HTTP 200 in [^\n]* attempt=1 bytes=%d+",
      output)
    assert.is_nil(output:find(helper.KEY_SECRET, 1, true))
  end)

  it("never holds a credential: failures, retries, a token refresh and an unclear rent", function()
    local lines, logger = collector()
    -- The Authorization headers that went out, to look for in the log.
    local sent = {}
    local real = assert(curl.new { timeout = 5 })
    local recording = { request = function(_, method, url, headers, body, opts)
      if headers.Authorization then sent[headers.Authorization] = true end
      return real:request(method, url, headers, body, opts)
    end }
    local client = new_client { logger = logger, log_level = "debug", transport = recording }
    local phone_number = helper.available_number(client)
    server:script { path = "availableRegions", status = 503, count = 2,
      body = "echo: Authorization: " .. next(sent) .. " key_secret=" .. helper.KEY_SECRET }
    assert(client:list_available_regions())
    server:expire_tokens()
    assert(client:list_available_regions())
    server:script { path = "/oauth2/token", status = 500, count = 3 }
    server:expire_tokens()
    assert.is_nil(client:list_available_regions())
    server:script { path = ":rent", status = 502, count = 3 }
    local basic = new_client { auth = "basic", logger = logger, log_level = "debug", transport = recording }
    local _, err = basic:rent_number(phone_number)
    assert.is_not_nil(err.hint)
    local credentials = { helper.KEY_SECRET }
    for header in pairs(sent) do
      credentials[#credentials + 1] = header
      credentials[#credentials + 1] = header:match("^%a+ (.+)$")
    end
    assert.is_true(#credentials >= 7, "a key secret, two tokens and the Basic credentials, each twice")
    assert.is_true(#at(lines, "debug") >= 8 and #at(lines, "info") >= 4 and #at(lines, "warn") == 1)
    for _, line in ipairs(lines) do
      local text = line.message
      for name, value in pairs(line.fields or {}) do text = text .. " " .. name .. "=" .. tostring(value) end
      for _, credential in ipairs(credentials) do
        assert.is_nil(text:find(credential, 1, true), "a credential in: " .. text)
      end
    end
  end)
end)
