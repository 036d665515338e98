-- Emergency addresses, number orders and the fake's scenario numbers through
-- the client, over real HTTP against the fake: each method's request as the
-- fake's log has it, the order flow from create to active numbers, the
-- multipart body byte for byte, and the errors each scenario number gives.
local helper = require "support.client_helper"
local multipart = require "sinchnumbers.multipart"
local sinchnumbers = require "sinchnumbers"
local cjson = require "cjson"

local ADDRESS = { streetNumber = "1", streetInfo = "Main Street", city = "Seattle", state = "WA", postalCode = "98101" }

-- Every byte value, so that nothing in the upload path may be text-only.
local function all_bytes()
  local bytes = {}
  for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
  return table.concat(bytes) .. "\r\n--\r\n"
end

describe("emergency addresses and number orders on the wire", function()
  local server, new_client = helper.with_fake()
  local client

  before_each(function()
    client = new_client()
  end)

  local function one_request(fn) return helper.one_request(server, fn) end
  local function rented_number() return helper.rented_number(client) end

  local function in_path(phone_number)
    return "%2B" .. phone_number:sub(2)
  end

  it("provision_emergency_address, then get: POST ...:provision with the JSON body, GET the address", function()
    local phone = rented_number()
    local body = { displayName = "Front desk", address = ADDRESS }
    local provisioned, request = one_request(function() return client:provision_emergency_address(phone, body) end)
    assert.equal("POST", request.method)
    assert.equal(helper.path("/activeNumbers/" .. in_path(phone) .. "/emergencyAddress:provision"), request.path)
    assert.equal("application/json", request.headers["content-type"])
    assert.same(body, cjson.decode(request.body))
    assert.equal("Front desk", provisioned.displayName)
    assert.equal("", provisioned.address.location)

    local got
    got, request = one_request(function() return client:get_emergency_address(phone) end)
    assert.equal("GET", request.method)
    assert.equal(helper.path("/activeNumbers/" .. in_path(phone) .. "/emergencyAddress"), request.path)
    assert.equal("", request.body)
    assert.same(provisioned, got)
  end)

  it("validate_emergency_address: POST ...:validate; the fake's rule gives NEAR_MATCH and a correction", function()
    local phone = rented_number()
    local body = { displayName = "Desk", address = { streetNumber = "1", streetInfo = "main st.", city = "seattle",
      state = "wa", postalCode = "98101" } }
    local result, request = one_request(function() return client:validate_emergency_address(phone, body) end)
    assert.equal("POST", request.method)
    assert.equal(helper.path("/activeNumbers/" .. in_path(phone) .. "/emergencyAddress:validate"), request.path)
    assert.same(body, cjson.decode(request.body))
    assert.equal("NEAR_MATCH", result.validationResult)
    assert.equal("Main Street", result.correctedAddress.streetInfo)
  end)

  it("validate_emergency_address: a validationResult Sinch adds later comes through untouched", function()
    local phone = rented_number()
    server:script { path = "emergencyAddress:validate", status = 200,
      body = { phoneNumber = phone, validationResult = "PARTIAL_MATCH_BY_REGION" } }
    local result = assert(client:validate_emergency_address(phone, { displayName = "Desk", address = ADDRESS }))
    assert.equal("PARTIAL_MATCH_BY_REGION", result.validationResult)
  end)

  it("deprovision_emergency_address: POST ...:deprovision with no body and no Content-Type", function()
    local phone = rented_number()
    assert(client:provision_emergency_address(phone, { displayName = "Desk", address = ADDRESS }))
    local result, request = one_request(function() return client:deprovision_emergency_address(phone) end)
    assert.equal("POST", request.method)
    assert.equal(helper.path("/activeNumbers/" .. in_path(phone) .. "/emergencyAddress:deprovision"), request.path)
    assert.equal("", request.body)
    assert.is_nil(request.headers["content-type"])
    assert.same({}, result)
    local _, err = client:get_emergency_address(phone)
    assert.equal("not_found", err.kind)
  end)

  it("lookup_number_requirements: POST :lookupNumberRequirements { regionCode, numberType }", function()
    local result, request = one_request(function()
      return client:lookup_number_requirements { regionCode = "FR", numberType = "LOCAL" }
    end)
    assert.equal("POST", request.method)
    assert.equal(helper.path("/numberOrders:lookupNumberRequirements"), request.path)
    assert.same({ regionCode = "FR", numberType = "LOCAL" }, cjson.decode(request.body))
    assert.equal("proof-of-address", result.attachments[1].id)
  end)

  it("the whole order flow: create, registration, upload, submit, the fake's decision, and the numbers are active",
    function()
      local requirements = assert(client:lookup_number_requirements { regionCode = "FR", numberType = "LOCAL" })
      local order, request = one_request(function()
        return client:create_number_order {
          regionCode = "FR", numberType = "LOCAL", quantityOrderOption = { requestedQuantity = 2 },
          smsConfiguration = { servicePlanId = "plan-1" },
        }
      end)
      assert.equal("POST", request.method)
      assert.equal(helper.path("/numberOrders:createNumberOrder"), request.path)
      assert.same({ regionCode = "FR", numberType = "LOCAL", quantityOrderOption = { requestedQuantity = 2 },
        smsConfiguration = { servicePlanId = "plan-1" } }, cjson.decode(request.body))
      assert.equal("CREATED", order.state)
      assert.equal(2, #order.orderNumbers)
      local id = order.idNumberOrder

      local got
      got, request = one_request(function() return client:get_number_order(id) end)
      assert.equal("GET", request.method)
      assert.equal(helper.path("/numberOrders/" .. id), request.path)
      assert.same(order, got)

      local data = { businessName = "Acme", businessAddress = "1 Rue de Rivoli, Paris", contactEmail = "a@acme.fr" }
      local registration
      registration, request = one_request(function()
        return client:update_number_order_registration(id, { data = data })
      end)
      assert.equal("PUT", request.method)
      assert.equal(helper.path("/numberOrders/" .. id .. "/registration"), request.path)
      assert.same({ data = data }, cjson.decode(request.body))
      assert.same(data, registration.data)
      got, request = one_request(function() return client:get_number_order_registration(id) end)
      assert.equal("GET", request.method)
      assert.equal(helper.path("/numberOrders/" .. id .. "/registration"), request.path)
      assert.same(data, got.data)

      local proof = requirements.attachments[1]
      local file = { name = "bill.pdf", content_type = "application/pdf", data = all_bytes() }
      local uploaded
      uploaded, request = one_request(function()
        return client:upload_number_order_attachment(id, proof.id, file)
      end)
      assert.equal("POST", request.method)
      assert.equal(helper.path("/numberOrders/" .. id .. "/attachments/" .. proof.id), request.path)
      assert.equal(#file.data, uploaded.size)
      assert.equal("bill.pdf", uploaded.fileName)

      local submitted
      submitted, request = one_request(function() return client:submit_number_order(id) end)
      assert.equal("POST", request.method)
      assert.equal(helper.path("/numberOrders/" .. id .. "/submit"), request.path)
      assert.equal("", request.body)
      assert.is_nil(request.headers["content-type"])
      assert.equal("IN_REVIEW", submitted.state)

      server:decide_number_order(id, "COMPLETED")
      assert.equal("COMPLETED", assert(client:get_number_order(id)).state)
      for _, ordered in ipairs(order.orderNumbers) do
        local active = assert(client:get_active_number(ordered.phoneNumber))
        assert.equal("plan-1", active.smsConfiguration.servicePlanId)
      end
    end)

  it("create_number_order by numbers: numberOrderOption goes out as given", function()
    local list = assert(client:list_available_numbers { regionCode = "FR", type = "MOBILE", size = 1 })
    local phone = list.availableNumbers[1].phoneNumber
    local order, request = one_request(function()
      return client:create_number_order { regionCode = "FR", numberType = "MOBILE",
        numberOrderOption = { phoneNumbers = { phone } } }
    end)
    assert.same({ phoneNumbers = { phone } }, cjson.decode(request.body).numberOrderOption)
    assert.equal(phone, order.orderNumbers[1].phoneNumber)
  end)

  it("get_number_order: a state Sinch adds later comes through untouched", function()
    server:script { path = "/numberOrders/order-9", status = 200,
      body = { idNumberOrder = "order-9", state = "AWAITING_SIGNATURE" } }
    local order = assert(client:get_number_order("order-9"))
    assert.equal("AWAITING_SIGNATURE", order.state)
  end)

  it("an order id is percent-encoded into its path segment", function()
    local _, err = client:get_number_order("no such order")
    assert.equal("not_found", err.kind)
    local requests = helper.api_requests(server)
    assert.equal(helper.path("/numberOrders/no%20such%20order"), requests[#requests].path)
  end)

  it("upload_number_order_attachment: the multipart body on the wire is the one built for its boundary", function()
    local order = assert(client:create_number_order { regionCode = "US", numberType = "LOCAL",
      quantityOrderOption = { requestedQuantity = 1 } })
    local requirements = assert(client:lookup_number_requirements { regionCode = "FR", numberType = "LOCAL" })
    assert.is_table(requirements)
    server:clear_requests()
    local file = { name = "scan.png", content_type = "image/png", data = all_bytes() }
    local _, err = client:upload_number_order_attachment(order.idNumberOrder, "identity", file)
    -- A US order has no attachments: the fake parses the upload and refuses the id.
    assert.equal(400, err.status)
    local request = helper.api_requests(server)[1]
    local boundary = request.headers["content-type"]:match("^multipart/form%-data; boundary=(.+)$")
    assert.matches("^sinchnumbers%-%x+$", boundary)
    local expected = multipart.body("file", file, function() return boundary end)
    assert.equal(expected, request.body)
    assert.equal(tostring(#expected), request.headers["content-length"])
  end)

  it("upload_number_order_attachment reads a path, with its name and the type of its extension", function()
    local order = assert(client:create_number_order { regionCode = "FR", numberType = "LOCAL",
      quantityOrderOption = { requestedQuantity = 1 } })
    local temporary = os.tmpname()
    local path = temporary .. "-bill.pdf"
    local handle = assert(io.open(path, "wb"))
    handle:write(all_bytes())
    handle:close()
    local uploaded, err = client:upload_number_order_attachment(order.idNumberOrder, "proof-of-address", path)
    os.remove(path)
    os.remove(temporary)
    assert.is_nil(err, err and tostring(err))
    assert.equal(path:match("[^/]+$"), uploaded.fileName)
    assert.equal("application/pdf", uploaded.contentType)
    assert.equal(#all_bytes(), uploaded.size)
  end)
end)

describe("the multipart body", function()
  local FILE = { name = "passport.pdf", content_type = "application/pdf", data = "%PDF-1.4\r\n\0binary" }

  it("is exactly this for a fixed boundary", function()
    local body, content_type = multipart.body("file", FILE, function() return "XyZ" end)
    assert.equal("multipart/form-data; boundary=XyZ", content_type)
    assert.equal("--XyZ\r\n"
      .. 'Content-Disposition: form-data; name="file"; filename="passport.pdf"\r\n'
      .. "Content-Type: application/pdf\r\n"
      .. "\r\n"
      .. "%PDF-1.4\r\n\0binary\r\n"
      .. "--XyZ--\r\n", body)
  end)

  it("draws another boundary when the data holds the first, and gives up (nil, why) when every one is in it",
    function()
      local draws = { "binary", "fresh" }
      local body, content_type = multipart.body("file", FILE, function() return table.remove(draws, 1) end)
      assert.equal("multipart/form-data; boundary=fresh", content_type)
      assert.is_nil(body:find("--binary", 1, true))
      local stuck, why = multipart.body("file", FILE, function() return "PDF" end)
      assert.is_nil(stuck)
      assert.matches("could not find a multipart boundary", why)
    end)

  it("has a new boundary every time, never one from the data", function()
    local seen = {}
    for _ = 1, 100 do
      local boundary = multipart.new_boundary()
      assert.is_nil(seen[boundary])
      seen[boundary] = true
      assert.is_true(#boundary <= 70)
    end
  end)
end)

describe("number orders that end without a clear answer, and refused rents", function()
  local server, new_client = helper.with_fake()
  local client

  before_each(function()
    client = new_client()
  end)

  local QUANTITY_ORDER = { regionCode = "US", numberType = "LOCAL", quantityOrderOption = { requestedQuantity = 1 } }

  it("create_number_order is not repeated after a 503, and the hint says what may exist and where to look", function()
    server:script { path = ":createNumberOrder", status = 503, count = 3 }
    local order, err = client:create_number_order(QUANTITY_ORDER)
    assert.is_nil(order)
    assert.equal(1, #helper.requests_to(server, "POST", ":createNumberOrder"))
    assert.equal("http", err.kind)
    assert.matches("create_number_order may or may not have taken effect", err.hint, 1, true)
    assert.matches("holds its numbers for 48 hours", err.hint, 1, true)
    assert.matches("no call lists orders", err.hint, 1, true)
  end)

  it("create_number_order whose connection drops after sending is not sent again", function()
    server:script { path = ":createNumberOrder", fault = "drop" }
    local order, err = client:create_number_order(QUANTITY_ORDER)
    assert.is_nil(order)
    assert.equal(1, #helper.requests_to(server, "POST", ":createNumberOrder"))
    assert.matches("may or may not have taken effect", err.hint, 1, true)
  end)

  it("submit_number_order is not repeated after a 503, and the hint says to look with get_number_order", function()
    local order = assert(client:create_number_order(QUANTITY_ORDER))
    server:script { path = "/submit", status = 503, count = 3 }
    local submitted, err = client:submit_number_order(order.idNumberOrder)
    assert.is_nil(submitted)
    assert.equal(1, #helper.requests_to(server, "POST", "/submit"))
    assert.matches("submit_number_order may or may not have taken effect: look with get_number_order", err.hint, 1,
      true)
    -- The scripted 503 never reached the order: it is still CREATED, as the hint says to check.
    assert.equal("CREATED", assert(client:get_number_order(order.idNumberOrder)).state)
  end)

  it("a refused submit (mandatory documents missing) is the service's words, with nothing added", function()
    local order = assert(client:create_number_order { regionCode = "FR", numberType = "LOCAL",
      quantityOrderOption = { requestedQuantity = 1 } })
    local submitted, err = client:submit_number_order(order.idNumberOrder)
    assert.is_nil(submitted)
    assert.equal(400, err.status)
    assert.equal("FAILED_PRECONDITION", err.reason)
    assert.is_nil(err.hint)
  end)
end)

describe("the fake's scenario numbers through the client", function()
  local server, new_client = helper.with_fake()
  local client

  before_each(function()
    client = new_client()
  end)

  it("+15005550001 is never available: not_found on get and rent", function()
    local _, err = client:get_available_number("+15005550001")
    assert.equal("not_found", err.kind)
    local rented
    rented, err = client:rent_number("+15005550001")
    assert.is_nil(rented)
    assert.equal("not_found", err.kind)
    assert.is_nil(err.rented)
  end)

  it("+15005550002 answers a rent with 403 (a trial account): auth, the service's words, nothing rented", function()
    local rented, err = client:rent_number("+15005550002")
    assert.is_nil(rented)
    assert.equal("auth", err.kind)
    assert.equal(403, err.status)
    assert.matches("Trial accounts cannot rent numbers", err.message, 1, true)
    assert.is_nil(err.rented)
    local _, not_there = client:get_active_number("+15005550002")
    assert.equal("not_found", not_there.kind)
  end)

  it("+15005550003 rents, then loses its answer: the confirmation finds it, err.rented = true", function()
    local rented, err = client:rent_number("+15005550003")
    assert.is_nil(rented)
    assert.equal("network", err.kind)
    assert.is_true(err.rented)
    assert.matches("get_active_number shows +15005550003 is now in the project", err.hint, 1, true)
    assert.equal(1, #helper.requests_to(server, "POST", ":rent"))
  end)

  it("+15005550004 is rate-limited once: rate_limited with retry_after 1, not repeated; the next rent works", function()
    local rented, err = client:rent_number("+15005550004")
    assert.is_nil(rented)
    assert.equal("rate_limited", err.kind)
    assert.equal(1, err.retry_after)
    assert.equal(1, #helper.requests_to(server, "POST", ":rent"))
    assert.equal("+15005550004", assert(client:rent_number("+15005550004")).phoneNumber)
  end)

  it("+15005550005 needs documents: the rent is refused and the hint names create_number_order", function()
    local available = assert(client:get_available_number("+15005550005"))
    assert.is_true(available.supportingDocumentationRequired)
    local rented, err = client:rent_number("+15005550005")
    assert.is_nil(rented)
    assert.equal("http", err.kind)
    assert.equal(400, err.status)
    assert.equal("FAILED_PRECONDITION", err.reason)
    assert.matches("get it through a number order: lookup_number_requirements, then create_number_order",
      err.hint, 1, true)
    assert.is_nil(err.rented)
    -- ... and a number order gets it.
    local order = assert(client:create_number_order { regionCode = "US", numberType = "LOCAL",
      numberOrderOption = { phoneNumbers = { "+15005550005" } } })
    assert(client:submit_number_order(order.idNumberOrder))
    server:decide_number_order(order.idNumberOrder, "COMPLETED")
    assert(client:get_active_number("+15005550005"))
  end)

  it("region FR needs a number order: rent_any_number is refused with the same hint", function()
    local rented, err = client:rent_any_number { regionCode = "FR", type = "LOCAL" }
    assert.is_nil(rented)
    assert.equal("FAILED_PRECONDITION", err.reason)
    assert.matches("create_number_order", err.hint, 1, true)
    assert.matches("create_number_order", tostring(err), 1, true)
  end)
end)

describe("number-order events", function()
  local server, new_client = helper.with_fake()

  it("the fake's signed NUMBER_ORDER_PROCESSING event verifies and parses", function()
    local client = new_client()
    local order = assert(client:create_number_order { regionCode = "US", numberType = "LOCAL",
      quantityOrderOption = { requestedQuantity = 1 }, callbackUrl = helper.refused_url() })
    assert(client:submit_number_order(order.idNumberOrder))
    local decision = server:decide_number_order(order.idNumberOrder, "REJECTED")
    local secret = assert(client:get_callback_configuration()).hmacSecret
    assert.is_true(sinchnumbers.verify_signature(decision.payload, decision.signature, secret))
    local event = assert(sinchnumbers.parse_event(decision.payload))
    assert.equal("NUMBER_ORDER", event.resourceType)
    assert.equal(order.idNumberOrder, event.resourceId)
    assert.equal("NUMBER_ORDER_PROCESSING", event.eventType)
    assert.equal("REJECTED", event.status)
    assert.is_number(event.unix_time)
  end)
end)
