-- Answers no honest server gives, from a hostile server on loopback
-- (support/hostile.lua) through the real libcurl transport: garbled status
-- lines, oversized headers and bodies, JSON that is not an object, bytes
-- after a complete answer, and an echo of the request. A rent answered so
-- took effect on the server (the hostile server says the number is in the
-- project when asked), so each must take the unclear path: one rent, one
-- check, err.rented == true.
local hostile = require "support.hostile"
local sinchnumbers = require "sinchnumbers"
local socket = require "socket"

local PROJECT = "/v1/projects/test-project"
local PHONE = "+12065550100"
local ACTIVE_NUMBER = ('{"phoneNumber":"%s","projectId":"test-project"}'):format(PHONE)
local KEY_SECRET = "hostile-spec-key-secret"

local function json_answer(body, extra_headers)
  return ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s")
    :format(extra_headers or "", #body, body)
end

-- A header block of 300 lines of 1000 bytes: over the 256 KiB cap, each line well within libcurl's.
local MANY_HEADERS = ("X-Filler: " .. ("f"):rep(1000) .. "\r\n"):rep(300)
-- One header line over libcurl's own limit of 100 KiB.
local LONG_HEADER = "X-Long: " .. ("l"):rep(150 * 1024) .. "\r\n"

local function client_of(server, options)
  local settings = {
    project_id = "test-project", key_id = "hostile-spec-key-id", key_secret = KEY_SECRET,
    auth = "basic", base_url = server.url, timeout = 5, sleep = function() end,
  }
  for name, value in pairs(options or {}) do settings[name] = value end
  return assert(sinchnumbers.new(settings))
end

-- How many requests the server saw of this method with `fragment` in the target.
local function count(server, method, fragment)
  local n = 0
  for _, line in ipairs(server:requests()) do
    local seen_method, target = line:match("^(%S+) (.*)$")
    if seen_method == method and target:find(fragment, 1, true) then n = n + 1 end
  end
  return n
end

describe("a hostile server", function()
  local servers = {}

  -- A server whose rent answers `answer`, and which says the number is
  -- in the project when asked; everything else answers `answer` too.
  local function renting_server(answer)
    local server = hostile.start {
      { method = "GET", path = PROJECT .. "/activeNumbers/", answer = json_answer(ACTIVE_NUMBER) },
      { answer = answer, close = true },
    }
    servers[#servers + 1] = server
    return server
  end

  after_each(function()
    for i = #servers, 1, -1 do
      servers[i]:stop()
      servers[i] = nil
    end
  end)

  -- The unclear path of a rent that took effect: one rent, one check.
  local function assert_rent_unclear(server, err, kind)
    assert.equal(kind, err.kind)
    assert.is_true(err.rented, tostring(err))
    assert.matches("it was rented", err.hint)
    assert.equal(1, count(server, "POST", ":rent"))
    assert.equal(1, count(server, "GET", "/activeNumbers/"))
  end

  local UNREADABLE = {
    ["a garbled status line"] = "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\n{}",
    ["an HTTP/0.9 answer"] = ACTIVE_NUMBER,
    ["status 000"] = "HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\n{}",
  }

  for name, answer in pairs(UNREADABLE) do
    describe("answering " .. name, function()
      it("makes a rent unclear: network, sent, and the check says it was rented", function()
        local server = renting_server(answer)
        local result, err = client_of(server):rent_number(PHONE)
        assert.is_nil(result)
        assert.is_true(err.sent)
        assert_rent_unclear(server, err, "network")
      end)

      it("is network for a GET, and retried", function()
        local server = renting_server(answer)
        local _, err = client_of(server, { max_retries = 1 }):list_available_regions()
        assert.equal("network", err.kind)
        assert.equal(2, count(server, "GET", "/availableRegions"))
      end)
    end)
  end

  it("a 2xx body over max_body_size makes a rent unclear", function()
    local server = renting_server(json_answer('{"padding":"' .. ("x"):rep(5000) .. '"}'))
    local _, err = client_of(server, { max_body_size = 1000 }):rent_number(PHONE)
    assert_rent_unclear(server, err, "too_large")
  end)

  local NOT_AN_OBJECT = { ["an array"] = "[]", ["a string"] = '"rented"', ["empty"] = "" }
  for name, body in pairs(NOT_AN_OBJECT) do
    it("a 2xx answer that is " .. name .. " is decode, not retried, and makes a rent unclear", function()
      local server = renting_server(json_answer(body))
      local _, err = client_of(server):list_available_regions()
      assert.equal("decode", err.kind)
      assert.equal(1, count(server, "GET", "/availableRegions"))
      _, err = client_of(server):rent_number(PHONE)
      assert_rent_unclear(server, err, "decode")
    end)
  end

  describe("headers over the cap", function()
    local HEADERS = {
      ["over 256 KiB in all"] = { MANY_HEADERS, "response headers larger than the limit of 262144 bytes" },
      ["one line over libcurl's 100 KiB"] = {
        LONG_HEADER, "a response header line longer than libcurl's limit of 102400 bytes",
      },
    }
    for name, case in pairs(HEADERS) do
      it(name .. " are too_large, say which cap, and are not retried", function()
        local server = renting_server(json_answer("{}", case[1]))
        local _, err = client_of(server, { max_retries = 2 }):list_available_regions()
        assert.equal("too_large", err.kind)
        assert.equal(case[2], err.message)
        assert.equal(1, count(server, "GET", "/availableRegions"))
        _, err = client_of(server):rent_number(PHONE)
        assert_rent_unclear(server, err, "too_large")
      end)
    end
  end)

  for _, arriving in ipairs { "with the answer", "50 ms after it" } do
    it("bytes after a complete answer, " .. arriving .. ", never become the next answer", function()
      local answer = json_answer('{"projectId":"test-project"}')
      local evil = json_answer('{"availableRegions":[{"regionCode":"EVIL"}]}')
      local first = { path = "/callbackConfiguration", answer = answer .. evil }
      if arriving ~= "with the answer" then first.answer, first.later = answer, evil end
      local server = hostile.start {
        first,
        { path = "/availableRegions", answer = json_answer('{"availableRegions":[{"regionCode":"US"}]}') },
      }
      servers[#servers + 1] = server
      local client = client_of(server)
      assert.equal("test-project", assert(client:get_callback_configuration()).projectId)
      socket.sleep(0.2) -- the extra bytes are on the kept-alive connection now
      local regions = assert(client:list_available_regions())
      assert.equal("US", regions.availableRegions[1].regionCode)
      assert.equal(1, count(server, "GET", "/availableRegions"))
    end)
  end

  it("a URL over the limit (a 2 MiB pageToken) is invalid_argument, and nothing is sent", function()
    local server = renting_server(json_answer("{}"))
    local _, err = client_of(server, { max_retries = 2 }):list_active_numbers { pageToken = ("t"):rep(2 * 1024 * 1024) }
    assert.equal("invalid_argument", err.kind)
    assert.matches("above the limit of 65536", err.message)
    assert.same({}, server:requests())
  end)

  describe("echoing the request in an error body", function()
    local function assert_no_credentials(message, credentials)
      for _, credential in ipairs(credentials) do
        assert.is_nil(message:find(credential, 1, true), "the message holds a credential: " .. message)
      end
      assert.matches("%[redacted%]", message)
    end

    it("does not put the Basic credentials into the error", function()
      local server = hostile.start { { echo = "HTTP/1.1 502 Bad Gateway" } }
      servers[#servers + 1] = server
      local _, err = client_of(server, { max_retries = 0 }):list_available_regions()
      assert.equal(502, err.status)
      assert.matches("GET /v1/projects/test%-project/availableRegions", err.message)
      local basic = require("sinchnumbers.codec").base64("hostile-spec-key-id:" .. KEY_SECRET)
      assert_no_credentials(tostring(err), { basic, KEY_SECRET })
    end)

    it("does not put the access token into the error", function()
      local token = "hostile-spec-access-token-0123456789"
      local server = hostile.start {
        { path = "/oauth2/token", answer = json_answer(('{"access_token":"%s","expires_in":3600}'):format(token)) },
        { echo = "HTTP/1.1 400 Bad Request" },
      }
      servers[#servers + 1] = server
      local client = client_of(server, { auth = "oauth2", auth_url = server.url .. "/oauth2/token" })
      local _, err = client:list_available_regions()
      assert.equal(400, err.status)
      assert_no_credentials(tostring(err), { token })
    end)
  end)
end)
