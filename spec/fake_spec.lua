-- Specs for the fake Sinch Numbers server (sinchnumbers.fake, fake/bin/sinchnumbers-fake).
-- The server runs in a background process and is driven over real HTTP with
-- luasocket only, independent of the client library.
-- luacheck: std +busted
local cjson = require "cjson"
local ltn12 = require "ltn12"
local mime = require "mime"
local socket = require "socket"
local http = require "socket.http"
local fake = require "sinchnumbers.fake"
local fake_helper = require "support.fake_helper"
local fake_http = require "support.fake_http"
local addresses = require "support.addresses"
local shell = require "support.shell"

local PROJECT = fake_http.PROJECT
local BASIC = fake_http.BASIC

describe("sinchnumbers-fake", function()
  local server = fake_helper.with_fake()

  -- options as fake_http.call's, and base: another server.
  local function call(method, path, options)
    return fake_http.call(options and options.base or server.url, method, path, options)
  end

  local function port_of(url)
    return tonumber(url:match(":(%d+)$"))
  end

  local function connect()
    local connection = assert(socket.connect("127.0.0.1", port_of(server.url)))
    connection:settimeout(5)
    return connection
  end

  local function raw_request(method, target, extra_headers, body)
    body = body or ""
    return string.format("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n%sContent-Length: %d\r\n\r\n%s",
      method, target, BASIC, extra_headers or "", #body, body)
  end

  -- Reads one request or response with a Content-Length body from a raw
  -- connection: its first line, its headers (names in lower case) and body.
  local function read_message(connection)
    local first_line = assert(connection:receive("*l"))
    local headers = {}
    while true do
      local line = assert(connection:receive("*l"))
      if line == "" then break end
      local name, value = line:match("^([^:]+):%s*(.*)$")
      headers[name:lower()] = value
    end
    return first_line, headers, assert(connection:receive(tonumber(headers["content-length"])))
  end

  local function read_response(connection)
    local status_line, headers, body = read_message(connection)
    return tonumber(status_line:match("^HTTP/1%.1 (%d+)")), headers, body
  end

  local function token(base)
    local answer = call("POST", "/oauth2/token", {
      base = base,
      headers = { ["Content-Type"] = "application/x-www-form-urlencoded" },
      body = "grant_type=client_credentials",
    })
    assert.equal(200, answer.status)
    return answer.json.access_token
  end

  local function available(query)
    local answer = call("GET", PROJECT .. "/availableNumbers?" .. query)
    assert.equal(200, answer.status, answer.body)
    return answer.json.availableNumbers
  end

  local function first_available(region, number_type)
    return available("regionCode=" .. region .. "&type=" .. number_type .. "&size=1")[1].phoneNumber
  end

  local function rent(phone, body)
    local answer = call("POST", PROJECT .. "/availableNumbers/" .. phone .. ":rent", { body = body or {} })
    assert.equal(200, answer.status, answer.body)
    return answer.json
  end

  local assert_invalid_argument = fake_http.assert_invalid_argument
  local assert_not_found = fake_http.assert_not_found
  local hmac_sha1_hex = fake_http.hmac_sha1_hex

  describe("starting", function()
    it("prints its base URL on 127.0.0.1", function()
      assert.truthy(server.url:match("^http://127%.0%.0%.1:%d+$"))
      assert.equal("number", type(server.pid))
    end)

    it("runs from the checkout with any Lua and rejects unknown options", function()
      local pipe = io.popen("lua5.1 fake/bin/sinchnumbers-fake --bogus 2>&1; echo status=$?")
      local output = pipe:read("*a")
      pipe:close()
      assert.truthy(output:find("unknown option --bogus", 1, true))
      assert.truthy(output:find("status=2", 1, true))
    end)

    it("exits by itself once the process that spawned it is gone, without stop()", function()
      local script = string.format([[
        package.path, package.cpath = %q, %q
        local spawned = require("sinchnumbers.fake").spawn()
        io.write(spawned.pid, "\n")
        error("the script fails before it calls stop()")]], package.path, package.cpath)
      local pipe = io.popen(shell.interpreter() .. " -e " .. shell.quote(script) .. " 2>/dev/null")
      local pid = assert(tonumber(pipe:read("*a"):match("^(%d+)\n")), "the child did not spawn a fake")
      pipe:close()
      local process = require "sinchnumbers.fake.process"
      local deadline = socket.gettime() + 5
      while process.alive(pid) and socket.gettime() < deadline do socket.sleep(0.05) end
      local running = process.alive(pid)
      if running then os.execute("kill " .. pid) end
      assert.is_false(running, "the fake outlived the script that spawned it")
    end)

    it("can be embedded and stepped in this process", function()
      local embedded = assert(fake.new({ port = 0, project_id = "embedded" }))
      local connection = assert(socket.connect("127.0.0.1", port_of(embedded:url())))
      connection:send("GET /v1/projects/embedded/availableRegions HTTP/1.1\r\nHost: x\r\nAuthorization: "
        .. BASIC .. "\r\n\r\n")
      connection:settimeout(0)
      local received = ""
      local deadline = socket.gettime() + 5
      while not received:find("availableRegions", 1, true) and socket.gettime() < deadline do
        embedded:step(0.05)
        local data, _, partial = connection:receive(65536)
        received = received .. (data or partial or "")
      end
      connection:close()
      embedded:close()
      assert.truthy(received:match("^HTTP/1%.1 200 OK\r\n"))
    end)
  end)

  describe("OAuth2 token endpoint", function()
    it("issues bearer tokens for Basic key id and secret with client_credentials", function()
      local answer = call("POST", "/oauth2/token", {
        headers = { ["Content-Type"] = "application/x-www-form-urlencoded" },
        body = "grant_type=client_credentials",
      })
      assert.equal(200, answer.status)
      assert.equal("string", type(answer.json.access_token))
      assert.equal(3600, answer.json.expires_in)
      assert.equal("bearer", answer.json.token_type:lower())
      assert.equal("string", type(answer.json.scope))
      local listed = call("GET", PROJECT .. "/activeNumbers", { auth = "Bearer " .. answer.json.access_token })
      assert.equal(200, listed.status)
    end)

    it("refuses bad credentials and bad grants in OAuth2 style", function()
      local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }
      local wrong = call("POST", "/oauth2/token", {
        auth = "Basic " .. mime.b64("test-key-id:nope"), headers = form, body = "grant_type=client_credentials",
      })
      assert.equal(401, wrong.status)
      assert.equal("invalid_client", wrong.json.error)
      local missing = call("POST", "/oauth2/token", { headers = form, body = "" })
      assert.equal(400, missing.status)
      assert.equal("invalid_request", missing.json.error)
      local grant = call("POST", "/oauth2/token", { headers = form, body = "grant_type=password" })
      assert.equal(400, grant.status)
      assert.equal("unsupported_grant_type", grant.json.error)
    end)
  end)

  describe("authentication", function()
    it("accepts Basic auth with the key id and secret", function()
      assert.equal(200, call("GET", PROJECT .. "/availableRegions").status)
    end)

    it("answers 401 without credentials, with a wrong secret or an unknown token", function()
      local none = call("GET", PROJECT .. "/availableRegions", { auth = false })
      assert.equal(401, none.status)
      assert.equal("UNAUTHENTICATED", none.json.error.status)
      assert.equal(401, call("GET", PROJECT .. "/availableRegions",
        { auth = "Basic " .. mime.b64("test-key-id:wrong") }).status)
      local unknown = call("GET", PROJECT .. "/availableRegions", { auth = "Bearer made-up" })
      assert.equal(401, unknown.status)
      assert.falsy(unknown.headers["www-authenticate"]:find("expired", 1, true))
    end)

    it("expires tokens after --token-ttl with the Sinch challenge", function()
      local short = fake.spawn({ token_ttl = 1 })
      finally(function() short:stop() end)
      local bearer = "Bearer " .. token(short.url)
      assert.equal(200, call("GET", PROJECT .. "/availableRegions", { base = short.url, auth = bearer }).status)
      socket.sleep(1.1)
      local expired = call("GET", PROJECT .. "/availableRegions", { base = short.url, auth = bearer })
      assert.equal(401, expired.status)
      assert.equal('Bearer realm="sinch", error="invalid_token", error_description="expired"',
        expired.headers["www-authenticate"])
    end)

    it("expires every issued token on POST /_fake/expire_tokens, and on reset", function()
      local bearer = "Bearer " .. token()
      server:expire_tokens()
      local expired = call("GET", PROJECT .. "/availableRegions", { auth = bearer })
      assert.equal(401, expired.status)
      assert.truthy(expired.headers["www-authenticate"]:find('error_description="expired"', 1, true))
      bearer = "Bearer " .. token()
      server:reset()
      assert.equal(401, call("GET", PROJECT .. "/availableRegions", { auth = bearer }).status)
    end)
  end)

  describe("available numbers", function()
    it("has numbers of every type in US, GB, SE and DE, with capabilities and string prices", function()
      for _, region in ipairs({ "US", "GB", "SE", "DE" }) do
        for _, number_type in ipairs({ "LOCAL", "MOBILE", "TOLL_FREE" }) do
          local numbers = available("regionCode=" .. region .. "&type=" .. number_type)
          assert.equal(30, #numbers) -- the default size
          local number = numbers[1]
          assert.equal(region, number.regionCode)
          assert.equal(number_type, number.type)
          assert.truthy(number.phoneNumber:match("^%+%d+$"))
          assert.truthy(#number.capability > 0)
          assert.truthy(number.monthlyPrice.amount:match("^%d+%.%d%d$"))
          assert.truthy(number.setupPrice.amount:match("^%d+%.%d%d$"))
          assert.equal("string", type(number.monthlyPrice.currencyCode))
        end
      end
    end)

    it("gives the same inventory for the same seed, and another for another seed", function()
      local before = available("regionCode=GB&type=MOBILE&size=5")
      server:reset()
      assert.same(before, available("regionCode=GB&type=MOBILE&size=5"))
      local other = fake.spawn({ seed = 42 })
      finally(function() other:stop() end)
      local answer = call("GET", PROJECT .. "/availableNumbers?regionCode=GB&type=MOBILE&size=5", { base = other.url })
      assert.are_not.same(before, answer.json.availableNumbers)
    end)

    it("filters by capabilities, numberPattern and size", function()
      for _, number in ipairs(available("regionCode=US&type=LOCAL&capabilities=SMS&size=100")) do
        assert.truthy(table.concat(number.capability, ","):find("SMS", 1, true))
      end
      local both = available("regionCode=US&type=LOCAL&capabilities=SMS&capabilities=VOICE&size=100")
      for _, number in ipairs(both) do assert.equal(2, #number.capability) end
      local voice_only = available("regionCode=US&type=LOCAL&capabilities=VOICE&size=100")
      assert.truthy(#voice_only > #both, "some numbers have only VOICE")
      for _, number in ipairs(available("regionCode=US&type=LOCAL&numberPattern.pattern=%2B1415"
        .. "&numberPattern.searchPattern=START")) do
        assert.truthy(number.phoneNumber:match("^%+1415"))
      end
      local last_digits = available("regionCode=US&type=LOCAL&size=1")[1].phoneNumber:sub(-3)
      for _, number in ipairs(available("regionCode=US&type=LOCAL&numberPattern.pattern=" .. last_digits
        .. "&numberPattern.searchPattern=END")) do
        assert.equal(last_digits, number.phoneNumber:sub(-3))
      end
      for _, number in ipairs(available("regionCode=SE&type=MOBILE&numberPattern.pattern=00"
        .. "&numberPattern.searchPattern=CONTAINS")) do
        assert.truthy(number.phoneNumber:find("00", 1, true))
      end
      assert.equal(3, #available("regionCode=DE&type=LOCAL&size=3"))
    end)

    it("gets one available number, with a raw + or %2B in the path", function()
      local phone = first_available("SE", "LOCAL")
      local raw = call("GET", PROJECT .. "/availableNumbers/" .. phone)
      assert.equal(200, raw.status)
      assert.equal(phone, raw.json.phoneNumber)
      local connection = connect()
      connection:send(raw_request("GET", PROJECT .. "/availableNumbers/%2B" .. phone:sub(2)))
      local status, _, body = read_response(connection)
      connection:close()
      assert.equal(200, status)
      assert.equal(phone, cjson.decode(body).phoneNumber)
      assert_not_found(call("GET", PROJECT .. "/availableNumbers/+19995550000"), "AvailableNumber", "+19995550000")
    end)

    it("lists the available regions, filtered by types", function()
      local answer = call("GET", PROJECT .. "/availableRegions?types=TOLL_FREE")
      assert.equal(200, answer.status)
      local codes = {}
      for _, region in ipairs(answer.json.availableRegions) do
        codes[#codes + 1] = region.regionCode
        assert.same({ "TOLL_FREE" }, region.types)
        assert.equal("string", type(region.regionName))
      end
      assert.same({ "US", "GB", "SE", "DE" }, codes)
    end)
  end)

  describe("renting and managing numbers", function()
    it("rents a number into the project's active numbers, once", function()
      local phone = first_available("US", "LOCAL")
      local active = rent(phone, {
        smsConfiguration = { servicePlanId = "plan-1" }, callbackUrl = "http://127.0.0.1:1/cb",
      })
      assert.equal(phone, active.phoneNumber)
      assert.equal("test-project", active.projectId)
      assert.equal("plan-1", active.smsConfiguration.servicePlanId)
      assert.equal("http://127.0.0.1:1/cb", active.callbackUrl)
      assert.equal("string", type(active.money.amount))
      assert.equal(phone, call("GET", PROJECT .. "/activeNumbers/" .. phone).json.phoneNumber)
      assert_not_found(call("GET", PROJECT .. "/availableNumbers/" .. phone), "AvailableNumber", phone)
      assert_not_found(call("POST", PROJECT .. "/availableNumbers/" .. phone .. ":rent", { body = {} }),
        "AvailableNumber", phone)
    end)

    it("rents any number that matches the filters", function()
      local answer = call("POST", PROJECT .. "/availableNumbers:rentAny", { body = {
        regionCode = "GB", type = "MOBILE", capabilities = { "SMS" },
        numberPattern = { pattern = "+447700", searchPattern = "START" },
      } })
      assert.equal(200, answer.status, answer.body)
      assert.equal("GB", answer.json.regionCode)
      assert.equal("MOBILE", answer.json.type)
      assert.truthy(table.concat(answer.json.capability, ","):find("SMS", 1, true))
      assert_invalid_argument(call("POST", PROJECT .. "/availableNumbers:rentAny", { body = { type = "LOCAL" } }),
        "regionCode")
      local none = call("POST", PROJECT .. "/availableNumbers:rentAny", { body = {
        regionCode = "US", type = "LOCAL", numberPattern = { pattern = "99999999", searchPattern = "END" },
      } })
      assert.equal(404, none.status)
      assert.equal("NOT_FOUND", none.json.error.status)
    end)

    it("updates displayName, configurations and callbackUrl, but not scheduled fields", function()
      local phone = first_available("DE", "MOBILE")
      rent(phone)
      local answer = call("PATCH", PROJECT .. "/activeNumbers/" .. phone, { body = {
        displayName = "Support line",
        smsConfiguration = { servicePlanId = "plan-2", campaignId = "camp" },
        voiceConfiguration = { type = "RTC", appId = "app-1" },
        callbackUrl = "https://example.com/hook",
      } })
      assert.equal(200, answer.status, answer.body)
      local got = call("GET", PROJECT .. "/activeNumbers/" .. phone).json
      assert.equal("Support line", got.displayName)
      assert.equal("plan-2", got.smsConfiguration.servicePlanId)
      assert.equal("camp", got.smsConfiguration.campaignId)
      assert.equal("app-1", got.voiceConfiguration.appId)
      assert.equal("https://example.com/hook", got.callbackUrl)
      local refused = call("PATCH", PROJECT .. "/activeNumbers/" .. phone, { body = {
        smsConfiguration = { scheduledProvisioning = { servicePlanId = "x" } },
        voiceConfiguration = { scheduledVoiceProvisioning = { appId = "y" } },
      } })
      local fields = assert_invalid_argument(refused, "smsConfiguration.scheduledProvisioning")
      assert.truthy(fields["voiceConfiguration.scheduledVoiceProvisioning"])
      assert_not_found(call("PATCH", PROJECT .. "/activeNumbers/+4915100000000", { body = { displayName = "x" } }),
        "ActiveNumber", "+4915100000000")
    end)

    it("releases a number", function()
      local phone = first_available("SE", "TOLL_FREE")
      rent(phone)
      local released = call("POST", PROJECT .. "/activeNumbers/" .. phone .. ":release")
      assert.equal(200, released.status)
      assert.equal(phone, released.json.phoneNumber)
      assert_not_found(call("GET", PROJECT .. "/activeNumbers/" .. phone), "ActiveNumber", phone)
      assert_not_found(call("POST", PROJECT .. "/activeNumbers/" .. phone .. ":release"), "ActiveNumber", phone)
    end)

    it("accepts %2B in active number paths", function()
      local phone = first_available("US", "TOLL_FREE")
      rent(phone)
      local connection = connect()
      connection:send(raw_request("GET", PROJECT .. "/activeNumbers/%2B" .. phone:sub(2)))
      local status, _, body = read_response(connection)
      connection:close()
      assert.equal(200, status)
      assert.equal(phone, cjson.decode(body).phoneNumber)
    end)

    it("keeps the callback configuration's hmacSecret", function()
      local answer = call("GET", PROJECT .. "/callbackConfiguration")
      assert.equal(200, answer.status)
      assert.equal("test-project", answer.json.projectId)
      assert.equal("string", type(answer.json.hmacSecret))
      local updated = call("PATCH", PROJECT .. "/callbackConfiguration", { body = { hmacSecret = "new-secret" } })
      assert.equal("new-secret", updated.json.hmacSecret)
      assert.equal("new-secret", call("GET", PROJECT .. "/callbackConfiguration").json.hmacSecret)
      assert_invalid_argument(call("PATCH", PROJECT .. "/callbackConfiguration", { body = { secret = "x" } }), "secret")
    end)
  end)

  describe("active numbers list", function()
    it("filters by regionCode, type, capability and numberPattern; regionCode and type are optional", function()
      rent(first_available("US", "LOCAL"))
      rent(first_available("GB", "LOCAL"))
      rent(first_available("GB", "MOBILE"))
      local all = call("GET", PROJECT .. "/activeNumbers").json
      assert.equal(3, all.totalSize)
      assert.equal(2, call("GET", PROJECT .. "/activeNumbers?regionCode=GB").json.totalSize)
      assert.equal(1, call("GET", PROJECT .. "/activeNumbers?regionCode=GB&type=MOBILE").json.totalSize)
      local us = call("GET", PROJECT .. "/activeNumbers?numberPattern.pattern=%2B1&numberPattern.searchPattern=START")
      assert.equal(1, us.json.totalSize)
      local with_sms = call("GET", PROJECT .. "/activeNumbers?capability=SMS").json
      for _, number in ipairs(with_sms.activeNumbers) do
        assert.truthy(table.concat(number.capability, ","):find("SMS", 1, true))
      end
      local plural = call("GET", PROJECT .. "/activeNumbers?capabilities=SMS")
      assert.truthy(assert_invalid_argument(plural, "capabilities").capabilities:find('"capability"', 1, true))
    end)

    it("pages with pageSize and pageToken, totalSize, and an empty nextPageToken at the end", function()
      local added = server:add_active_numbers({ count = 250, regionCode = "US", type = "LOCAL" })
      assert.equal(250, #added.phoneNumbers)
      local seen, sizes, page_token = {}, {}, nil
      repeat
        local query = "?regionCode=US&type=LOCAL&pageSize=100" .. (page_token and ("&pageToken=" .. page_token) or "")
        local page = call("GET", PROJECT .. "/activeNumbers" .. query).json
        assert.equal(250, page.totalSize)
        sizes[#sizes + 1] = #page.activeNumbers
        for _, number in ipairs(page.activeNumbers) do seen[#seen + 1] = number.phoneNumber end
        page_token = page.nextPageToken
      until page_token == ""
      assert.same({ 100, 100, 50 }, sizes)
      local sorted = {}
      for i, phone in ipairs(seen) do sorted[i] = phone end
      table.sort(sorted)
      assert.same(sorted, seen)
      assert.equal(30, #call("GET", PROJECT .. "/activeNumbers").json.activeNumbers) -- default pageSize
      assert_invalid_argument(call("GET", PROJECT .. "/activeNumbers?pageToken=bogus"), "pageToken")
      assert_invalid_argument(call("GET", PROJECT .. "/activeNumbers?pageSize=101"), "pageSize")
    end)

    it("orders by displayName", function()
      local phones = server:add_active_numbers({ count = 3 }).phoneNumbers
      local names = { "charlie", "alpha", "bravo" }
      for i, phone in ipairs(phones) do
        call("PATCH", PROJECT .. "/activeNumbers/" .. phone, { body = { displayName = names[i] } })
      end
      local listed = call("GET", PROJECT .. "/activeNumbers?orderBy=displayName").json.activeNumbers
      local order = {}
      for i, number in ipairs(listed) do order[i] = number.displayName end
      assert.same({ "alpha", "bravo", "charlie" }, order)
    end)
  end)

  describe("validation", function()
    it("answers 400 INVALID_ARGUMENT with field violations for bad queries", function()
      assert_invalid_argument(call("GET", PROJECT .. "/availableNumbers?type=LOCAL"), "regionCode")
      assert_invalid_argument(call("GET", PROJECT .. "/availableNumbers?regionCode=US&type=CHEAP"), "type")
      assert_invalid_argument(call("GET", PROJECT .. "/availableNumbers?regionCode=US&type=LOCAL&colour=red"), "colour")
      assert_invalid_argument(call("GET", PROJECT .. "/availableNumbers?regionCode=US&type=LOCAL&size=lots"), "size")
      assert_invalid_argument(call("GET", PROJECT .. "/availableNumbers?regionCode=US&type=LOCAL&capabilities=FAX"),
        "capabilities")
      assert_invalid_argument(call("GET", PROJECT .. "/activeNumbers?orderBy=price"), "orderBy")
      assert_invalid_argument(call("GET", PROJECT .. "/activeNumbers/12065550100"), "phoneNumber")
    end)

    it("answers 400 for bad bodies: unknown fields, wrong types, broken JSON, wrong Content-Type", function()
      local phone = first_available("US", "MOBILE")
      local path = PROJECT .. "/availableNumbers/" .. phone .. ":rent"
      assert_invalid_argument(call("POST", path, { body = { callbackURL = "http://x" } }), "callbackURL")
      assert_invalid_argument(call("POST", path, { body = { smsConfiguration = "plan" } }), "smsConfiguration")
      assert_invalid_argument(call("POST", path, { body = { callbackUrl = "not a url" } }), "callbackUrl")
      local json_type = { ["Content-Type"] = "application/json" }
      assert_invalid_argument(call("POST", path, { body = '{"callbackUrl":', headers = json_type }), "body")
      assert_invalid_argument(call("POST", path, {
        body = "callbackUrl=x", headers = { ["Content-Type"] = "application/x-www-form-urlencoded" },
      }), "Content-Type")
      assert.equal(200, call("GET", PROJECT .. "/availableNumbers/" .. phone).status, "nothing was rented")
    end)

    it("answers 404 for unknown paths and 405 for wrong methods", function()
      assert.equal(404, call("GET", PROJECT .. "/nothingHere").status)
      local wrong = call("DELETE", PROJECT .. "/activeNumbers")
      assert.equal(405, wrong.status)
      assert.equal("GET", wrong.headers.allow)
    end)
  end)

  describe("fault injection", function()
    it("scripts the next K answers for a method and path: status, headers, body", function()
      server:script({
        method = "GET", path = "availableRegions", count = 2, status = 503, headers = { ["Retry-After"] = "1" },
      })
      for _ = 1, 2 do
        local answer = call("GET", PROJECT .. "/availableRegions")
        assert.equal(503, answer.status)
        assert.equal("1", answer.headers["retry-after"])
        assert.equal("UNAVAILABLE", answer.json.error.status)
      end
      assert.equal(200, call("GET", PROJECT .. "/availableRegions").status)
      server:script({ method = "POST", path = "availableRegions", status = 500 })
      assert.equal(200, call("GET", PROJECT .. "/availableRegions").status, "method must match")
      server:clear_scripts()
      server:script({ path = "/oauth2/token", status = 429, body = '{"error":"slow down"}' })
      local limited = call("POST", "/oauth2/token", { body = "grant_type=client_credentials" })
      assert.equal(429, limited.status)
      assert.equal('{"error":"slow down"}', limited.body)
    end)

    it("delays an answer", function()
      server:script({ path = "availableRegions", delay = 0.3 })
      local started = socket.gettime()
      local answer = call("GET", PROJECT .. "/availableRegions")
      assert.equal(200, answer.status)
      assert.truthy(answer.json.availableRegions)
      assert.truthy(socket.gettime() - started >= 0.29)
    end)

    it("drops the connection", function()
      server:script({ path = "availableRegions", fault = "drop" })
      local connection = connect()
      connection:send(raw_request("GET", PROJECT .. "/availableRegions"))
      local line, err = connection:receive("*l")
      connection:close()
      assert.is_nil(line)
      assert.equal("closed", err)
    end)

    it("answers broken JSON", function()
      server:script({ path = "activeNumbers", fault = "broken_json" })
      local chunks = {}
      local _, status = http.request({
        url = server.url .. PROJECT .. "/activeNumbers", sink = ltn12.sink.table(chunks),
      })
      assert.equal(200, status)
      assert.is_false(pcall(cjson.decode, table.concat(chunks)))
    end)

    it("answers a huge body, with Content-Length or chunked", function()
      local function fetch_counting()
        local bytes = 0
        local _, status, headers = http.request({
          url = server.url .. PROJECT .. "/activeNumbers",
          sink = function(chunk)
            if chunk then bytes = bytes + #chunk end
            return 1
          end,
        })
        return status, headers, bytes
      end
      server:script({ path = "activeNumbers", fault = "huge", size = 3000000 })
      local status, headers, bytes = fetch_counting()
      assert.equal(200, status)
      assert.equal("3000000", headers["content-length"])
      assert.equal(3000000, bytes)
      server:script({ path = "activeNumbers", fault = "huge", size = 2000000, chunked = true })
      status, headers, bytes = fetch_counting()
      assert.equal(200, status)
      assert.equal("chunked", headers["transfer-encoding"])
      assert.equal(2000000, bytes)
      server:script({ path = "activeNumbers", fault = "huge" })
      local connection = connect()
      connection:send(raw_request("GET", PROJECT .. "/activeNumbers"))
      local head = ""
      repeat head = head .. assert(connection:receive("*l")) .. "\n" until head:sub(-2) == "\n\n"
      connection:close()
      assert.truthy(head:find("Content-Length: 67108864", 1, true), "64 MiB by default")
    end)

    it("resets the connection in the middle of the body", function()
      server:script({ path = "activeNumbers", fault = "reset_mid_body" })
      local connection = connect()
      connection:send(raw_request("GET", PROJECT .. "/activeNumbers"))
      local length
      repeat
        local line = assert(connection:receive("*l"))
        length = length or tonumber(line:match("^Content%-Length: (%d+)"))
      until line == ""
      local body, err, partial = connection:receive(length)
      connection:close()
      assert.is_nil(body)
      assert.equal("closed", err)
      assert.truthy(#partial > 0 and #partial < length)
    end)

    it("logs scripted requests and clears scripts", function()
      server:script({ path = "availableRegions", status = 500, count = 5 })
      assert.equal(500, call("GET", PROJECT .. "/availableRegions").status)
      server:clear_scripts()
      assert.equal(200, call("GET", PROJECT .. "/availableRegions").status)
      assert.equal(2, #server:requests())
    end)

    it("refuses scripts it does not understand", function()
      local answer = call("POST", "/_fake/script", { body = { path = "x", fault = "explode" }, auth = false })
      assert_invalid_argument(answer, "fault")
    end)
  end)

  describe("state control", function()
    it("resets the state, scripts and log", function()
      local phone = first_available("US", "LOCAL")
      rent(phone)
      server:script({ path = "activeNumbers", status = 500 })
      server:reset()
      assert.equal(0, #server:requests())
      local listed = call("GET", PROJECT .. "/activeNumbers")
      assert.equal(200, listed.status)
      assert.equal(0, listed.json.totalSize)
      assert.equal(phone, first_available("US", "LOCAL"))
    end)

    it("masks credentials in its log, keeping the scheme and a fingerprint that tells them apart", function()
      local other_basic = "Basic " .. mime.b64("someone:else")
      call("GET", PROJECT .. "/availableRegions")
      call("GET", PROJECT .. "/availableRegions", { auth = other_basic })
      call("GET", PROJECT .. "/availableRegions", { auth = "Bearer real-looking-token" })
      call("GET", PROJECT .. "/availableRegions", { auth = "no-scheme-at-all", headers = {
        ["Proxy-Authorization"] = BASIC } })
      call("GET", PROJECT .. "/availableRegions")
      local log = server:requests()
      local seen = {}
      for i, request in ipairs(log) do
        seen[i] = request.headers.authorization
        local text = cjson.encode(request)
        for _, secret in ipairs{ "test-key-secret", BASIC:sub(7), mime.b64("someone:else"), "real-looking-token",
                                 "no-scheme-at-all" } do
          assert.is_nil(text:find(secret, 1, true), "a credential in the log entry " .. i)
        end
      end
      assert.matches("^Basic masked:%x%x%x%x%x%x%x%x$", seen[1])
      assert.matches("^Basic masked:%x+$", seen[2])
      assert.matches("^Bearer masked:%x+$", seen[3])
      assert.matches("^masked:%x+$", seen[4])
      assert.matches("^Basic masked:%x+$", log[4].headers["proxy-authorization"])
      assert.equal(seen[1], seen[5], "the same credential, the same fingerprint")
      assert.are_not.equal(seen[1], seen[2])
    end)

    it("logs the requests received: method, raw path and query, headers, body", function()
      call("GET", PROJECT .. "/availableNumbers?regionCode=US&type=LOCAL&numberPattern.pattern=%2B1206",
        { headers = { ["X-Trace"] = "abc" } })
      call("PATCH", PROJECT .. "/callbackConfiguration", { body = '{"hmacSecret":"s"}',
        headers = { ["Content-Type"] = "application/json" } })
      call("GET", "/_fake/requests", { auth = false })
      local log = server:requests()
      assert.equal(2, #log)
      assert.equal("GET", log[1].method)
      assert.equal(PROJECT .. "/availableNumbers?regionCode=US&type=LOCAL&numberPattern.pattern=%2B1206", log[1].path)
      assert.equal("abc", log[1].headers["x-trace"])
      assert.matches("^Basic masked:%x+$", log[1].headers.authorization)
      assert.equal("", log[1].body)
      assert.equal("PATCH", log[2].method)
      assert.equal('{"hmacSecret":"s"}', log[2].body)
      server:clear_requests()
      assert.equal(0, #server:requests())
    end)
  end)

  describe("webhook events", function()
    it("POSTs a signed event to the number's callbackUrl", function()
      local receiver = assert(socket.bind("127.0.0.1", 0))
      receiver:settimeout(5)
      local _, receiver_port = receiver:getsockname()
      local phone = first_available("US", "LOCAL")
      rent(phone, { callbackUrl = "http://127.0.0.1:" .. receiver_port .. "/hooks/numbers" })
      call("PATCH", PROJECT .. "/callbackConfiguration", { body = { hmacSecret = "webhook-secret" } })

      -- Delivery is asynchronous in the fake, so this process can ask for the
      -- event and receive it on the same thread.
      local control = connect()
      local request = cjson.encode({ phoneNumber = phone, eventType = "PROVISIONING_TO_SMS_PLATFORM", status = "FAILED",
        failureCode = "CAMPAIGN_NOT_AVAILABLE" })
      control:send(string.format("POST /_fake/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        .. "Content-Length: %d\r\n\r\n%s", #request, request))
      local incoming = assert(receiver:accept())
      incoming:settimeout(5)
      local request_line, headers, body = read_message(incoming)
      incoming:send("HTTP/1.1 202 Accepted\r\nContent-Length: 8\r\nConnection: close\r\n\r\nreceived")
      incoming:close()
      receiver:close()
      local status, _, answer = read_response(control)
      control:close()

      assert.equal("POST /hooks/numbers", request_line:match("^(%S+ %S+)"))
      assert.equal("application/json", headers["content-type"])
      assert.equal(hmac_sha1_hex("webhook-secret", body), headers["x-sinch-signature"])
      local event = cjson.decode(body)
      assert.equal("test-project", event.projectId)
      assert.equal(phone, event.resourceId)
      assert.equal("ACTIVE_NUMBER", event.resourceType)
      assert.equal("PROVISIONING_TO_SMS_PLATFORM", event.eventType)
      assert.equal("FAILED", event.status)
      assert.equal("CAMPAIGN_NOT_AVAILABLE", event.failureCode)
      assert.equal("string", type(event.eventId))
      assert.truthy(event.timestamp:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d+$"), "UTC without a zone")
      assert.equal(200, status)
      local delivery = cjson.decode(answer)
      assert.is_true(delivery.delivered)
      assert.equal(202, delivery.status)
      assert.equal("received", delivery.body)
      assert.equal(headers["x-sinch-signature"], delivery.signature)
    end)

    it("reports undeliverable events and numbers without a callbackUrl", function()
      local phone = first_available("GB", "LOCAL")
      rent(phone)
      assert_invalid_argument(call("POST", "/_fake/events", { auth = false, body = { phoneNumber = phone } }),
        "phoneNumber")
      local unreachable = addresses.refused_url()
      call("PATCH", PROJECT .. "/activeNumbers/" .. phone, { body = { callbackUrl = unreachable } })
      local answer = server:send_event({ phoneNumber = phone })
      assert.is_false(answer.delivered)
      assert.equal("string", type(answer.error))
      assert_not_found(call("POST", "/_fake/events", { auth = false, body = { phoneNumber = "+10000000000" } }),
        "ActiveNumber", "+10000000000")
    end)
  end)

  describe("connections", function()
    it("keeps connections alive, answers pipelined requests in order, and honours Connection: close", function()
      local connection = connect()
      connection:send(raw_request("GET", PROJECT .. "/availableRegions"))
      local status, headers = read_response(connection)
      assert.equal(200, status)
      assert.is_nil(headers.connection)
      connection:send(raw_request("GET", PROJECT .. "/availableNumbers/+10000000000")
        .. raw_request("GET", PROJECT .. "/callbackConfiguration"))
      assert.equal(404, (read_response(connection)))
      assert.equal(200, (read_response(connection)))
      connection:send(raw_request("GET", PROJECT .. "/availableRegions", "Connection: close\r\n"))
      status, headers = read_response(connection)
      assert.equal(200, status)
      assert.equal("close", headers.connection)
      local _, err = connection:receive(1)
      assert.equal("closed", err)
      connection:close()
    end)

    it("answers a client that shuts its sending side after the request", function()
      local connection = connect()
      connection:send(raw_request("GET", PROJECT .. "/availableRegions"))
      connection:shutdown("send")
      local status = read_response(connection)
      connection:close()
      assert.equal(200, status)
    end)

    it("serves twenty delayed clients at once", function()
      server:script({ path = "availableRegions", count = 20, delay = 0.3 })
      local started = socket.gettime()
      local connections = {}
      for i = 1, 20 do
        connections[i] = connect()
        connections[i]:send(raw_request("GET", PROJECT .. "/availableRegions"))
      end
      for i = 1, 20 do
        assert.equal(200, (read_response(connections[i])))
        connections[i]:close()
      end
      local elapsed = socket.gettime() - started
      assert.truthy(elapsed >= 0.29, "the delay was applied")
      assert.truthy(elapsed < 2, string.format("took %.2f s", elapsed))
    end)
  end)
end)
