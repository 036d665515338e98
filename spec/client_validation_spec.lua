-- Bad input is found before anything goes on the wire: each case gives nil and
-- an invalid_argument error that says what is allowed, and the fake sees no
-- request at all (not even one for a token).
local helper = require "support.client_helper"
local sinchnumbers = require "sinchnumbers"
local cjson = require "cjson"

local PHONE = "+12065550100"

local ADDRESS = { streetNumber = "1", streetInfo = "Main Street", city = "Seattle", state = "WA", postalCode = "98101" }
local FILE = { name = "bill.pdf", content_type = "application/pdf", data = "%PDF-1.4" }
-- A readable file whose name could not go into a Content-Disposition line as it is.
local TEMPORARY = os.tmpname()
local QUOTED_PATH = TEMPORARY .. '-a"b.pdf'
assert(io.open(QUOTED_PATH, "wb")):close()

-- A copy of `t` without one field, or with one more.
local function without(t, name)
  local copy = {}
  for key, value in pairs(t) do copy[key] = value end
  copy[name] = nil
  return copy
end

local function with(t, name, value)
  local copy = without(t, name)
  copy[name] = value
  return copy
end

-- { what, call(client) -> result, err, text the message must contain }
local CASES = {
  -- phone numbers (E.164: "+", 2 to 15 digits, the first 1-9)
  { "phone without +", function(c) return c:get_active_number("12065550100") end, "E.164" },
  { "phone starting with +0", function(c) return c:get_active_number("+02065550100") end, "the first of them 1-9" },
  { "phone with one digit", function(c) return c:get_active_number("+1") end, "2 to 15 digits" },
  { "phone with 16 digits", function(c) return c:get_active_number("+1234567890123456") end, "2 to 15 digits" },
  { "phone with spaces", function(c) return c:get_active_number("+1 206 555 0100") end, "E.164" },
  { "phone with a letter", function(c) return c:get_active_number("+1206555010a") end, "E.164" },
  { "phone as a number", function(c) return c:get_active_number(12065550100) end, "got a number" },
  { "phone missing", function(c) return c:get_active_number() end, "got a nil" },
  { "empty phone", function(c) return c:get_available_number("") end, "E.164" },
  { "tel: URI as phone", function(c) return c:rent_number("tel:+12065550100") end, "E.164" },
  { "phone with dashes", function(c) return c:update_active_number("+1-206-555-0100", {}) end, "E.164" },
  { "phone as a table", function(c) return c:release_number({}) end, "got a table" },
  { "phone with a newline", function(c) return c:release_number(PHONE .. "\n") end, "E.164" },

  -- list_available_numbers
  { "no params where regionCode is required", function(c) return c:list_available_numbers() end,
    "regionCode is required" },
  { "type missing", function(c) return c:list_available_numbers { regionCode = "US" } end,
    'type is required: one of "LOCAL", "MOBILE", "TOLL_FREE"' },
  { "regionCode of three letters", function(c)
    return c:list_available_numbers { regionCode = "USA", type = "LOCAL" } end, "two capital letters" },
  { "regionCode in lower case", function(c)
    return c:list_available_numbers { regionCode = "us", type = "LOCAL" } end, '(got "us")' },
  { "regionCode as a number", function(c)
    return c:list_available_numbers { regionCode = 1, type = "LOCAL" } end, "got 1" },
  { "type not in the enum", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LANDLINE" } end,
    'type must be one of "LOCAL", "MOBILE", "TOLL_FREE" (got "LANDLINE")' },
  { "type in lower case", function(c)
    return c:list_available_numbers { regionCode = "US", type = "local" } end, "must be one of" },
  { "size 0", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", size = 0 } end,
    "size must be an integer from 1 to 100 (got 0)" },
  { "size 101", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", size = 101 } end, "from 1 to 100" },
  { "size 2.5", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", size = 2.5 } end, "an integer" },
  { "size as a string", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", size = "10" } end, "got a string" },
  { "size NaN", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", size = 0 / 0 } end, "an integer" },
  { "capabilities as a string", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", capabilities = "SMS" } end,
    'capabilities must be a list of one or more of "SMS", "VOICE"' },
  { "capability not in the enum", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", capabilities = { "SMS", "MMS" } } end,
    'capabilities[2] must be one of "SMS", "VOICE" (got "MMS")' },
  { "capabilities empty", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", capabilities = {} } end, "one or more" },
  { "capabilities as a set", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", capabilities = { SMS = true } } end,
    "must be a list" },
  { "numberPattern as a string", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", numberPattern = "206" } end,
    'numberPattern must be a table with "pattern", "searchPattern"' },
  { "searchPattern not in the enum", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", numberPattern = { searchPattern = "BEGIN" } }
  end, 'numberPattern.searchPattern must be one of "START", "CONTAINS", "END"' },
  { "pattern as a number", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", numberPattern = { pattern = 206 } } end,
    "numberPattern.pattern must be a string" },
  { "misspelt numberPattern member", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", numberPattern = { patern = "206" } } end,
    'unknown parameter "numberPattern.patern"; did you mean "pattern"?' },
  { "dotted numberPattern key", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", ["numberPattern.pattern"] = "206" } end,
    "write numberPattern = { pattern = ... }" },
  { "misspelt parameter", function(c)
    return c:list_available_numbers { regioncode = "US", type = "LOCAL" } end,
    'unknown parameter "regioncode"; did you mean "regionCode"?' },
  { "parameter of another endpoint", function(c)
    return c:list_available_numbers { regionCode = "US", type = "LOCAL", pageSize = 10 } end,
    'did you mean "size"? (allowed: "regionCode", "type", "numberPattern", "capabilities", "size")' },
  { "params as a string", function(c) return c:list_available_numbers("US") end,
    "params must be a table of query parameters" },
  { "params as a list", function(c) return c:list_available_numbers { "US", "LOCAL" } end,
    "parameter names must be strings" },

  -- list_active_numbers
  { "pageSize 0", function(c) return c:list_active_numbers { pageSize = 0 } end,
    "pageSize must be an integer from 1 to 100" },
  { "pageSize 1000", function(c) return c:list_active_numbers { pageSize = 1000 } end, "(got 1000)" },
  { "pageToken as a number", function(c) return c:list_active_numbers { pageToken = 5 } end,
    "pageToken must be a string" },
  { "orderBy not in the enum", function(c) return c:list_active_numbers { orderBy = "name" } end,
    'orderBy must be one of "phoneNumber", "displayName"' },
  { "capability not in the enum", function(c) return c:list_active_numbers { capability = { "FAX" } } end,
    'capability[1] must be one of "SMS", "VOICE"' },
  { "capabilities not in the enum", function(c) return c:list_active_numbers { capabilities = { "FAX" } } end,
    'capabilities[1] must be one of "SMS", "VOICE"' },
  { "capability and capabilities both", function(c)
    return c:list_active_numbers { capability = { "SMS" }, capabilities = { "VOICE" } } end,
    "give capability or capabilities, not both" },
  { "type TOLLFREE", function(c) return c:list_active_numbers { type = "TOLLFREE" } end, '"TOLL_FREE"' },
  { "regionCode with a digit", function(c) return c:list_active_numbers { regionCode = "U1" } end,
    "two capital letters" },
  { "snake_case parameter", function(c) return c:list_active_numbers { page_size = 10 } end,
    'did you mean "pageSize"?' },
  { "searchPattern MIDDLE", function(c)
    return c:list_active_numbers { numberPattern = { searchPattern = "MIDDLE" } } end, '"CONTAINS"' },

  -- list_available_regions
  { "types as a string", function(c) return c:list_available_regions { types = "LOCAL" } end,
    "types must be a list" },
  { "types with an unknown type", function(c) return c:list_available_regions { types = { "LOCAL", "SHORT_CODE" } } end,
    'types[2] must be one of "LOCAL", "MOBILE", "TOLL_FREE"' },
  { "type instead of types", function(c) return c:list_available_regions { type = { "LOCAL" } } end,
    'did you mean "types"?' },

  -- rent_number
  { "body that is not JSON", function(c) return c:rent_number(PHONE, "not json") end, "body is not valid JSON" },
  { "body as a number", function(c) return c:rent_number(PHONE, 5) end, "body must be a table" },
  { "smsConfiguration as a string", function(c) return c:rent_number(PHONE, { smsConfiguration = "plan" }) end,
    'smsConfiguration must be a table with "servicePlanId", "campaignId"' },
  { "misspelt servicePlanId", function(c)
    return c:rent_number(PHONE, { smsConfiguration = { servicePlanID = "x" } }) end,
    'unknown field "smsConfiguration.servicePlanID"; did you mean "servicePlanId"?' },
  { "read-only scheduledProvisioning", function(c)
    return c:rent_number(PHONE, { smsConfiguration = { scheduledProvisioning = {} } }) end,
    "smsConfiguration.scheduledProvisioning is read-only" },
  { "voice type not in the enum", function(c)
    return c:rent_number(PHONE, { voiceConfiguration = { type = "SIP" } }) end,
    'voiceConfiguration.type must be one of "RTC", "EST", "FAX"' },
  { "appId as a number", function(c) return c:rent_number(PHONE, { voiceConfiguration = { appId = 5 } }) end,
    "voiceConfiguration.appId must be a string" },
  { "callbackUrl as a number", function(c) return c:rent_number(PHONE, { callbackUrl = 5 }) end,
    "callbackUrl must be a string" },
  { "displayName on rent", function(c) return c:rent_number(PHONE, { displayName = "x" }) end,
    'unknown field "displayName"' },
  { "unknown field in JSON text", function(c) return c:rent_number(PHONE, '{"callbackURL":"https://x"}') end,
    'did you mean "callbackUrl"?' },
  { "JSON text of an array", function(c) return c:rent_number(PHONE, "[1]") end, "field names must be strings" },

  -- rent_any_number
  { "rentAny without a body", function(c) return c:rent_any_number() end, "a body is required" },
  { "rentAny without regionCode", function(c) return c:rent_any_number { type = "LOCAL" } end,
    "regionCode is required" },
  { "rentAny with type ANY", function(c) return c:rent_any_number { regionCode = "US", type = "ANY" } end,
    "type must be one of" },
  { "rentAny capability as a number", function(c)
    return c:rent_any_number { regionCode = "US", type = "LOCAL", capabilities = { "SMS", 1 } } end,
    "capabilities[2] must be one of" },
  { "rentAny pattern as a boolean", function(c)
    return c:rent_any_number { regionCode = "US", type = "LOCAL", numberPattern = { pattern = true } } end,
    "numberPattern.pattern must be a string (got a boolean)" },
  { "rentAny regionCode null", function(c)
    return c:rent_any_number { regionCode = sinchnumbers.null, type = "LOCAL" } end, "regionCode is required" },

  -- update_active_number
  { "update without a body", function(c) return c:update_active_number(PHONE) end, "a body is required" },
  { "displayName as a number", function(c) return c:update_active_number(PHONE, { displayName = 5 }) end,
    "displayName must be a string (got 5)" },
  { "read-only scheduledVoiceProvisioning", function(c)
    return c:update_active_number(PHONE, { voiceConfiguration = { scheduledVoiceProvisioning = {} } }) end,
    "read-only" },
  { "body as a list", function(c) return c:update_active_number(PHONE, { "x" }) end,
    "field names must be strings" },
  { "misspelt displayName", function(c) return c:update_active_number(PHONE, { displayname = "x" }) end,
    'did you mean "displayName"?' },
  { "fields of an ActiveNumber that cannot be updated", function(c)
    return c:update_active_number(PHONE, { regionCode = "US" }) end,
    'unknown field "regionCode"' },

  -- callback configuration
  { "update_callback_configuration without hmacSecret", function(c) return c:update_callback_configuration {} end,
    "hmacSecret is required" },
  { "hmacSecret as a number", function(c) return c:update_callback_configuration { hmacSecret = 42 } end,
    "hmacSecret must be a string" },
  { "misspelt hmacSecret", function(c) return c:update_callback_configuration { secret = "x" } end,
    'did you mean "hmacSecret"?' },
  { "get_callback_configuration with params", function(c)
    return c:get_callback_configuration { hmacSecret = "x" } end,
    'unknown call option "hmacSecret"' },

  -- emergency addresses
  { "emergency address without displayName", function(c)
    return c:provision_emergency_address(PHONE, { address = ADDRESS }) end, "displayName is required" },
  { "emergency address without postalCode", function(c)
    return c:validate_emergency_address(PHONE, { displayName = "Desk", address = without(ADDRESS, "postalCode") })
  end, "address.postalCode is required" },
  { "misspelt streetInfo", function(c)
    return c:provision_emergency_address(PHONE, { displayName = "Desk",
      address = with(without(ADDRESS, "streetInfo"), "streetinfo", "Main Street") }) end,
    'unknown field "address.streetinfo"; did you mean "streetInfo"?' },
  { "emergency address as a string field", function(c)
    return c:provision_emergency_address(PHONE, { displayName = "Desk", address = "1 Main Street" }) end,
    "address must be a table with" },
  { "deprovision with a body", function(c)
    return c:deprovision_emergency_address(PHONE, { displayName = "Desk" }) end,
    'unknown call option "displayName"; did you mean "deadline"? (allowed: "timeout", "connect_timeout", '
      .. '"max_retries", "deadline"); it is deprovision_emergency_address(phone_number[, options])' },
  { "emergency address for a bad phone", function(c) return c:get_emergency_address("2065550100") end, "E.164" },

  -- number orders
  { "requirements without numberType", function(c)
    return c:lookup_number_requirements { regionCode = "FR" } end, 'numberType is required: one of "LOCAL"' },
  { "requirements with type for numberType", function(c)
    return c:lookup_number_requirements { regionCode = "FR", type = "LOCAL" } end,
    'unknown field "type"; did you mean "numberType"?' },
  { "order with neither option", function(c)
    return c:create_number_order { regionCode = "FR", numberType = "LOCAL" } end,
    'give exactly one of "numberOrderOption", "quantityOrderOption" (none is given)' },
  { "order with both options", function(c)
    return c:create_number_order { regionCode = "FR", numberType = "LOCAL",
      numberOrderOption = { phoneNumbers = { "+33100000000" } }, quantityOrderOption = { requestedQuantity = 1 } }
  end, 'not both numberOrderOption and quantityOrderOption' },
  { "order of 0 numbers", function(c)
    return c:create_number_order { regionCode = "FR", numberType = "LOCAL",
      quantityOrderOption = { requestedQuantity = 0 } } end,
    "quantityOrderOption.requestedQuantity must be an integer from 1 to 100 (got 0)" },
  { "misspelt quantityOrderOption", function(c)
    return c:create_number_order { regionCode = "FR", numberType = "LOCAL",
      quantityOrderOptions = { requestedQuantity = 1 } } end, 'did you mean "quantityOrderOption"?' },
  { "order with a lower-case regionCode", function(c)
    return c:create_number_order { regionCode = "fr", numberType = "LOCAL",
      quantityOrderOption = { requestedQuantity = 1 } } end, "two capital letters" },
  { "order id missing", function(c) return c:get_number_order() end,
    "order_id must be a number order's id (its idNumberOrder)" },
  { "order id empty", function(c) return c:submit_number_order("") end, 'got "")' },
  { "order id with a slash", function(c) return c:get_number_order_registration("a/b") end, 'without "/"' },
  { "order id with a question mark", function(c) return c:get_number_order("a?b") end, 'without "/", "?" or "#"' },
  { "order id ..", function(c) return c:get_number_order("..") end, 'other than "." or ".."' },
  { "order id as a number", function(c) return c:get_number_order(7) end, "got a number" },
  { "registration without data", function(c)
    return c:update_number_order_registration("o-1", { businessName = "Acme" }) end,
    'unknown field "businessName"; did you mean' },
  { "registration data as a string", function(c)
    return c:update_number_order_registration("o-1", { data = "Acme" }) end, "data must be a table of" },
  { "submit with a body", function(c) return c:submit_number_order("o-1", {}, {}) end,
    "too many arguments: it is submit_number_order(order_id[, options])" },
  { "attachment id with a hash", function(c)
    return c:upload_number_order_attachment("o-1", "a#b", FILE) end, "attachment_id must be an attachment id" },
  { "attachment id missing", function(c) return c:upload_number_order_attachment("o-1") end,
    "attachment_id must be" },
  { "upload without a file", function(c) return c:upload_number_order_attachment("o-1", "proof-of-address") end,
    "file must be a table" },
  { "upload file without data", function(c)
    return c:upload_number_order_attachment("o-1", "proof-of-address", without(FILE, "data")) end,
    "file: data is required" },
  { "upload file with a misspelt content_type", function(c)
    return c:upload_number_order_attachment("o-1", "proof-of-address",
      with(without(FILE, "content_type"), "contentType", "application/pdf")) end,
    'did you mean "content_type"?' },
  { "upload file name with a quote", function(c)
    return c:upload_number_order_attachment("o-1", "proof-of-address", with(FILE, "name", 'a"b.pdf')) end,
    "no quotes, slashes or control characters" },
  { "upload file name with a line break", function(c)
    return c:upload_number_order_attachment("o-1", "proof-of-address", with(FILE, "name", "a\r\nb.pdf")) end,
    "name must be the file's name" },
  { "upload content type that is not a MIME type", function(c)
    return c:upload_number_order_attachment("o-1", "proof-of-address", with(FILE, "content_type", "pdf")) end,
    'a MIME type, e.g. "application/pdf" (got "pdf")' },
  { "upload from a path with an unknown extension", function(c)
    return c:upload_number_order_attachment("o-1", "proof-of-address", "notes.txt") end,
    "only when it ends in .pdf, .jpg, .jpeg or .png" },
  { "upload from a path that does not exist", function(c)
    return c:upload_number_order_attachment("o-1", "proof-of-address", "/nonexistent/bill.pdf") end,
    "cannot read file" },
  { "upload from a path whose name has a quote", function(c)
    return c:upload_number_order_attachment("o-1", "proof-of-address", QUOTED_PATH) end,
    "file: name must be the file's name" },
  { "upload with a fifth argument", function(c)
    return c:upload_number_order_attachment("o-1", "proof-of-address", FILE, {}, {}) end,
    "too many arguments: it is upload_number_order_attachment(order_id, attachment_id, file[, options])" },
  { "call options that are not a table", function(c) return c:get_active_number(PHONE, 30) end,
    "the call options must be a table (timeout, connect_timeout, max_retries, deadline), got a number" },
  { "a misspelt call option", function(c) return c:list_active_numbers({ regionCode = "US" }, { timeuot = 1 }) end,
    'list_active_numbers: unknown call option "timeuot"; did you mean "timeout"?' },
  { "a call timeout of 0", function(c) return c:list_active_numbers(nil, { timeout = 0 }) end,
    "timeout must be a number of seconds above 0" },
  { "call max_retries above 10", function(c) return c:list_active_numbers(nil, { max_retries = 11 }) end,
    "max_retries must be an integer from 0 to 10" },

  -- how methods are called
  { "too many arguments", function(c) return c:get_active_number(PHONE, {}, {}) end,
    "too many arguments: it is get_active_number(phone_number[, options])" },
  { "a fourth argument", function(c) return c:update_active_number(PHONE, {}, {}, {}) end,
    "too many arguments: it is update_active_number(phone_number, body[, options])" },
  { "a dot instead of a colon", function(c) return c.get_active_number(PHONE) end, "with a colon" },
  { "all_active_numbers with limit 0", function(c) return c:all_active_numbers({}, 0) end,
    "limit must be a whole number of at least 1" },
  { "all_active_numbers with a bad filter", function(c) return c:all_active_numbers { pageSize = -1 } end,
    "pageSize must be an integer from 1 to 100" },
}

-- The iterators raise the error object instead of returning it.
local RAISING_CASES = {
  { "each_active_number with a bad filter", function(c)
    for _ in c:each_active_number { regionCode = "usa" } do end end, "two capital letters" },
  { "active_number_pages with a bad filter", function(c)
    for _ in c:active_number_pages { pageSize = "x" } do end end, "pageSize must be an integer" },
}

describe("bad input", function()
  local server, new_client = helper.with_fake()
  local client

  teardown(function()
    os.remove(QUOTED_PATH)
    os.remove(TEMPORARY)
  end)

  before_each(function()
    client = new_client()
  end)

  it("has at least 60 cases", function()
    assert.is_true(#CASES + #RAISING_CASES >= 60)
  end)

  local function check_error(err, expected)
    assert.is_table(err)
    assert.equal("invalid_argument", err.kind)
    assert.is_truthy(err.message:find(expected, 1, true), err.message .. "\n  should say: " .. expected)
    local line = tostring(err)
    assert.matches("^sinchnumbers: invalid_argument: ", line)
    assert.is_nil(line:find("\n", 1, true))
    assert.same({}, server:requests())
  end

  for _, case in ipairs(CASES) do
    local what, call, expected = case[1], case[2], case[3]
    it(what .. " is refused before the wire", function()
      local result, err = call(client)
      assert.is_nil(result)
      check_error(err, expected)
    end)
  end

  for _, case in ipairs(RAISING_CASES) do
    local what, call, expected = case[1], case[2], case[3]
    it(what .. " raises the error object before the wire", function()
      local ok, err = pcall(call, client)
      assert.is_false(ok)
      check_error(err, expected)
    end)
  end

  it("works through a table that inherits from the client; a call without the colon is still refused", function()
    local wrapper = setmetatable({}, { __index = client })
    local twice = setmetatable({}, { __index = wrapper })
    for _, object in ipairs { wrapper, twice } do
      local regions, err = object:list_available_regions()
      assert.is_nil(err)
      assert.is_table(regions.availableRegions)
    end
    server:clear_requests()
    local _, err = wrapper.list_available_regions()
    check_error(err, "call it as client:list_available_regions(params[, options]), with a colon")
  end)

  it("never echoes a value given for hmacSecret", function()
    local _, err = client:update_callback_configuration { hmacSecret = { "top-secret-value" } }
    assert.equal("invalid_argument", err.kind)
    assert.is_nil(tostring(err):find("top-secret-value", 1, true))
  end)
end)

-- Tables whose metatables could show the checks one value and the wire
-- another, or raise in the middle of a method: inputs are read once, raw.
describe("inputs with metatables", function()
  local server, new_client = helper.with_fake()
  local client

  before_each(function()
    client = new_client()
  end)

  local function raising_index(fields)
    return setmetatable(fields, { __index = function(_, key) error("__index raised for " .. tostring(key)) end })
  end

  -- __pairs (honoured by pairs on 5.2 and later) that hides every field but `shown`.
  local function hiding_pairs(fields, shown)
    return setmetatable(fields, { __pairs = function(t)
      return next, { [shown] = rawget(t, shown) }, nil
    end })
  end

  it("a body field that __pairs hides is still checked, and refused before the wire", function()
    local phone = helper.available_number(client)
    server:clear_requests()
    local body = hiding_pairs({ callbackUrl = "https://example.com/hook", notAField = "sent unchecked" }, "callbackUrl")
    local result, err = client:rent_number(phone, body)
    assert.is_nil(result)
    assert.equal("invalid_argument", err.kind)
    assert.matches('unknown field "notAField"', err.message)
    assert.same({}, helper.api_requests(server))
  end)

  it("a query parameter that changes from one read to the next cannot make the method raise", function()
    local reads = 0
    local shifting = setmetatable({}, { __index = function(_, key)
      if key ~= "regionCode" then return nil end
      reads = reads + 1
      return reads == 1 and "US" or {} -- checked as "US", then a table for the query string
    end })
    local ok, page = pcall(client.list_active_numbers, client, shifting)
    assert.is_true(ok, tostring(page))
    assert.is_table(page.activeNumbers)
  end)

  it("an __index that raises, or answers for fields that are not there, never reaches a method", function()
    local phone = helper.available_number(client)
    local rented = assert(client:rent_number(phone, raising_index { callbackUrl = "https://example.com/hook" }))
    assert.equal(phone, rented.phoneNumber)
    local page = assert(client:list_active_numbers(raising_index { regionCode = "US" }))
    assert.equal(1, #page.activeNumbers)
    local numbers = assert(client:all_active_numbers(raising_index { pageSize = 10 }))
    assert.equal(1, #numbers)
    -- Fields only __index has are not there: checked and sent alike, as cjson would send the table.
    server:clear_requests()
    local ghost = setmetatable({}, { __index = { displayName = 42 } })
    assert(client:update_active_number(phone, ghost))
    assert.equal("{}", helper.api_requests(server)[1].body)
  end)

  it("a table nested too deep, or holding itself, is refused", function()
    local loop = {}
    loop.pattern = loop
    local _, err = client:list_active_numbers { numberPattern = loop }
    assert.equal("invalid_argument", err.kind)
    assert.matches("params nests tables more than 32 levels deep", err.message)
  end)

  it("JSON text with a name twice in one object is refused: cjson and the service could each read another", function()
    local phone = helper.available_number(client)
    assert(client:rent_number(phone))
    server:clear_requests()
    for _, text in ipairs{ '{"displayName":5,"displayName":"fine"}',
                           '{"smsConfiguration":{"servicePlanId":"a","servicePlanId":"b"}}',
                           '{"displayName":"x","display\\u004eame":"y"}' } do
      local result, err = client:update_active_number(phone, text)
      assert.is_nil(result, text)
      assert.equal("invalid_argument", err.kind)
      assert.matches("a name given twice in one object", err.message)
    end
    assert.same({}, helper.api_requests(server))
    -- The same name in two objects is two fields.
    assert(client:update_active_number(phone, '{"displayName":"a","smsConfiguration":{"servicePlanId":"a"}}'))
  end)

  it("verify_request reads a headers table raw, whatever its __pairs does", function()
    local headers = setmetatable({ ["X-Sinch-Signature"] = string.rep("0", 40) },
      { __pairs = function() error("__pairs raised") end })
    local ok, err = sinchnumbers.verify_request(headers, "{}", "secret")
    assert.is_false(ok)
    assert.equal("auth", err.kind)
  end)
end)

describe("strict = false", function()
  local server, new_client = helper.with_fake()

  local function warnings_logger()
    local warnings = {}
    return warnings, function(level, message) if level == "warn" then warnings[#warnings + 1] = message end end
  end

  it("is not the default: an enum value the library does not know gets a did-you-mean, and nothing is sent", function()
    local client = new_client()
    server:clear_requests()
    local _, err = client:list_available_numbers { regionCode = "US", type = "LOCALL" }
    assert.equal("invalid_argument", err.kind)
    assert.matches('type must be one of "LOCAL", "MOBILE", "TOLL_FREE" (got "LOCALL")', err.message, 1, true)
    assert.same({}, helper.api_requests(server))
  end)

  it("sends a query enum value the library does not know, with a warning", function()
    local warnings, logger = warnings_logger()
    local client = new_client { strict = false, logger = logger }
    server:clear_requests()
    client:list_available_numbers { regionCode = "US", type = "SHORT_CODE", capabilities = { "SMS", "MMS" } }
    local requests = helper.api_requests(server)
    assert.equal(1, #requests)
    assert.matches("type=SHORT_CODE&capabilities=SMS&capabilities=MMS", requests[1].path, 1, true)
    assert.same({ 'list_available_numbers: sending values the library does not know (strict = false):'
      .. ' type = "SHORT_CODE", capabilities[2] = "MMS"' }, warnings)
  end)

  it("sends a body enum value the library does not know; everything else is still checked", function()
    local warnings, logger = warnings_logger()
    local client = new_client { strict = false, logger = logger }
    local phone = helper.available_number(client)
    assert(client:rent_number(phone))
    server:clear_requests()
    client:update_active_number(phone, { voiceConfiguration = { type = "SIP" } })
    local requests = helper.api_requests(server)
    assert.equal(1, #requests)
    assert.equal("SIP", cjson.decode(requests[1].body).voiceConfiguration.type)
    assert.equal(1, #warnings)
    assert.matches('voiceConfiguration.type = "SIP"', warnings[1], 1, true)
    local _, err = client:update_active_number(phone, { voiceConfiguration = { typ = "SIP" } })
    assert.matches('did you mean "type"?', err.message, 1, true)
    _, err = client:update_active_number(phone, { voiceConfiguration = { type = 7 } })
    assert.matches("voiceConfiguration.type must be one of", err.message, 1, true)
    assert.equal(1, #helper.api_requests(server))
  end)

  it("answers with values the library does not know pass through untouched, strict or not", function()
    local number = { phoneNumber = "+12065550100", state = "SUSPENDED_FOR_REVIEW",
      voiceConfiguration = { type = "SIP_TRUNK", trunkId = "t-1" }, capability = { "SMS", "RCS" } }
    for _, strict in ipairs { true, false } do
      local client = new_client { strict = strict }
      server:script { path = "activeNumbers/", body = number }
      local got = assert(client:get_active_number("+12065550100"))
      assert.equal("SUSPENDED_FOR_REVIEW", got.state)
      assert.equal("SIP_TRUNK", got.voiceConfiguration.type)
      assert.equal("t-1", got.voiceConfiguration.trunkId)
      assert.same({ "SMS", "RCS" }, got.capability)
    end
  end)

  it("must be a boolean", function()
    local none, err = sinchnumbers.new { project_id = "p", key_id = "k", key_secret = "s", strict = "no" }
    assert.is_nil(none)
    assert.matches("strict must be a boolean", err.message)
  end)
end)
