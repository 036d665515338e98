-- Everything the client knows about the Sinch Numbers endpoints, in one table
-- that mirrors the API's OpenAPI description. The client's methods are
-- generated from it (sinchnumbers/request.lua compiles it once at load time
-- into a plan of its own; the table stays as written): adding an endpoint is
-- adding one entry here, and the fake must serve it (spec/endpoints_spec.lua).
--
-- Where the real service differs from the OpenAPI description, the entries
-- follow the service (see the README, "Where the client follows the real
-- service, not the spec file"): `capability` (singular) on /activeNumbers,
-- regionCode and type optional there, numberPattern.searchPattern and orderBy
-- accepted there, and the three endpoints the spec file leaves out.
--
-- An entry:
--   name        the client method (snake_case of the operationId)
--   operation   the spec's operationId
--   method      HTTP method
--   path        path template; {project_id} comes from the client, and each
--               other {placeholder} (a kind in request.lua's PATH_PLACEHOLDERS)
--               is one of the method's first arguments, in path order
--   query       ordered list of query parameters (the order they go on the wire)
--   body        schema of the JSON body (absent: the request has no body)
--   body_default  JSON sent when the caller passes no body
--   multipart_part  the body is a file sent as multipart/form-data, in one
--               part of this name (the body schema is the file's)
--   idempotent  false for calls that must not be repeated blindly (renting,
--               creating and submitting a number order)
--   confirm_with  method that tells, after an unclear failure, whether the
--               call took effect (it gets the same first path argument)
--   if_unclear  for a call that is not idempotent and has no confirm_with:
--               how to find out, after an unclear failure, whether it took effect
--   if_refused  words for the hint when the service refuses the call with
--               400 FAILED_PRECONDITION (the state does not allow it)
--
-- A schema: type = "string" | "integer" | "array" | "object";
--   enum (list of allowed strings), pattern + expect (Lua pattern and words for
--   the message), min/max (integers), items (schema of array items),
--   fields (ordered list of named schemas, for objects), required,
--   exactly_one_of (for objects: names of fields of which exactly one is given),
--   check + expect (a function that says whether a value fits, for what the
--   other keys cannot say),
--   read_only (Sinch sets it; sending it is an error), wire (the name sent,
--   when it differs), aliases (other accepted names).

local NUMBER_TYPES = { "LOCAL", "MOBILE", "TOLL_FREE" }
local CAPABILITIES = { "SMS", "VOICE" }
local SEARCH_PATTERNS = { "START", "CONTAINS", "END" }

local function region_code(required)
  return {
    name = "regionCode", type = "string", required = required,
    pattern = "^%u%u$", expect = 'two capital letters (ISO 3166-1 alpha-2, e.g. "US")',
  }
end

local function number_type(required)
  return { name = "type", type = "string", enum = NUMBER_TYPES, required = required }
end

local number_pattern = {
  name = "numberPattern", type = "object",
  fields = {
    { name = "pattern", type = "string" },
    { name = "searchPattern", type = "string", enum = SEARCH_PATTERNS },
  },
}

local capabilities = {
  name = "capabilities", type = "array", items = { type = "string", enum = CAPABILITIES },
}

local sms_configuration = {
  name = "smsConfiguration", type = "object",
  fields = {
    { name = "servicePlanId", type = "string" },
    { name = "campaignId", type = "string" },
    { name = "scheduledProvisioning", read_only = true },
  },
}

local voice_configuration = {
  name = "voiceConfiguration", type = "object",
  fields = {
    { name = "type", type = "string", enum = { "RTC", "EST", "FAX" } },
    { name = "appId", type = "string" },
    { name = "trunkId", type = "string" },
    { name = "serviceId", type = "string" },
    { name = "scheduledVoiceProvisioning", read_only = true },
    { name = "lastUpdatedTime", read_only = true },
  },
}

local callback_url = { name = "callbackUrl", type = "string" }

local function required_string(name)
  return { name = name, type = "string", required = true }
end

local emergency_address = {
  type = "object",
  fields = {
    required_string("displayName"),
    {
      name = "address", type = "object", required = true,
      fields = {
        required_string("streetNumber"),
        required_string("streetInfo"),
        required_string("city"),
        required_string("state"),
        required_string("postalCode"),
        { name = "location", type = "string" },
        { name = "postalCodePlusFour", type = "string" },
      },
    },
  },
}

local order_number_type = { name = "numberType", type = "string", enum = NUMBER_TYPES, required = true }

-- Renting a number that needs documents is refused: it is had through a number order.
local NEEDS_NUMBER_ORDER = "if the number needs supporting documents (supportingDocumentationRequired"
  .. " in get_available_number), get it through a number order: lookup_number_requirements, then"
  .. " create_number_order"

-- The name of the one part of an attachment upload. Sinch's public material
-- does not name it; "file" is our guess, kept here alone so that it is one
-- line to change.
local ATTACHMENT_PART = "file"

local PROJECT = "/v1/projects/{project_id}"

return {
  {
    name = "list_available_numbers", operation = "listAvailableNumbers",
    method = "GET", path = PROJECT .. "/availableNumbers",
    query = {
      region_code(true),
      number_type(true),
      number_pattern,
      capabilities,
      { name = "size", type = "integer", min = 1, max = 100 },
    },
  },
  {
    name = "get_available_number", operation = "getAvailableNumber",
    method = "GET", path = PROJECT .. "/availableNumbers/{phone_number}",
  },
  {
    name = "rent_number", operation = "rentNumber",
    method = "POST", path = PROJECT .. "/availableNumbers/{phone_number}:rent",
    body = { type = "object", fields = { sms_configuration, voice_configuration, callback_url } },
    body_default = "{}",
    idempotent = false,
    confirm_with = "get_active_number",
    if_refused = NEEDS_NUMBER_ORDER,
  },
  {
    name = "rent_any_number", operation = "RentAnyNumber",
    method = "POST", path = PROJECT .. "/availableNumbers:rentAny",
    body = {
      type = "object",
      fields = {
        region_code(true),
        number_type(true),
        number_pattern,
        capabilities,
        sms_configuration,
        voice_configuration,
        callback_url,
      },
    },
    idempotent = false,
    if_unclear = "look with list_active_numbers before trying again",
    if_refused = NEEDS_NUMBER_ORDER,
  },
  {
    name = "list_active_numbers", operation = "listActiveNumbers",
    method = "GET", path = PROJECT .. "/activeNumbers",
    query = {
      region_code(false),
      number_type(false),
      number_pattern,
      {
        name = "capability", aliases = { "capabilities" },
        type = "array", items = { type = "string", enum = CAPABILITIES },
      },
      { name = "pageSize", type = "integer", min = 1, max = 100 },
      { name = "pageToken", type = "string" },
      { name = "orderBy", type = "string", enum = { "phoneNumber", "displayName" } },
    },
  },
  {
    name = "get_active_number", operation = "getActiveNumber",
    method = "GET", path = PROJECT .. "/activeNumbers/{phone_number}",
  },
  {
    name = "update_active_number", operation = "updateActiveNumber",
    method = "PATCH", path = PROJECT .. "/activeNumbers/{phone_number}",
    body = {
      type = "object",
      fields = {
        { name = "displayName", type = "string" },
        sms_configuration,
        voice_configuration,
        callback_url,
      },
    },
  },
  {
    name = "release_number", operation = "releaseNumber",
    method = "POST", path = PROJECT .. "/activeNumbers/{phone_number}:release",
  },
  {
    name = "list_available_regions", operation = "listAvailableRegions",
    method = "GET", path = PROJECT .. "/availableRegions",
    query = {
      { name = "types", type = "array", items = { type = "string", enum = NUMBER_TYPES } },
    },
  },
  {
    name = "get_callback_configuration", operation = "GetCallbackConfiguration",
    method = "GET", path = PROJECT .. "/callbackConfiguration",
  },
  {
    name = "update_callback_configuration", operation = "UpdateCallbackConfiguration",
    method = "PATCH", path = PROJECT .. "/callbackConfiguration",
    body = { type = "object", fields = { { name = "hmacSecret", type = "string", required = true, secret = true } } },
  },
  -- Emergency (E911) addresses of active numbers: not in the OpenAPI file
  -- we have; as Sinch's Node and Java SDKs call them.
  {
    name = "get_emergency_address", operation = "getEmergencyAddress",
    method = "GET", path = PROJECT .. "/activeNumbers/{phone_number}/emergencyAddress",
  },
  {
    name = "provision_emergency_address", operation = "provisionEmergencyAddress",
    method = "POST", path = PROJECT .. "/activeNumbers/{phone_number}/emergencyAddress:provision",
    body = emergency_address,
  },
  {
    name = "deprovision_emergency_address", operation = "deprovisionEmergencyAddress",
    method = "POST", path = PROJECT .. "/activeNumbers/{phone_number}/emergencyAddress:deprovision",
  },
  {
    name = "validate_emergency_address", operation = "validateEmergencyAddress",
    method = "POST", path = PROJECT .. "/activeNumbers/{phone_number}/emergencyAddress:validate",
    body = emergency_address,
  },
  -- Number orders, for numbers that need registration data and documents.
  {
    name = "lookup_number_requirements", operation = "lookupNumberRequirements",
    method = "POST", path = PROJECT .. "/numberOrders:lookupNumberRequirements",
    body = { type = "object", fields = { region_code(true), order_number_type } },
  },
  {
    name = "create_number_order", operation = "createNumberOrder",
    method = "POST", path = PROJECT .. "/numberOrders:createNumberOrder",
    body = {
      type = "object",
      fields = {
        region_code(true),
        order_number_type,
        sms_configuration,
        voice_configuration,
        callback_url,
        {
          name = "numberOrderOption", type = "object",
          fields = {
            { name = "phoneNumbers", type = "array", required = true, items = { type = "string" } },
          },
        },
        {
          name = "quantityOrderOption", type = "object",
          fields = {
            number_pattern,
            { name = "requestedQuantity", type = "integer", min = 1, max = 100, required = true },
            { name = "sequential", type = "boolean" },
            capabilities,
          },
        },
      },
      exactly_one_of = { "numberOrderOption", "quantityOrderOption" },
    },
    idempotent = false,
    -- No call lists orders, and the order's id is in the answer that was lost.
    if_unclear = "if it did, the order holds its numbers for 48 hours (get_available_number no longer"
      .. " finds them) and expires unless submitted; its id was in the lost answer and no call lists"
      .. " orders, so look in the Sinch dashboard before ordering again",
  },
  {
    name = "get_number_order", operation = "getNumberOrder",
    method = "GET", path = PROJECT .. "/numberOrders/{order_id}",
  },
  {
    name = "get_number_order_registration", operation = "getNumberOrderRegistration",
    method = "GET", path = PROJECT .. "/numberOrders/{order_id}/registration",
  },
  {
    name = "update_number_order_registration", operation = "updateNumberOrderRegistration",
    method = "PUT", path = PROJECT .. "/numberOrders/{order_id}/registration",
    body = {
      type = "object",
      fields = {
        -- Its schema is the requirements' `fields`, which the service checks.
        { name = "data", required = true, check = function(value) return type(value) == "table" end,
          expect = "a table of the registration fields (lookup_number_requirements gives their schema)" },
      },
    },
  },
  {
    name = "upload_number_order_attachment", operation = "uploadNumberOrderAttachment",
    method = "POST", path = PROJECT .. "/numberOrders/{order_id}/attachments/{attachment_id}",
    multipart_part = ATTACHMENT_PART,
    body = {
      type = "object",
      fields = {
        { name = "name", type = "string", required = true, pattern = '^[^%c"/\\]+$',
          expect = 'the file\'s name, e.g. "passport.pdf" (no quotes, slashes or control characters)' },
        { name = "content_type", type = "string", required = true,
          pattern = "^[%w!#$&^_.+-]+/[%w!#$&^_.+-]+$", expect = 'a MIME type, e.g. "application/pdf"' },
        { name = "data", type = "string", required = true },
      },
    },
  },
  {
    name = "submit_number_order", operation = "submitNumberOrder",
    method = "POST", path = PROJECT .. "/numberOrders/{order_id}/submit",
    idempotent = false,
    if_unclear = "look with get_number_order: IN_REVIEW (or a later state) means it was submitted,"
      .. " CREATED that it was not and submitting again is safe",
  },
}
