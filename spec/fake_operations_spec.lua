-- Specs for the fake's emergency addresses, number orders and scenario
-- numbers, over raw HTTP with luasocket only (independent of the client
-- library, so the fake can catch the client's mistakes).
-- luacheck: std +busted
local cjson = require "cjson"
local socket = require "socket"
local addresses = require "support.addresses"
local fake_helper = require "support.fake_helper"
local fake_http = require "support.fake_http"
local files = require "support.files"
local scenarios = require "sinchnumbers.fake.scenarios"

local PROJECT = fake_http.PROJECT
local HOURS = 3600

describe("sinchnumbers-fake operations", function()
  local server = fake_helper.with_fake()

  local function call(method, path, options)
    return fake_http.call(server.url, method, path, options)
  end

  local function expect(status, answer)
    assert.equal(status, answer.status, answer.body)
    return answer.json
  end

  local function available(query)
    return expect(200, call("GET", PROJECT .. "/availableNumbers?" .. query)).availableNumbers
  end

  local function rented_number()
    local phone = available("regionCode=US&type=LOCAL&size=1")[1].phoneNumber
    expect(200, call("POST", PROJECT .. "/availableNumbers/" .. phone .. ":rent", { body = {} }))
    return phone
  end

  local function assert_failed_precondition(answer, violation_type)
    assert.equal(400, answer.status, answer.body)
    local err = answer.json.error
    assert.equal(400, err.code)
    assert.equal("FAILED_PRECONDITION", err.status)
    assert.equal("PreconditionFailure", err.details[1].type)
    local subjects = {}
    for _, violation in ipairs(err.details[1].violations) do
      assert.equal("string", type(violation.description))
      subjects[violation.subject] = violation.type
    end
    if violation_type then
      local types = {}
      for _, found in pairs(subjects) do types[found] = true end
      assert.truthy(types[violation_type], violation_type .. " in " .. answer.body)
    end
    return subjects, err.message
  end

  -- Days from the civil date, counted from an arbitrary day (March of year 0).
  local function days(y, m, d)
    if m <= 2 then y, m = y - 1, m + 12 end
    return 365 * y + math.floor(y / 4) - math.floor(y / 100) + math.floor(y / 400)
      + math.floor((153 * (m - 3) + 2) / 5) + d
  end
  local EPOCH_DAYS = days(1970, 1, 1)

  -- "2026-12-01T10:00:00Z" -> seconds since the epoch (UTC, whatever the TZ).
  local function utc_seconds(timestamp)
    local y, m, d, hh, mm, ss = timestamp:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z$")
    assert.truthy(y, "a UTC timestamp: " .. tostring(timestamp))
    local day = days(tonumber(y), tonumber(m), tonumber(d)) - EPOCH_DAYS
    return ((day * 24 + tonumber(hh)) * 60 + tonumber(mm)) * 60 + tonumber(ss)
  end

  describe("emergency addresses", function()
    local ADDRESS = {
      streetNumber = "1600", streetInfo = "Main Street", city = "Seattle", state = "WA", postalCode = "98101",
    }

    local function emergency(phone, action)
      return PROJECT .. "/activeNumbers/" .. phone .. "/emergencyAddress" .. (action or "")
    end

    it("provisions, gets and deprovisions an active number's address, unset fields as \"\"", function()
      local phone = rented_number()
      fake_http.assert_not_found(call("GET", emergency(phone)), "EmergencyAddress", phone)
      local provisioned = expect(200, call("POST", emergency(phone, ":provision"),
        { body = { displayName = "Head office", address = ADDRESS } }))
      local full = {
        streetNumber = "1600", streetInfo = "Main Street", city = "Seattle", state = "WA", postalCode = "98101",
        location = "", postalCodePlusFour = "",
      }
      assert.same({ phoneNumber = phone, displayName = "Head office", address = full }, provisioned)
      assert.same(provisioned, expect(200, call("GET", emergency(phone))))
      local answer = call("POST", emergency(phone, ":deprovision"))
      assert.equal(200, answer.status, answer.body)
      assert.equal("{}", answer.body)
      fake_http.assert_not_found(call("GET", emergency(phone)), "EmergencyAddress", phone)
      fake_http.assert_not_found(call("POST", emergency(phone, ":deprovision")), "EmergencyAddress", phone)
    end)

    it("forgets the address when the number is released", function()
      local phone = rented_number()
      expect(200, call("POST", emergency(phone, ":provision"), { body = { displayName = "x", address = ADDRESS } }))
      expect(200, call("POST", PROJECT .. "/activeNumbers/" .. phone .. ":release"))
      fake_http.assert_not_found(call("GET", emergency(phone)), "ActiveNumber", phone)
      expect(200, call("POST", PROJECT .. "/availableNumbers/" .. phone .. ":rent", { body = {} }))
      fake_http.assert_not_found(call("GET", emergency(phone)), "EmergencyAddress", phone)
    end)

    local function validation(phone, changes)
      local address = {}
      for name, value in pairs(ADDRESS) do address[name] = value end
      for name, value in pairs(changes) do address[name] = value end
      return expect(200, call("POST", emergency(phone, ":validate"),
        { body = { displayName = "Desk", address = address } })), address
    end

    it("validates: EXACT_MATCH for a canonical address", function()
      local phone = rented_number()
      local result, address = validation(phone, { location = "Floor 3" })
      assert.equal("EXACT_MATCH", result.validationResult)
      assert.equal(phone, result.phoneNumber)
      assert.equal("Desk", result.displayName)
      address.postalCodePlusFour = ""
      assert.same(address, result.validatedAddress)
      assert.same(address, result.correctedAddress)
      assert.same({}, result.candidateAddresses)
      assert.equal("string", type(result.validationMessage))
    end)

    it("validates: NEAR_MATCH with a correctedAddress for a lower-case or abbreviated street", function()
      local phone = rented_number()
      local result = validation(phone, { streetInfo = "main st. NE", city = "seattle", state = "wa" })
      assert.equal("NEAR_MATCH", result.validationResult)
      assert.equal("main st. NE", result.validatedAddress.streetInfo)
      local corrected = result.correctedAddress
      assert.equal("Main Street NE", corrected.streetInfo)
      assert.equal("Seattle", corrected.city)
      assert.equal("WA", corrected.state)
      assert.equal("98101", corrected.postalCode)
      assert.same({ corrected }, result.candidateAddresses)
      assert.equal("NEAR_MATCH", validation(phone, { streetInfo = "5th Ave" }).validationResult)
      assert.equal("5th Avenue", validation(phone, { streetInfo = "5th Ave" }).correctedAddress.streetInfo)
    end)

    it("validates: NO_MATCH for a street named Nowhere or a bad postalCode, which :provision refuses", function()
      local phone = rented_number()
      local unmatched = { { streetInfo = "Nowhere Road" }, { streetInfo = "nowhere" }, { postalCode = "9810" } }
      for _, changes in ipairs(unmatched) do
        local result = validation(phone, changes)
        assert.equal("NO_MATCH", result.validationResult)
        assert.same({}, result.candidateAddresses)
        assert.equal("", result.correctedAddress.streetInfo)
        assert.equal("", result.correctedAddress.postalCode)
      end
      assert.equal("EXACT_MATCH", validation(phone, { streetInfo = "Nowhereland Street" }).validationResult)
      local address = { streetNumber = "1", streetInfo = "Nowhere Road", city = "Seattle", state = "WA",
        postalCode = "98101" }
      assert_failed_precondition(call("POST", emergency(phone, ":provision"),
        { body = { displayName = "x", address = address } }), "ADDRESS_NOT_VALIDATED")
      fake_http.assert_not_found(call("GET", emergency(phone)), "EmergencyAddress", phone)
    end)

    it("refuses missing, unknown and mistyped fields, a body on :deprovision, numbers not in the project", function()
      local phone = rented_number()
      local fields = fake_http.assert_invalid_argument(call("POST", emergency(phone, ":provision"), { body = {} }))
      assert.truthy(fields.displayName and fields.address)
      local partial = { streetNumber = "1", streetInfo = "Main Street", state = "WA", postalCode = 98101 }
      fields = fake_http.assert_invalid_argument(call("POST", emergency(phone, ":validate"),
        { body = { displayName = "x", address = partial } }))
      assert.truthy(fields["address.city"] and fields["address.postalCode"])
      fields = fake_http.assert_invalid_argument(call("POST", emergency(phone, ":provision"),
        { body = { displayName = "x", adress = ADDRESS } }), "adress")
      assert.truthy(fields.adress:find('did you mean "address"', 1, true))
      fake_http.assert_invalid_argument(call("POST", emergency(phone, ":deprovision"), { body = { force = true } }),
        "force")
      fake_http.assert_invalid_argument(call("POST", emergency("12065550100", ":validate"),
        { body = { displayName = "x", address = ADDRESS } }), "phoneNumber")
      for _, action in ipairs({ ":provision", ":validate" }) do
        fake_http.assert_not_found(call("POST", emergency("+12069990000", action),
          { body = { displayName = "x", address = ADDRESS } }), "ActiveNumber", "+12069990000")
      end
      fake_http.assert_not_found(call("GET", emergency("+12069990000")), "ActiveNumber", "+12069990000")
      assert.equal(405, call("PUT", emergency(phone), { body = {} }).status)
      assert.equal(401, call("GET", emergency(phone), { auth = false }).status)
    end)
  end)

  describe("number orders", function()
    local ORDERS = PROJECT .. "/numberOrders"
    local REGISTRATION = { businessName = "Acme SARL", businessAddress = "1 rue de Rivoli, Paris",
      contactEmail = "kyc@acme.example" }

    local function order_path(id, rest)
      return ORDERS .. "/" .. id .. (rest or "")
    end

    local function create(body)
      return expect(200, call("POST", ORDERS .. ":createNumberOrder", { body = body }))
    end

    local function order_of(phones, extra)
      local body = { regionCode = "FR", numberType = "LOCAL", numberOrderOption = { phoneNumbers = phones } }
      for name, value in pairs(extra or {}) do body[name] = value end
      return create(body)
    end

    local function fr_numbers(count)
      local phones = {}
      for i, number in ipairs(available("regionCode=FR&type=LOCAL&size=" .. count)) do
        phones[i] = number.phoneNumber
      end
      return phones
    end

    -- A multipart/form-data body with one part; returns the body and the Content-Type.
    local function multipart(parts, boundary)
      boundary = boundary or "fake-spec-boundary-7d1f"
      local pieces = {}
      for _, part in ipairs(parts) do
        pieces[#pieces + 1] = "--" .. boundary .. "\r\n" .. part.head .. "\r\n\r\n" .. part.data .. "\r\n"
      end
      return table.concat(pieces) .. "--" .. boundary .. "--\r\n",
        'multipart/form-data; boundary="' .. boundary .. '"'
    end

    local function file_part(filename, content_type, data, name)
      return {
        head = string.format('Content-Disposition: form-data; name="%s"; filename="%s"\r\nContent-Type: %s',
          name or "file", filename, content_type),
        data = data,
      }
    end

    local function upload(id, attachment_id, body, content_type)
      return call("POST", order_path(id, "/attachments/" .. attachment_id),
        { body = body, headers = { ["Content-Type"] = content_type } })
    end

    local function upload_proof(id)
      local body, content_type = multipart({ file_part("bill.pdf", "application/pdf", "%PDF-1.4 bill") })
      return expect(200, upload(id, "proof-of-address", body, content_type))
    end

    local function submitted_order(extra)
      local order = order_of(fr_numbers(2), extra)
      expect(200, call("PUT", order_path(order.idNumberOrder, "/registration"), { body = { data = REGISTRATION } }))
      upload_proof(order.idNumberOrder)
      local submitted = expect(200, call("POST", order_path(order.idNumberOrder, "/submit")))
      assert.equal("IN_REVIEW", submitted.state)
      return submitted
    end

    it("looks up requirements: a registration schema and attachments for FR, none elsewhere", function()
      local fr = expect(200, call("POST", ORDERS .. ":lookupNumberRequirements",
        { body = { regionCode = "FR", numberType = "MOBILE" } }))
      assert.is_true(fr.quantityOrdersSupported)
      assert.equal("object", fr.fields.type)
      assert.same({ "businessName", "businessAddress", "contactEmail" }, fr.fields.required)
      assert.equal("string", fr.fields.properties.contactEmail.type)
      assert.equal("proof-of-address", fr.attachments[1].id)
      assert.is_true(fr.attachments[1].mandatory)
      assert.same({ "application/pdf", "image/jpeg", "image/png" }, fr.attachments[1].allowedMimeTypes)
      assert.same({ "UTILITY_BILL", "BANK_STATEMENT" }, fr.attachments[1].allowedDocumentTypes)
      assert.is_false(fr.attachments[2].mandatory)
      local us = call("POST", ORDERS .. ":lookupNumberRequirements",
        { body = { regionCode = "US", numberType = "LOCAL" } })
      assert.equal(200, us.status)
      assert.truthy(us.body:find('"attachments":[]', 1, true))
      assert.truthy(us.body:find('"required":[]', 1, true))
      fake_http.assert_invalid_argument(call("POST", ORDERS .. ":lookupNumberRequirements",
        { body = { regionCode = "FR", numberType = "TOLL_FREE" } }), "regionCode")
      local fields = fake_http.assert_invalid_argument(call("POST", ORDERS .. ":lookupNumberRequirements",
        { body = { region = "FR" } }))
      assert.truthy(fields.region and fields.regionCode and fields.numberType)
    end)

    it("creates an order that reserves its numbers for 48 hours of fake time", function()
      local phones = fr_numbers(2)
      local order = order_of(phones, {
        smsConfiguration = { servicePlanId = "plan-1" }, voiceConfiguration = { type = "RTC", appId = "app-1" },
        callbackUrl = "http://127.0.0.1:9/orders",
      })
      assert.equal("test-project", order.projectId)
      assert.equal("string", type(order.idNumberOrder))
      assert.equal("CREATED", order.state)
      assert.equal("FR", order.regionCode)
      assert.equal("LOCAL", order.numberType)
      assert.same({ servicePlanId = "plan-1" }, order.smsConfiguration)
      assert.same({ type = "RTC", appId = "app-1" }, order.voiceConfiguration)
      assert.equal(2, #order.orderNumbers)
      for i, number in ipairs(order.orderNumbers) do
        assert.equal(phones[i], number.phoneNumber)
        assert.same({ currencyCode = "USD", amount = "2.00" }, number.numberPrice.monthlyPrice)
        assert.same({ currencyCode = "USD", amount = "0.00" }, number.numberPrice.setupPrice)
        assert.equal(1, number.numberPrice.paymentIntervalMonths)
        assert.truthy(#number.capability > 0)
      end
      assert.equal(48 * HOURS, utc_seconds(order.expireTime) - utc_seconds(order.createTime))
      assert.equal(order.createTime, order.updateTime)
      assert.same(order, expect(200, call("GET", order_path(order.idNumberOrder))))
      for _, phone in ipairs(phones) do
        fake_http.assert_not_found(call("GET", PROJECT .. "/availableNumbers/" .. phone), "AvailableNumber", phone)
        fake_http.assert_invalid_argument(call("POST", ORDERS .. ":createNumberOrder", { body = {
          regionCode = "FR", numberType = "LOCAL", numberOrderOption = { phoneNumbers = { phone } },
        } }), "numberOrderOption.phoneNumbers[0]")
      end
      assert.are_not.equal(phones[1], fr_numbers(1)[1])
      fake_http.assert_not_found(call("GET", order_path("fake-order-999999")), "NumberOrder", "fake-order-999999")
    end)

    it("orders a quantity of numbers that match a pattern and capabilities", function()
      local order = create({ regionCode = "FR", numberType = "MOBILE", quantityOrderOption = {
        numberPattern = { pattern = "+336", searchPattern = "START" }, requestedQuantity = 3, sequential = true,
        capabilities = { "VOICE" },
      } })
      assert.equal(3, #order.orderNumbers)
      for _, number in ipairs(order.orderNumbers) do
        assert.truthy(number.phoneNumber:match("^%+336"))
        assert.truthy(table.concat(number.capability, ","):find("VOICE", 1, true))
      end
      assert_failed_precondition(call("POST", ORDERS .. ":createNumberOrder", { body = {
        regionCode = "FR", numberType = "MOBILE",
        quantityOrderOption = { numberPattern = { pattern = "+3361234" }, requestedQuantity = 1 },
      } }), "NOT_ENOUGH_NUMBERS")
    end)

    it("refuses create requests with both options or none, unknown fields, or numbers of another kind", function()
      local phone = fr_numbers(1)[1]
      local both = { regionCode = "FR", numberType = "LOCAL", numberOrderOption = { phoneNumbers = { phone } },
        quantityOrderOption = { requestedQuantity = 1 } }
      fake_http.assert_invalid_argument(call("POST", ORDERS .. ":createNumberOrder", { body = both }),
        "numberOrderOption")
      fake_http.assert_invalid_argument(call("POST", ORDERS .. ":createNumberOrder",
        { body = { regionCode = "FR", numberType = "LOCAL" } }), "numberOrderOption")
      local fields = fake_http.assert_invalid_argument(call("POST", ORDERS .. ":createNumberOrder", { body = {
        regionCode = "FR", numberType = "LOCAL", numberOrderOptions = { phoneNumbers = { phone } },
      } }), "numberOrderOptions")
      assert.truthy(fields.numberOrderOptions:find('did you mean "numberOrderOption"', 1, true))
      fake_http.assert_invalid_argument(call("POST", ORDERS .. ":createNumberOrder", { body = {
        regionCode = "FR", numberType = "MOBILE", numberOrderOption = { phoneNumbers = { phone } },
      } }), "numberOrderOption.phoneNumbers[0]")
      fake_http.assert_invalid_argument(call("POST", ORDERS .. ":createNumberOrder", { body = {
        regionCode = "FR", numberType = "LOCAL", numberOrderOption = { phoneNumbers = { phone, phone } },
      } }), "numberOrderOption.phoneNumbers[1]")
      fake_http.assert_invalid_argument(call("POST", ORDERS .. ":createNumberOrder", { body = {
        regionCode = "FR", numberType = "LOCAL", quantityOrderOption = { requestedQuantity = 0 },
      } }), "quantityOrderOption.requestedQuantity")
      fake_http.assert_invalid_argument(call("POST", ORDERS .. ":createNumberOrder", { body = {
        regionCode = "FR", numberType = "LOCAL", callbackUrl = "ftp://x",
        numberOrderOption = { phoneNumbers = { phone } },
      } }), "callbackUrl")
      assert.equal(phone, fr_numbers(1)[1], "nothing was reserved")
    end)

    it("uploads an attachment from a byte-exact multipart body, logged as sent", function()
      local order = order_of(fr_numbers(1))
      -- Bytes that a sloppy parser trips on: CRLF, a near-boundary, NUL, 0xFF.
      local data = "%PDF-1.7\r\n--fake-spec-boundary-7d1\r\n\0\255\r\n\r\nend"
      local body, content_type = multipart({ file_part("passport scan.pdf", "application/pdf", data) })
      local expected = "--fake-spec-boundary-7d1f\r\n"
        .. 'Content-Disposition: form-data; name="file"; filename="passport scan.pdf"\r\n'
        .. "Content-Type: application/pdf\r\n\r\n" .. data .. "\r\n--fake-spec-boundary-7d1f--\r\n"
      assert.equal(expected, body)
      local answer = expect(200, upload(order.idNumberOrder, "identity-document", body, content_type))
      assert.same({ attachmentId = "identity-document", fileName = "passport scan.pdf",
        contentType = "application/pdf", size = #data }, answer)
      local logged = fake_helper.requests_to(server, "POST", "/attachments/identity-document")
      assert.equal(1, #logged)
      assert.equal(body, logged[1].body)
      assert.equal(content_type, logged[1].headers["content-type"])
      assert.truthy(logged[1].headers.authorization:match("^Basic masked:%x+$"))
      -- An unquoted boundary and a preamble before the first part.
      local bare = "preamble\r\n--b0undary\r\nContent-Type: image/png\r\n"
        .. "Content-Disposition: form-data; filename=bill.png; name=file\r\n\r\nPNG\r\n--b0undary--"
      answer = expect(200, upload(order.idNumberOrder, "proof-of-address", bare,
        "multipart/form-data; boundary=b0undary"))
      assert.same({ attachmentId = "proof-of-address", fileName = "bill.png", contentType = "image/png", size = 3 },
        answer)
    end)

    it("refuses uploads: unknown attachment id, mime type not allowed, other parts, broken bodies", function()
      local id = order_of(fr_numbers(1)).idNumberOrder
      local pdf = file_part("a.pdf", "application/pdf", "pdf")
      local body, content_type = multipart({ pdf })
      local fields = fake_http.assert_invalid_argument(upload(id, "passport", body, content_type), "attachmentId")
      assert.truthy(fields.attachmentId:find("proof-of-address, identity-document", 1, true))
      body, content_type = multipart({ file_part("a.txt", "text/plain", "text") })
      fields = fake_http.assert_invalid_argument(upload(id, "proof-of-address", body, content_type), "file")
      assert.truthy(fields.file:find("application/pdf, image/jpeg, image/png", 1, true))
      body, content_type = multipart({ file_part("a.png", "image/png", "png") })
      fake_http.assert_invalid_argument(upload(id, "identity-document", body, content_type), "file")
      body, content_type = multipart({ file_part("a.pdf", "application/pdf", "pdf", "document") })
      fake_http.assert_invalid_argument(upload(id, "proof-of-address", body, content_type), "document")
      body, content_type = multipart({ pdf, pdf })
      fake_http.assert_invalid_argument(upload(id, "proof-of-address", body, content_type), "file")
      body, content_type = multipart({ { head = 'Content-Disposition: form-data; name="file"\r\n'
        .. "Content-Type: application/pdf", data = "pdf" } })
      fake_http.assert_invalid_argument(upload(id, "proof-of-address", body, content_type), "file")
      body = multipart({ pdf })
      fake_http.assert_invalid_argument(upload(id, "proof-of-address", body, "multipart/form-data"), "Content-Type")
      fake_http.assert_invalid_argument(upload(id, "proof-of-address", body, "application/json"), "Content-Type")
      fake_http.assert_invalid_argument(upload(id, "proof-of-address", body:sub(1, -25), content_type), "body")
      fake_http.assert_invalid_argument(upload(id, "proof-of-address", "no boundary here", content_type), "body")
      body = multipart({ { head = "", data = "pdf" } })
      fields = fake_http.assert_invalid_argument(upload(id, "proof-of-address", body, content_type), "body")
      assert.truthy(fields.body:find("Content-Disposition", 1, true))
      body, content_type = multipart({ pdf })
      fake_http.assert_not_found(upload("fake-order-404", "proof-of-address", body, content_type),
        "NumberOrder", "fake-order-404")
      assert_failed_precondition(call("POST", order_path(id, "/submit")), "MISSING_ATTACHMENT")
    end)

    it("submits CREATED to IN_REVIEW only with the registration data and mandatory attachments", function()
      local order = order_of(fr_numbers(1))
      local id = order.idNumberOrder
      local subjects, message = assert_failed_precondition(call("POST", order_path(id, "/submit")))
      assert.same({
        ["proof-of-address"] = "MISSING_ATTACHMENT",
        ["data.businessName"] = "MISSING_REGISTRATION_DATA",
        ["data.businessAddress"] = "MISSING_REGISTRATION_DATA",
        ["data.contactEmail"] = "MISSING_REGISTRATION_DATA",
      }, subjects)
      assert.truthy(message:find("(and 3 more)", 1, true))
      assert.same({ data = {} }, expect(200, call("GET", order_path(id, "/registration"))))
      assert.same({ data = REGISTRATION },
        expect(200, call("PUT", order_path(id, "/registration"), { body = { data = REGISTRATION } })))
      assert.same({ data = REGISTRATION }, expect(200, call("GET", order_path(id, "/registration"))))
      subjects = assert_failed_precondition(call("POST", order_path(id, "/submit")))
      assert.same({ ["proof-of-address"] = "MISSING_ATTACHMENT" }, subjects)
      upload_proof(id)
      fake_http.assert_invalid_argument(call("POST", order_path(id, "/submit"), { body = { now = true } }), "now")
      local submitted = expect(200, call("POST", order_path(id, "/submit")))
      assert.equal("IN_REVIEW", submitted.state)
      assert.equal("IN_REVIEW", expect(200, call("GET", order_path(id))).state)
      assert_failed_precondition(call("POST", order_path(id, "/submit")), "ORDER_STATE")
      assert_failed_precondition(call("PUT", order_path(id, "/registration"), { body = { data = {} } }), "ORDER_STATE")
      fake_http.assert_invalid_argument(call("PUT", order_path(id, "/registration"), { body = { date = {} } }), "data")
      -- Where nothing is required, a submit needs nothing.
      local us = available("regionCode=US&type=LOCAL&size=1")[1].phoneNumber
      local plain = create({ regionCode = "US", numberType = "LOCAL", numberOrderOption = { phoneNumbers = { us } } })
      assert.equal("IN_REVIEW", expect(200, call("POST", order_path(plain.idNumberOrder, "/submit"))).state)
    end)

    it("expires a CREATED order after 48 hours of fake time and releases its numbers", function()
      local phones = fr_numbers(1)
      local order = order_of(phones)
      local in_review = submitted_order()
      server:advance_clock(47 * HOURS)
      assert.equal("CREATED", expect(200, call("GET", order_path(order.idNumberOrder))).state)
      fake_http.assert_not_found(call("GET", PROJECT .. "/availableNumbers/" .. phones[1]), "AvailableNumber",
        phones[1])
      local clock = server:advance_clock(HOURS)
      assert.equal(48 * HOURS, clock.advanced)
      local expired = expect(200, call("GET", order_path(order.idNumberOrder)))
      assert.equal("EXPIRED", expired.state)
      assert.equal(order.expireTime, expired.updateTime)
      expect(200, call("GET", PROJECT .. "/availableNumbers/" .. phones[1]))
      assert_failed_precondition(call("POST", order_path(order.idNumberOrder, "/submit")), "ORDER_STATE")
      assert.equal("IN_REVIEW", expect(200, call("GET", order_path(in_review.idNumberOrder))).state)
      fake_http.assert_invalid_argument(call("POST", "/_fake/clock", { auth = false, body = { advance = -1 } }),
        "advance")
      fake_http.assert_invalid_argument(call("POST", "/_fake/clock", { auth = false, body = {} }), "advance")
      server:reset()
      assert.equal(0, server:advance_clock(0).advanced)
    end)

    it("completes an order: rents its numbers and POSTs a signed NUMBER_ORDER_PROCESSING event", function()
      local receiver = assert(socket.bind("127.0.0.1", 0))
      receiver:settimeout(5)
      local _, receiver_port = receiver:getsockname()
      call("PATCH", PROJECT .. "/callbackConfiguration", { body = { hmacSecret = "order-secret" } })
      local order = submitted_order({ callbackUrl = "http://127.0.0.1:" .. receiver_port .. "/hooks/orders",
        smsConfiguration = { servicePlanId = "plan-7" } })

      -- The decision waits for the delivery, so it goes out on a raw
      -- connection while this process receives the event.
      local control = assert(socket.connect("127.0.0.1", tonumber(server.url:match(":(%d+)$"))))
      control:settimeout(5)
      local request = cjson.encode({ state = "COMPLETED" })
      control:send(string.format("POST /_fake/number_orders/%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
        .. "\r\nContent-Length: %d\r\n\r\n%s", order.idNumberOrder, #request, request))
      local incoming = assert(receiver:accept())
      incoming:settimeout(5)
      local request_line = assert(incoming:receive("*l"))
      local headers = {}
      while true do
        local line = assert(incoming:receive("*l"))
        if line == "" then break end
        local name, value = line:match("^([^:]+):%s*(.*)$")
        headers[name:lower()] = value
      end
      local body = (assert(incoming:receive(tonumber(headers["content-length"]))))
      incoming:send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
      incoming:close()
      receiver:close()
      local status_line = assert(control:receive("*l"))
      local length
      repeat
        local line = assert(control:receive("*l"))
        length = length or tonumber(line:lower():match("^content%-length:%s*(%d+)"))
      until line == ""
      local delivery = cjson.decode((assert(control:receive(length))))
      control:close()

      assert.equal("POST /hooks/orders", request_line:match("^(%S+ %S+)"))
      assert.equal(fake_http.hmac_sha1_hex("order-secret", body), headers["x-sinch-signature"])
      local event = cjson.decode(body)
      assert.equal("NUMBER_ORDER", event.resourceType)
      assert.equal("NUMBER_ORDER_PROCESSING", event.eventType)
      assert.equal("COMPLETED", event.status)
      assert.equal(order.idNumberOrder, event.resourceId)
      assert.equal("test-project", event.projectId)
      assert.equal(cjson.null, event.failureCode)
      assert.truthy(status_line:match("^HTTP/1%.1 200"))
      assert.is_true(delivery.delivered)
      assert.equal(200, delivery.status)
      assert.equal(body, delivery.payload)
      assert.equal("COMPLETED", delivery.order.state)
      assert.equal("COMPLETED", expect(200, call("GET", order_path(order.idNumberOrder))).state)
      for _, number in ipairs(order.orderNumbers) do
        local active = expect(200, call("GET", PROJECT .. "/activeNumbers/" .. number.phoneNumber))
        assert.equal("FR", active.regionCode)
        assert.equal("plan-7", active.smsConfiguration.servicePlanId)
      end
    end)

    it("rejects an order, its numbers back in the inventory; decides only IN_REVIEW orders", function()
      local order = submitted_order()
      local decision = server:decide_number_order(order.idNumberOrder, "REJECTED")
      assert.is_false(decision.delivered)
      assert.equal("the order has no callbackUrl", decision.error)
      assert.equal("REJECTED", decision.order.state)
      for _, number in ipairs(order.orderNumbers) do
        expect(200, call("GET", PROJECT .. "/availableNumbers/" .. number.phoneNumber))
        fake_http.assert_not_found(call("GET", PROJECT .. "/activeNumbers/" .. number.phoneNumber), "ActiveNumber",
          number.phoneNumber)
      end
      assert_failed_precondition(call("POST", "/_fake/number_orders/" .. order.idNumberOrder,
        { auth = false, body = { state = "COMPLETED" } }), "ORDER_STATE")
      local created = order_of(fr_numbers(1))
      assert_failed_precondition(call("POST", "/_fake/number_orders/" .. created.idNumberOrder,
        { auth = false, body = { state = "COMPLETED" } }), "ORDER_STATE")
      fake_http.assert_invalid_argument(call("POST", "/_fake/number_orders/" .. created.idNumberOrder,
        { auth = false, body = { state = "BLOCKED" } }), "state")
      fake_http.assert_not_found(call("POST", "/_fake/number_orders/nope",
        { auth = false, body = { state = "REJECTED" } }),
        "NumberOrder", "nope")
      local unreachable = submitted_order({ callbackUrl = addresses.refused_url() })
      decision = server:decide_number_order(unreachable.idNumberOrder, "COMPLETED")
      assert.is_false(decision.delivered)
      assert.equal("string", type(decision.error))
      assert.equal("string", type(decision.signature))
    end)
  end)

  describe("the fake's clock", function()
    it("moves forward on POST /_fake/clock, tokens expiring with it, and back to the real time on reset", function()
      local issued = expect(200, call("POST", "/oauth2/token", { body = "grant_type=client_credentials",
        headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } }))
      local bearer = { auth = "Bearer " .. issued.access_token }
      expect(200, call("GET", PROJECT .. "/availableRegions", bearer))
      local before = os.time()
      local clock = server:advance_clock(issued.expires_in + 1)
      assert.equal(issued.expires_in + 1, clock.advanced)
      assert.truthy(utc_seconds(clock.now) - before >= issued.expires_in, clock.now)
      local refused = call("GET", PROJECT .. "/availableRegions", bearer)
      assert.equal(401, refused.status)
      assert.truthy(refused.headers["www-authenticate"]:find("expired", 1, true))
      server:reset()
      assert.truthy(math.abs(utc_seconds(server:advance_clock(0).now) - os.time()) < 60)
    end)
  end)

  describe("scenario numbers", function()
    local function rent(phone, body)
      return call("POST", PROJECT .. "/availableNumbers/" .. phone .. ":rent", { body = body or {} })
    end

    local function active(phone)
      return call("GET", PROJECT .. "/activeNumbers/" .. phone)
    end

    it("+15005550001 is never available: 404 on get and rent", function()
      local phone = "+15005550001"
      fake_http.assert_not_found(call("GET", PROJECT .. "/availableNumbers/" .. phone), "AvailableNumber", phone)
      fake_http.assert_not_found(rent(phone), "AvailableNumber", phone)
      fake_http.assert_not_found(active(phone), "ActiveNumber", phone)
    end)

    it("+15005550002's rent answers 403 PERMISSION_DENIED for a trial account, and rents nothing", function()
      local answer = rent("+15005550002")
      assert.equal(403, answer.status)
      assert.equal("PERMISSION_DENIED", answer.json.error.status)
      assert.truthy(answer.json.error.message:lower():find("trial account", 1, true))
      expect(200, call("GET", PROJECT .. "/availableNumbers/+15005550002"))
      assert.equal(404, active("+15005550002").status)
    end)

    it("+15005550003's rent takes effect, then the connection drops without an answer", function()
      local answer, err = fake_http.try(server.url, "POST", PROJECT .. "/availableNumbers/+15005550003:rent",
        { body = {} })
      assert.is_nil(answer)
      assert.equal("closed", err)
      assert.equal("+15005550003", expect(200, active("+15005550003")).phoneNumber)
      fake_http.assert_not_found(rent("+15005550003"), "AvailableNumber", "+15005550003")
    end)

    it("+15005550004 is rate-limited once (429, Retry-After: 1), then rents; again after a reset", function()
      for _ = 1, 2 do
        local limited = rent("+15005550004")
        assert.equal(429, limited.status)
        assert.equal("RESOURCE_EXHAUSTED", limited.json.error.status)
        assert.equal("1", limited.headers["retry-after"])
        assert.equal(404, active("+15005550004").status)
        assert.equal("+15005550004", expect(200, rent("+15005550004")).phoneNumber)
        server:reset()
      end
    end)

    it("+15005550005 needs documentation: rent refused with FAILED_PRECONDITION naming number orders", function()
      local number = expect(200, call("GET", PROJECT .. "/availableNumbers/+15005550005"))
      assert.is_true(number.supportingDocumentationRequired)
      local _, message = assert_failed_precondition(rent("+15005550005"), "SUPPORTING_DOCUMENTATION_REQUIRED")
      assert.truthy(message:find("numberOrders:createNumberOrder", 1, true))
      assert.truthy(message:find("create_number_order", 1, true))
      assert.equal(404, active("+15005550005").status)
      local order = expect(200, call("POST", PROJECT .. "/numberOrders:createNumberOrder", { body = {
        regionCode = "US", numberType = "LOCAL", numberOrderOption = { phoneNumbers = { "+15005550005" } },
      } }))
      assert.equal("+15005550005", order.orderNumbers[1].phoneNumber)
    end)

    it("FR's numbers all need a number order: rent and rentAny refused", function()
      for _, number_type in ipairs({ "LOCAL", "MOBILE" }) do
        local numbers = available("regionCode=FR&type=" .. number_type)
        assert.equal(30, #numbers)
        for _, number in ipairs(numbers) do assert.is_true(number.supportingDocumentationRequired) end
        assert_failed_precondition(rent(numbers[1].phoneNumber), "SUPPORTING_DOCUMENTATION_REQUIRED")
        assert_failed_precondition(call("POST", PROJECT .. "/availableNumbers:rentAny",
          { body = { regionCode = "FR", type = number_type } }), "SUPPORTING_DOCUMENTATION_REQUIRED")
      end
      for _, number in ipairs(available("regionCode=US&type=LOCAL&size=100")) do
        assert.is_false(number.supportingDocumentationRequired)
      end
    end)

    it("stay out of lists, rentAny and bulk numbers, outside the seeded ranges", function()
      assert.same({}, available("regionCode=US&type=LOCAL&numberPattern.pattern=%2B1500"
        .. "&numberPattern.searchPattern=START"))
      local listed = {}
      for _, number in ipairs(available("regionCode=US&type=LOCAL&size=100")) do listed[number.phoneNumber] = true end
      for _, phone in ipairs(server:add_active_numbers({ count = 400 }).phoneNumbers) do listed[phone] = true end
      fake_http.assert_not_found(call("POST", PROJECT .. "/availableNumbers:rentAny", { body = {
        regionCode = "US", type = "LOCAL", numberPattern = { pattern = "+15005550", searchPattern = "START" },
      } }), "AvailableNumber", "")
      for _, row in ipairs(scenarios.TABLE) do
        if row.phoneNumber then assert.is_nil(listed[row.phoneNumber], row.phoneNumber) end
      end
    end)

    it("are all in doc/fake-server.md's one table", function()
      local doc = files.read("doc/fake-server.md")
      for _, row in ipairs(scenarios.TABLE) do
        local name = row.phoneNumber or row.regionCode
        assert.truthy(doc:find("| `" .. name .. "` |", 1, true), name .. " in doc/fake-server.md")
      end
    end)
  end)
end)
