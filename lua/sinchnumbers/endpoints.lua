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
--   path        path template; {project_id} comes from the client, and at most
--               one other {placeholder} is the method's first argument
--   query       ordered list of query parameters (the order they go on the wire)
--   body        schema of the JSON body (absent: the request has no body)
--   body_default  JSON sent when the caller passes no body
--   idempotent  false for calls that must not be repeated blindly (renting)
--   confirm_with  method that tells, after an unclear failure, whether the
--               call took effect (it gets the same path argument)
--
-- A schema: type = "string" | "integer" | "array" | "object";
--   enum (list of allowed strings), pattern + expect (Lua pattern and words for
--   the message), min/max (integers), items (schema of array items),
--   fields (ordered list of named schemas, for objects), required,
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
}
