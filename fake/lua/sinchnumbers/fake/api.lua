-- The Numbers API routes (the table under the README's "Calling the API") and POST /oauth2/token.
-- Each request is routed, authenticated, checked against the spec, and only then
-- touches the state. Where the real service differs from the spec file the fake
-- follows the service: see the README, "Where the client follows the real
-- service, not the spec file".
local mime = require "mime"
local emergency = require "sinchnumbers.fake.emergency"
local errors = require "sinchnumbers.fake.errors"
local inventory = require "sinchnumbers.fake.inventory"
local json = require "sinchnumbers.fake.json"
local orders = require "sinchnumbers.fake.orders"
local scenarios = require "sinchnumbers.fake.scenarios"
local validate = require "sinchnumbers.fake.validate"

local api = {}

local unpack = table.unpack or unpack

local NUMBER_TYPES = validate.NUMBER_TYPES
local CAPABILITIES = validate.CAPABILITIES
local SEARCH_PATTERNS = validate.SEARCH_PATTERNS

------------------------------------------------------------------------------
-- Query parameters per operation.
------------------------------------------------------------------------------
local NO_PARAMETERS = {}

local LIST_AVAILABLE_NUMBERS = {
  regionCode = { kind = "string", required = true, length = 2 },
  type = { kind = "enum", values = NUMBER_TYPES, required = true },
  ["numberPattern.pattern"] = { kind = "string", format = "digits" },
  ["numberPattern.searchPattern"] = { kind = "enum", values = SEARCH_PATTERNS },
  capabilities = { kind = "enum", values = CAPABILITIES, repeated = true },
  size = { kind = "integer", max = 100, default = 30 },
}

-- The service's filters, not the spec file's: regionCode and type are optional,
-- and the capability filter is `capability` (singular).
local LIST_ACTIVE_NUMBERS = {
  regionCode = { kind = "string", length = 2 },
  type = { kind = "enum", values = NUMBER_TYPES },
  ["numberPattern.pattern"] = { kind = "string", format = "digits" },
  ["numberPattern.searchPattern"] = { kind = "enum", values = SEARCH_PATTERNS },
  capability = { kind = "enum", values = CAPABILITIES, repeated = true },
  pageSize = { kind = "integer", max = 100, default = 30 },
  pageToken = { kind = "string" },
  orderBy = { kind = "enum", values = { "phoneNumber", "displayName" } },
}

local LIST_AVAILABLE_REGIONS = {
  types = { kind = "enum", values = NUMBER_TYPES, repeated = true },
}

------------------------------------------------------------------------------
-- Request bodies.
------------------------------------------------------------------------------
local STRING = { kind = "string" }
local CALLBACK_URL = validate.CALLBACK_URL
local SMS_CONFIGURATION = validate.SMS_CONFIGURATION
local VOICE_CONFIGURATION = validate.VOICE_CONFIGURATION

local RENT_NUMBER = { kind = "object", fields = {
  smsConfiguration = SMS_CONFIGURATION,
  voiceConfiguration = VOICE_CONFIGURATION,
  callbackUrl = CALLBACK_URL,
} }

local RENT_ANY_NUMBER = { kind = "object", required = { "regionCode", "type" }, fields = {
  regionCode = { kind = "string", length = 2 },
  type = { kind = "string", values = NUMBER_TYPES },
  numberPattern = { kind = "object", fields = {
    pattern = { kind = "string", format = "digits" },
    searchPattern = { kind = "string", values = SEARCH_PATTERNS },
  } },
  capabilities = { kind = "array", items = { kind = "string", values = CAPABILITIES } },
  smsConfiguration = SMS_CONFIGURATION,
  voiceConfiguration = VOICE_CONFIGURATION,
  callbackUrl = CALLBACK_URL,
} }

local UPDATE_ACTIVE_NUMBER = { kind = "object", fields = {
  displayName = STRING,
  smsConfiguration = SMS_CONFIGURATION,
  voiceConfiguration = VOICE_CONFIGURATION,
  callbackUrl = CALLBACK_URL,
} }

local NO_FIELDS = { kind = "object", fields = {} }

local UPDATE_CALLBACK_CONFIGURATION = { kind = "object", fields = { hmacSecret = STRING } }

local read_body = validate.read_body

------------------------------------------------------------------------------
-- Page tokens are opaque to clients: base64 of the offset into the sorted list.
------------------------------------------------------------------------------
local function page_token(offset)
  return (mime.b64("offset=" .. string.format("%d", offset)))
end

local function page_offset(token)
  local decoded = mime.unb64(token)
  local offset = decoded and decoded:match("^offset=(%d+)$")
  return offset and tonumber(offset)
end

local function filter_from(values, capability_parameter)
  return {
    regionCode = values.regionCode,
    type = values.type,
    capabilities = values[capability_parameter],
    pattern = values["numberPattern.pattern"],
    searchPattern = values["numberPattern.searchPattern"],
  }
end

local function ok(value)
  return errors.json_response(200, value)
end

------------------------------------------------------------------------------
-- Operations: handler(app, request, query_values, phone) -> response
------------------------------------------------------------------------------
local function list_available_numbers(app, _, values)
  local found = json.array()
  local filter = filter_from(values, "capabilities")
  for _, entry in ipairs(app.inventory:find_available(filter, values.size)) do
    found[#found + 1] = inventory.available_view(entry)
  end
  return ok({ availableNumbers = found })
end

local function get_available_number(app, _, _, phone)
  local entry = app.inventory:get_available(phone)
  if not entry then return errors.not_found("AvailableNumber", phone) end
  return ok(inventory.available_view(entry))
end

-- A number with supportingDocumentationRequired is had through a number order only.
local function needs_number_order(entry)
  return errors.failed_precondition(string.format("Number %s requires supporting documentation: order it with "
    .. "POST .../numberOrders:createNumberOrder (sinchnumbers: client:create_number_order)", entry.phoneNumber), { {
      type = "SUPPORTING_DOCUMENTATION_REQUIRED", subject = entry.phoneNumber,
      description = "rent it through a number order (numberOrders:lookupNumberRequirements, then :createNumberOrder)",
    } })
end

local function rent_number(app, request, _, phone)
  local body, failure = read_body(request, RENT_NUMBER)
  if not body then return failure end
  local entry = app.inventory:get_available(phone)
  if not entry then
    return errors.not_found("AvailableNumber", phone, string.format("Number %s is not available to rent", phone))
  end
  if entry.documents_required then return needs_number_order(entry) end
  local function rent()
    app.inventory:take(phone)
    return ok(app.project:activate(entry, body, app:now()))
  end
  local scenario = scenarios.number(phone)
  if scenario and scenario.rent then return scenario.rent(entry, rent) end
  return rent()
end

local function rent_any_number(app, request)
  local body, failure = read_body(request, RENT_ANY_NUMBER)
  if not body then return failure end
  local pattern = json.is_object(body.numberPattern) and body.numberPattern or {}
  local filter = {
    regionCode = body.regionCode,
    type = body.type,
    capabilities = body.capabilities ~= json.null and body.capabilities or nil,
    pattern = pattern.pattern ~= json.null and pattern.pattern or nil,
    searchPattern = pattern.searchPattern ~= json.null and pattern.searchPattern or nil,
  }
  local entry = app.inventory:find_available(filter, 1)[1]
  if not entry then
    return errors.not_found("AvailableNumber", "", "No available number matches the request")
  end
  if entry.documents_required then return needs_number_order(entry) end
  app.inventory:take(entry.phoneNumber)
  return ok(app.project:activate(entry, body, app:now()))
end

local function list_active_numbers(app, _, values)
  local offset = 0
  if values.pageToken and values.pageToken ~= "" then
    offset = page_offset(values.pageToken)
    if not offset then
      return errors.invalid_argument({
        { field = "pageToken", description = "is not a page token this server issued" },
      })
    end
  end
  local found = app.project:list(filter_from(values, "capability"), values.orderBy)
  local page = json.array()
  for i = offset + 1, math.min(offset + values.pageSize, #found) do page[#page + 1] = found[i] end
  local next_offset = offset + values.pageSize
  return ok({
    activeNumbers = page,
    nextPageToken = next_offset < #found and page_token(next_offset) or "",
    totalSize = #found,
  })
end

local function get_active_number(app, _, _, phone)
  local number = app.project:get(phone)
  if not number then return errors.not_found("ActiveNumber", phone) end
  return ok(number)
end

local function update_active_number(app, request, _, phone)
  local body, failure = read_body(request, UPDATE_ACTIVE_NUMBER)
  if not body then return failure end
  local number = app.project:update(phone, body, app:now())
  if not number then return errors.not_found("ActiveNumber", phone) end
  return ok(number)
end

local function release_number(app, request, _, phone)
  local _, failure = read_body(request, NO_FIELDS)
  if failure then return failure end
  local number = app.project:release(phone)
  if not number then return errors.not_found("ActiveNumber", phone) end
  app.inventory:give_back(phone)
  return ok(number)
end

local function list_available_regions(_, _, values)
  return ok({ availableRegions = inventory.regions(values.types) })
end

local function callback_configuration(app)
  return ok({ projectId = app.project.id, hmacSecret = app.project.hmac_secret })
end

local function update_callback_configuration(app, request)
  local body, failure = read_body(request, UPDATE_CALLBACK_CONFIGURATION)
  if not body then return failure end
  if type(body.hmacSecret) == "string" then app.project.hmac_secret = body.hmacSecret end
  return callback_configuration(app)
end

-- Patterns match the part after /v1/projects/{project_id}/, percent-decoded.
-- Their captures go to the handler in order: a phone number, checked first,
-- or with `ids`, the ids of a number order and of an attachment.

local ROUTES = {
  { "^availableNumbers$", GET = { list_available_numbers, LIST_AVAILABLE_NUMBERS } },
  { "^availableNumbers:rentAny$", POST = { rent_any_number } },
  { "^availableNumbers/([^/:]+)$", GET = { get_available_number } },
  { "^availableNumbers/([^/:]+):rent$", POST = { rent_number } },
  { "^activeNumbers$", GET = { list_active_numbers, LIST_ACTIVE_NUMBERS } },
  { "^activeNumbers/([^/:]+)$", GET = { get_active_number }, PATCH = { update_active_number } },
  { "^activeNumbers/([^/:]+):release$", POST = { release_number } },
  { "^availableRegions$", GET = { list_available_regions, LIST_AVAILABLE_REGIONS } },
  { "^callbackConfiguration$", GET = { callback_configuration }, PATCH = { update_callback_configuration } },
  { "^activeNumbers/([^/:]+)/emergencyAddress$", GET = { emergency.get } },
  { "^activeNumbers/([^/:]+)/emergencyAddress:provision$", POST = { emergency.provision } },
  { "^activeNumbers/([^/:]+)/emergencyAddress:deprovision$", POST = { emergency.deprovision } },
  { "^activeNumbers/([^/:]+)/emergencyAddress:validate$", POST = { emergency.validate } },
  { "^numberOrders:lookupNumberRequirements$", POST = { orders.lookup_requirements } },
  { "^numberOrders:createNumberOrder$", POST = { orders.create } },
  { "^numberOrders/([^/:]+)$", ids = true, GET = { orders.get } },
  { "^numberOrders/([^/:]+)/registration$", ids = true,
    GET = { orders.get_registration }, PUT = { orders.update_registration } },
  { "^numberOrders/([^/:]+)/attachments/([^/:]+)$", ids = true, POST = { orders.upload_attachment } },
  { "^numberOrders/([^/:]+)/submit$", ids = true, POST = { orders.submit } },
}

local function allowed_methods(route)
  local methods = {}
  for _, method in ipairs({ "GET", "PATCH", "POST", "PUT" }) do
    if route[method] then methods[#methods + 1] = method end
  end
  return table.concat(methods, ", ")
end

local function no_such_resource(request)
  return errors.response(404, string.format("No such resource: %s %s", request.method, request.path))
end

-- Answers one API request; `app` holds the state (see sinchnumbers.fake).
function api.handle(app, request)
  if request.path == "/oauth2/token" then return app.auth:token_endpoint(request, app:now()) end
  local project_id, rest = request.path:match("^/v1/projects/([^/]+)/(.+)$")
  if not project_id then return no_such_resource(request) end
  project_id, rest = validate.decode_path_segment(project_id), validate.decode_path_segment(rest)
  for _, route in ipairs(ROUTES) do
    local found = { rest:find(route[1]) }
    if found[1] then
      local captures = { select(3, unpack(found)) }
      local operation = route[request.method]
      if not operation then
        return errors.response(405, string.format("Method %s is not allowed here", request.method), nil,
          { Allow = allowed_methods(route) })
      end
      local refusal = app.auth:check(request.headers.authorization, app:now())
      if refusal then return refusal end
      if project_id ~= app.project.id then
        return errors.response(403, string.format("Project %s is not accessible with these credentials", project_id))
      end
      local violations = not route.ids and captures[1] and validate.phone_number(captures[1])
      if violations then return errors.invalid_argument(violations) end
      local values
      values, violations = validate.query(operation[2] or NO_PARAMETERS, request.query)
      if violations then return errors.invalid_argument(violations) end
      return operation[1](app, request, values, unpack(captures))
    end
  end
  return no_such_resource(request)
end

return api
