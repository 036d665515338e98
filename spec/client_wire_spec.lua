-- Every client method over real HTTP against the fake, checked in the fake's
-- request log: method, path and query, headers and body.
local helper = require "support.client_helper"
local sinchnumbers = require "sinchnumbers"
local cjson = require "cjson"
local contract = require "sinchnumbers.transport.contract"

describe("client methods on the wire", function()
  local server, new_client = helper.with_fake()
  local client

  before_each(function()
    client = new_client()
  end)

  local function one_request(fn) return helper.one_request(server, fn) end
  local function rented_number() return helper.rented_number(client) end

  it("list_available_numbers: every filter in the query, arrays as repeated keys, numberPattern dotted", function()
    local result, request = one_request(function()
      return client:list_available_numbers {
        regionCode = "US", type = "LOCAL",
        numberPattern = { pattern = "206", searchPattern = "START" },
        capabilities = { "SMS", "VOICE" }, size = 5,
      }
    end)
    assert.equal("GET", request.method)
    assert.equal(helper.path("/availableNumbers?regionCode=US&type=LOCAL&numberPattern.pattern=206"
      .. "&numberPattern.searchPattern=START&capabilities=SMS&capabilities=VOICE&size=5"), request.path)
    assert.equal("", request.body)
    assert.is_nil(request.headers["content-type"])
    assert.equal("application/json", request.headers["accept"])
    assert.matches("^sinchnumbers%-lua/", request.headers["user-agent"])
    assert.matches("^Bearer ", request.headers["authorization"])
    assert.is_true(#result.availableNumbers >= 1 and #result.availableNumbers <= 5)
    for _, number in ipairs(result.availableNumbers) do
      assert.matches("^%+1206", number.phoneNumber)
    end
  end)

  it("sends the application's user_agent after ours, to the API and the token endpoint alike", function()
    local branded = new_client { user_agent = "myapp/1.2" }
    server:clear_requests()
    assert(branded:list_available_regions())
    local requests = server:requests()
    assert.is_true(#requests >= 2, "the token request and the API request")
    for _, logged in ipairs(requests) do
      assert.equal(contract.USER_AGENT .. " myapp/1.2", logged.headers["user-agent"])
    end
  end)

  it("list_available_numbers: only the filters given", function()
    local _, request = one_request(function()
      return client:list_available_numbers { regionCode = "SE", type = "MOBILE" }
    end)
    assert.equal(helper.path("/availableNumbers?regionCode=SE&type=MOBILE"), request.path)
  end)

  it("get_available_number: the phone number percent-encoded in the path (+ as %2B)", function()
    local phone_number = helper.available_number(client)
    local result, request = one_request(function() return client:get_available_number(phone_number) end)
    assert.equal("GET", request.method)
    assert.equal(helper.path("/availableNumbers/%2B" .. phone_number:sub(2)), request.path)
    assert.equal(phone_number, result.phoneNumber)
  end)

  it("rent_number: POST ...:rent with the body as JSON", function()
    local phone_number = helper.available_number(client)
    local body = { smsConfiguration = { servicePlanId = "plan-1" }, callbackUrl = "https://example.com/cb" }
    local result, request = one_request(function() return client:rent_number(phone_number, body) end)
    assert.equal("POST", request.method)
    assert.equal(helper.path("/availableNumbers/%2B" .. phone_number:sub(2) .. ":rent"), request.path)
    assert.equal("application/json", request.headers["content-type"])
    assert.same(body, cjson.decode(request.body))
    assert.equal(phone_number, result.phoneNumber)
    assert.equal("plan-1", result.smsConfiguration.servicePlanId)
  end)

  it("rent_number: without a body sends {}", function()
    local phone_number = helper.available_number(client)
    local _, request = one_request(function() return client:rent_number(phone_number) end)
    assert.equal("{}", request.body)
    assert.equal("application/json", request.headers["content-type"])
  end)

  it("rent_number: a body given as JSON text goes out byte for byte", function()
    local phone_number = helper.available_number(client)
    local text = '{ "callbackUrl" : "https://example.com/x?a=1&b=2" }'
    local _, request = one_request(function() return client:rent_number(phone_number, text) end)
    assert.equal(text, request.body)
  end)

  it("rent_any_number: POST availableNumbers:rentAny", function()
    local body = {
      regionCode = "US", type = "LOCAL", capabilities = { "SMS" },
      numberPattern = { pattern = "206", searchPattern = "START" },
    }
    local result, request = one_request(function() return client:rent_any_number(body) end)
    assert.equal("POST", request.method)
    assert.equal(helper.path("/availableNumbers:rentAny"), request.path)
    assert.same(body, cjson.decode(request.body))
    assert.matches("^%+1206", result.phoneNumber)
  end)

  it("list_active_numbers: capabilities go out as `capability`, as the service wants", function()
    local phone_number = rented_number()
    local result, request = one_request(function()
      return client:list_active_numbers {
        regionCode = "US", type = "LOCAL", capabilities = { "SMS" }, pageSize = 2, orderBy = "phoneNumber",
      }
    end)
    assert.equal(helper.path("/activeNumbers?regionCode=US&type=LOCAL&capability=SMS&pageSize=2&orderBy=phoneNumber"),
      request.path)
    assert.equal(phone_number, result.activeNumbers[1].phoneNumber)
  end)

  it("list_active_numbers: `capability` is accepted too, and no filter at all", function()
    local _, request = one_request(function() return client:list_active_numbers { capability = { "VOICE" } } end)
    assert.equal(helper.path("/activeNumbers?capability=VOICE"), request.path)
    _, request = one_request(function() return client:list_active_numbers() end)
    assert.equal(helper.path("/activeNumbers"), request.path)
  end)

  it("get_active_number", function()
    local phone_number = rented_number()
    local result, request = one_request(function() return client:get_active_number(phone_number) end)
    assert.equal("GET", request.method)
    assert.equal(helper.path("/activeNumbers/%2B" .. phone_number:sub(2)), request.path)
    assert.equal(phone_number, result.phoneNumber)
  end)

  it("update_active_number: PATCH with the body as given, null included", function()
    local phone_number = rented_number()
    local result, request = one_request(function()
      return client:update_active_number(phone_number, { displayName = "Sales", callbackUrl = sinchnumbers.null })
    end)
    assert.equal("PATCH", request.method)
    assert.equal(helper.path("/activeNumbers/%2B" .. phone_number:sub(2)), request.path)
    assert.equal("application/json", request.headers["content-type"])
    local sent = cjson.decode(request.body)
    assert.equal("Sales", sent.displayName)
    assert.equal(cjson.null, sent.callbackUrl)
    assert.equal("Sales", result.displayName)
  end)

  it("release_number: POST ...:release with no body and no Content-Type", function()
    local phone_number = rented_number()
    local result, request = one_request(function() return client:release_number(phone_number) end)
    assert.equal("POST", request.method)
    assert.equal(helper.path("/activeNumbers/%2B" .. phone_number:sub(2) .. ":release"), request.path)
    assert.equal("", request.body)
    assert.is_nil(request.headers["content-type"])
    assert.equal(phone_number, result.phoneNumber)
    local _, err = client:get_active_number(phone_number)
    assert.equal("not_found", err.kind)
  end)

  it("list_available_regions: types as repeated keys", function()
    local result, request = one_request(function()
      return client:list_available_regions { types = { "LOCAL", "MOBILE" } }
    end)
    assert.equal("GET", request.method)
    assert.equal(helper.path("/availableRegions?types=LOCAL&types=MOBILE"), request.path)
    assert.is_true(#result.availableRegions > 0)
    result, request = one_request(function() return client:list_available_regions() end)
    assert.equal(helper.path("/availableRegions"), request.path)
    assert.is_true(#result.availableRegions > 0)
  end)

  it("get_callback_configuration and update_callback_configuration", function()
    local result, request = one_request(function() return client:get_callback_configuration() end)
    assert.equal("GET", request.method)
    assert.equal(helper.path("/callbackConfiguration"), request.path)
    assert.equal(helper.PROJECT_ID, result.projectId)

    result, request = one_request(function()
      return client:update_callback_configuration { hmacSecret = "new-secret" }
    end)
    assert.equal("PATCH", request.method)
    assert.equal(helper.path("/callbackConfiguration"), request.path)
    assert.same({ hmacSecret = "new-secret" }, cjson.decode(request.body))
    assert.equal("new-secret", result.hmacSecret)
  end)

  it("keeps JSON null in answers as sinchnumbers.null", function()
    assert.equal(cjson.null, sinchnumbers.null)
    server:script { path = "/activeNumbers/", body = { phoneNumber = "+12065550100", displayName = cjson.null } }
    local result = assert(client:get_active_number("+12065550100"))
    assert.equal(sinchnumbers.null, result.displayName)
  end)

  it("decodes the API's integer fields as integers (no 1250.0 on 5.3 and 5.4), other numbers as they are", function()
    local function assert_integer(value, text)
      assert.equal(text, tostring(value))
      if math.type then assert.equal("integer", math.type(value)) end
    end
    server:add_active_numbers { count = 3 }
    local page = assert(client:list_active_numbers { pageSize = 2 })
    assert_integer(page.totalSize, "3")
    assert_integer(page.activeNumbers[2].paymentIntervalMonths, "1")
    local available = assert(client:list_available_numbers { regionCode = "US", type = "LOCAL", size = 2 })
    assert_integer(available.availableNumbers[2].paymentIntervalMonths, "1")
    server:script { path = "/activeNumbers/", body = '{"phoneNumber":"+12065550100","paymentIntervalMonths":12,'
      .. '"totalSize":2.5,"other":[2.5,1e300]}' }
    local number = assert(client:get_active_number("+12065550100"))
    assert_integer(number.paymentIntervalMonths, "12")
    assert.equal("2.5", tostring(number.totalSize))
    assert.equal(2.5, number.other[1])
    assert.equal(1e300, number.other[2])
    local _, err = client:get_active_number("+12065550199")
    assert_integer(err.code, "404")
    server:script { path = "/numberOrders/", body = '{"idNumberOrder":"o-1","orderNumbers":[{"phoneNumber":'
      .. '"+33100000001","numberPrice":{"paymentIntervalMonths":3}}],"quantityOrderOption":{"requestedQuantity":2}}' }
    local order = assert(client:get_number_order("o-1"))
    assert_integer(order.orderNumbers[1].numberPrice.paymentIntervalMonths, "3")
    assert_integer(order.quantityOrderOption.requestedQuantity, "2")
  end)

  it("percent-encodes the project id in the path", function()
    local other = helper.client(server, { project_id = "a b:c" })
    server:clear_requests()
    other:get_callback_configuration()
    assert.equal("/v1/projects/a%20b%3Ac/callbackConfiguration", helper.api_requests(server)[1].path)
  end)
end)
