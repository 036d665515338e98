-- Strict checking of query strings and JSON bodies against small declarative rules,
-- collecting every problem as a Sinch-style field violation {field, description}.
--
-- Query rule:  { kind = "string"|"enum"|"integer", required, repeated, values (enum),
--                length, format, max, default }
-- Body schema: { kind = "object", fields = {name = schema}, required = {names} },
--              { kind = "string", values, length, format }, { kind = "array", items },
--              { kind = "map", values = schema }, { kind = "number", integer, min, max },
--              { kind = "string_or_number" }, { kind = "boolean" }, { kind = "any" },
--              { kind = "read_only" }
--
-- Independent of the client on purpose: the E.164 rule, the edit distance
-- and every other check here are written again rather than taken from
-- sinchnumbers (its C core, validate.lua or endpoints.lua). The fake is
-- there to catch the client's mistakes, and a rule it shared with the
-- client would agree with the client's mistake.
local json = require "sinchnumbers.fake.json"
local errors = require "sinchnumbers.fake.errors"

local validate = {}

-- Value formats shared by query and body rules; an empty string passes "uri"
-- because that is how a callback URL is cleared.
local FORMATS = {
  digits = { pattern = "^%+?%d+$", description = "must be digits, optionally after a leading +" },
  e164 = {
    pattern = "^%+[1-9]%d%d%d%d%d%d+$", max = 16,
    description = "must be a phone number in E.164 format (+ and up to 15 digits)",
  },
  uri = { pattern = "^https?://[^%s/?#]+[^%s]*$", empty_ok = true, description = "must be an http:// or https:// URL" },
}

local function check_format(format_name, value)
  local format = FORMATS[format_name]
  if value == "" and format.empty_ok then return nil end
  if not value:match(format.pattern) or (format.max and #value > format.max) then
    return format.description
  end
end

function validate.phone_number(value)
  local problem = check_format("e164", value)
  if problem then return { { field = "phoneNumber", description = problem } } end
end

-- Edit distance, to suggest the name the caller probably meant.
local function distance(a, b)
  local previous = {}
  for j = 0, #b do previous[j] = j end
  for i = 1, #a do
    local current = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      current[j] = math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
    end
    previous = current
  end
  return previous[#b]
end

local function unknown_name(what, name, known)
  local best, best_distance
  for candidate in pairs(known) do
    local d = distance(name:lower(), candidate:lower())
    if not best_distance or d < best_distance or (d == best_distance and candidate < best) then
      best, best_distance = candidate, d
    end
  end
  local description = string.format('unknown %s "%s"', what, name)
  if best and best_distance <= math.max(2, math.floor(#name / 2)) then
    description = description .. string.format('; did you mean "%s"?', best)
  end
  return description
end

local function enum_problem(values, value)
  for _, allowed in ipairs(values) do
    if value == allowed then return nil end
  end
  return string.format('invalid value "%s"; must be one of %s', value, table.concat(values, ", "))
end

-- Percent-decoding as HTML forms do it (the way Sinch's gateway reads queries).
local function decode_query_component(text)
  text = text:gsub("+", " ")
  return (text:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

function validate.decode_path_segment(text)
  return (text:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

function validate.parse_query(query)
  local pairs_found = {}
  for part in (query or ""):gmatch("[^&]+") do
    local name, value = part:match("^([^=]*)=?(.*)$")
    pairs_found[#pairs_found + 1] = { decode_query_component(name), decode_query_component(value) }
  end
  return pairs_found
end

local function check_query_value(rule, value)
  if rule.kind == "enum" then
    return enum_problem(rule.values, value)
  elseif rule.kind == "integer" then
    if not value:match("^%d+$") then return "must be a non-negative integer" end
    if rule.max and tonumber(value) > rule.max then return string.format("must be at most %d", rule.max) end
  elseif rule.length and #value ~= rule.length then
    return string.format("must be exactly %d characters", rule.length)
  elseif rule.format and value ~= "" then
    return check_format(rule.format, value)
  end
end

-- Checks a raw query string against `rules` (name -> rule).
-- Returns the values (name -> string, number, or array for repeated ones) and,
-- when something is wrong, an array of field violations.
function validate.query(rules, query)
  local values, violations = {}, {}
  local function violation(field, description)
    violations[#violations + 1] = { field = field, description = description }
  end
  for _, pair in ipairs(validate.parse_query(query)) do
    local name, value = pair[1], pair[2]
    local rule = rules[name]
    if not rule then
      violation(name, unknown_name("query parameter", name, rules))
    elseif values[name] ~= nil and not rule.repeated then
      violation(name, "must not be repeated")
    else
      local problem = check_query_value(rule, value)
      if problem then
        violation(name, problem)
      elseif rule.repeated then
        values[name] = values[name] or {}
        table.insert(values[name], value)
      elseif rule.kind == "integer" then
        values[name] = tonumber(value)
      else
        values[name] = value
      end
    end
  end
  for name, rule in pairs(rules) do
    if values[name] == 0 and rule.default then values[name] = nil end -- 0 asks for the default
    if values[name] == nil then
      if rule.required then violation(name, "required parameter is missing") end
      values[name] = rule.default
    end
  end
  if violations[1] then return values, violations end
  return values
end

local check_value -- forward: schemas nest

local function is_array(value)
  if type(value) ~= "table" or value == json.null then return false end
  local count = 0
  for _ in pairs(value) do count = count + 1 end
  return count == #value
end

local CHECKS = {
  object = function(schema, value, path, violation)
    if not json.is_object(value) then return violation(path, "must be a JSON object") end
    for name, field_value in pairs(value) do
      local field_path = path == "" and name or (path .. "." .. name)
      local field_schema = schema.fields[name]
      if not field_schema then
        violation(field_path, unknown_name("field", name, schema.fields))
      else
        check_value(field_schema, field_value, field_path, violation)
      end
    end
    for _, name in ipairs(schema.required or {}) do
      if value[name] == nil or value[name] == json.null then
        violation(path == "" and name or (path .. "." .. name), "required field is missing")
      end
    end
  end,
  map = function(schema, value, path, violation)
    if not json.is_object(value) then return violation(path, "must be a JSON object") end
    for name, field_value in pairs(value) do
      check_value(schema.values, field_value, path .. "." .. name, violation)
    end
  end,
  array = function(schema, value, path, violation)
    if not is_array(value) then return violation(path, "must be a JSON array") end
    for i, item in ipairs(value) do
      check_value(schema.items, item, string.format("%s[%d]", path, i - 1), violation)
    end
  end,
  string = function(schema, value, path, violation)
    if type(value) ~= "string" then return violation(path, "must be a string") end
    local problem = (schema.values and enum_problem(schema.values, value))
      or (schema.length and #value ~= schema.length and string.format("must be exactly %d characters", schema.length))
      or (schema.format and check_format(schema.format, value))
    if problem then violation(path, problem) end
  end,
  number = function(schema, value, path, violation)
    if type(value) ~= "number" then return violation(path, "must be a number") end
    if schema.integer and value ~= math.floor(value) then return violation(path, "must be an integer") end
    if schema.min and value < schema.min then return violation(path, "must be at least " .. schema.min) end
    if schema.max and value > schema.max then return violation(path, "must be at most " .. schema.max) end
  end,
  string_or_number = function(_, value, path, violation)
    if type(value) ~= "string" and type(value) ~= "number" then violation(path, "must be a string or a number") end
  end,
  boolean = function(_, value, path, violation)
    if type(value) ~= "boolean" then violation(path, "must be true or false") end
  end,
  any = function() end,
  read_only = function(_, _, path, violation)
    violation(path, "is read-only and must not be sent")
  end,
}

function check_value(schema, value, path, violation)
  if value == json.null then return end -- JSON null means "not set"
  CHECKS[schema.kind](schema, value, path, violation)
end

-- Decodes and checks a raw JSON request body. An empty body counts as {} when
-- `empty_ok`. Returns the decoded object, or nil and an array of field violations.
function validate.body(schema, raw, empty_ok)
  local violations = {}
  local function violation(field, description)
    violations[#violations + 1] = { field = field == "" and "body" or field, description = description }
  end
  local value
  if raw:match("^%s*$") then
    if not empty_ok then return nil, { { field = "body", description = "a JSON object is required" } } end
    value = {}
  elseif not raw:match("^%s*{") then
    return nil, { { field = "body", description = "must be a JSON object" } }
  else
    local err
    value, err = json.decode(raw)
    if value == nil then return nil, { { field = "body", description = "invalid JSON: " .. err } } end
  end
  check_value(schema, value, "", violation)
  if violations[1] then return nil, violations end
  return value
end

-- Decodes and checks a request's JSON body (an empty body counts as {}).
-- Returns the body, or nil and the 400 response.
function validate.read_body(request, schema)
  local content_type = request.headers["content-type"]
  if request.body:match("%S") and content_type and not content_type:lower():find("application/json", 1, true) then
    return nil, errors.invalid_argument({ {
      field = "Content-Type",
      description = string.format('must be "application/json" for a JSON body, not "%s"', content_type),
    } })
  end
  local body, violations = validate.body(schema, request.body, true)
  if not body then return nil, errors.invalid_argument(violations) end
  return body
end

-- Body schemas shared by the API and the control paths.
validate.NUMBER_TYPES = { "LOCAL", "MOBILE", "TOLL_FREE" }
validate.CAPABILITIES = { "SMS", "VOICE" }
validate.SEARCH_PATTERNS = { "START", "CONTAINS", "END" }

local STRING = { kind = "string" }
local READ_ONLY = { kind = "read_only" }
validate.CALLBACK_URL = { kind = "string", format = "uri" }

validate.SMS_CONFIGURATION = { kind = "object", fields = {
  servicePlanId = STRING,
  campaignId = STRING,
  scheduledProvisioning = READ_ONLY,
} }

validate.VOICE_CONFIGURATION = { kind = "object", fields = {
  type = { kind = "string", values = { "RTC", "EST", "FAX" } },
  appId = STRING,     -- RTC
  trunkId = STRING,   -- EST
  serviceId = STRING, -- FAX
  scheduledVoiceProvisioning = READ_ONLY,
  lastUpdatedTime = READ_ONLY,
} }

return validate
