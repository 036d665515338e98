-- Turns a method call into one request description (URL and JSON body),
-- driven by the endpoint table: the path template is split once at load time,
-- the per-client URL prefixes once per client, and the caller's input is
-- checked against the endpoint's schemas before anything is built.

local codec = require "sinchnumbers.codec"
local errors = require "sinchnumbers.errors"
local json = require "sinchnumbers.json"
local validate = require "sinchnumbers.validate"

local url_encode = codec.url_encode
local null = json.null
local format, concat = string.format, table.concat

local request = {}

-- Checks for the values that fill a path placeholder, by placeholder name.
local PATH_CHECKS = {
  phone_number = validate.phone_number,
}

-- The check and the percent-encoding of a path value in one C call, for the
-- hot path; PATH_CHECKS says what is wrong when it gives nil.
local PATH_ENCODERS = {
  phone_number = codec.e164_path,
}

local NO_INPUT = {}

-- Splits each path template into the part before the placeholder, the
-- placeholder and the part after, and compiles the schemas. Run once.
function request.compile(endpoints)
  for _, endpoint in ipairs(endpoints) do
    local before_project, after_project = endpoint.path:match("^(.-){project_id}(.*)$")
    local middle, placeholder, suffix = after_project:match("^(.-){([%w_]+)}(.*)$")
    assert(not (suffix or ""):find("{", 1, true),
      endpoint.name .. ": at most one path placeholder besides {project_id}")
    assert(not placeholder or PATH_CHECKS[placeholder],
      endpoint.name .. ": no check for {" .. tostring(placeholder) .. "}")
    endpoint.path_before_project = before_project
    endpoint.path_middle = middle or after_project
    endpoint.path_placeholder = placeholder
    endpoint.path_suffix = suffix or ""
    if endpoint.query then
      endpoint.query_schema = validate.compile({ type = "object", fields = endpoint.query })
      for _, param in ipairs(endpoint.query) do
        -- "name=" strings built once; objects get one per member ("numberPattern.pattern=").
        param.wire_key = url_encode(param.name) .. "="
        for _, member in ipairs(param.fields or {}) do
          member.wire_key = url_encode(param.name .. "." .. member.name) .. "="
        end
      end
    end
    if endpoint.body then validate.compile(endpoint.body) end
    if endpoint.idempotent == nil then endpoint.idempotent = true end
  end
  return endpoints
end

-- The URL of each endpoint up to its placeholder, for one client: base URL,
-- path and the encoded project id joined once rather than on every call.
function request.url_prefixes(endpoints, base_url, project_id)
  local prefixes = {}
  local encoded_project = url_encode(project_id)
  for _, endpoint in ipairs(endpoints) do
    prefixes[endpoint.name] = base_url .. endpoint.path_before_project
      .. encoded_project .. endpoint.path_middle
  end
  return prefixes
end

local function invalid(endpoint, message, field)
  return nil, errors.invalid_argument(endpoint.name .. ": " .. message, field)
end

-- Reused for every query string: building one never yields, so no two
-- callers can be in here at once, even under OpenResty.
local parts = {}

local function encode_value(param, value)
  if param.type == "integer" then return format("%d", value) end
  return url_encode(value)
end

-- Parameters go out in the endpoint table's order; arrays as repeated keys,
-- objects as dotted keys; null means "leave it out".
local function query_string(endpoint, params)
  local n = 0
  for _, param in ipairs(endpoint.query) do
    local value = params[param.name]
    for _, alias in ipairs(param.aliases) do
      if value == nil then value = params[alias] end
    end
    if value ~= nil and value ~= null then
      if param.type == "array" then
        for i = 1, #value do
          n = n + 1
          parts[n] = param.wire_key .. url_encode(value[i])
        end
      elseif param.type == "object" then
        for _, member in ipairs(param.fields) do
          local member_value = value[member.name]
          if member_value ~= nil and member_value ~= null then
            n = n + 1
            parts[n] = member.wire_key .. encode_value(member, member_value)
          end
        end
      else
        n = n + 1
        parts[n] = param.wire_key .. encode_value(param, value)
      end
    end
  end
  local query = concat(parts, "&", 1, n)
  for i = 1, n do parts[i] = nil end
  return query
end

local function json_body(endpoint, body)
  if body == nil then
    if endpoint.body_default then return endpoint.body_default end
    return invalid(endpoint, "a body is required: a table with " .. concat(endpoint.body.names, ", "))
  end
  local given_json
  if type(body) == "string" then
    -- JSON text is checked like a table but sent byte for byte as given.
    local decoded, decode_error = json.decode(body)
    if decoded == nil then
      return invalid(endpoint, "body is not valid JSON: " .. tostring(decode_error))
    end
    -- With a name twice in one object, cjson keeps the last value and the
    -- service might take the first: what we checked would not be what it reads.
    if type(decoded) == "table" and json.has_duplicate_names(body, decoded) then
      return invalid(endpoint, "body is JSON with a name given twice in one object: give each field once")
    end
    given_json, body = body, decoded
  elseif type(body) == "table" then
    local copy, problem = validate.raw_copy(body, "body")
    if not copy then return invalid(endpoint, problem) end
    body = copy
  end
  if type(body) ~= "table" then
    return invalid(endpoint, "body must be a table (or JSON text of an object) with "
      .. concat(endpoint.body.names, ", ") .. " (got a " .. type(body) .. ")")
  end
  local message, field = validate.fields(endpoint.body, body, "field")
  if message then return invalid(endpoint, message, field) end
  if given_json then return given_json end
  local encoded, encode_error = json.encode(body)
  if not encoded then
    return invalid(endpoint, "body cannot be encoded as JSON: " .. tostring(encode_error))
  end
  return encoded
end

-- Checks the caller's arguments and builds the request.
-- Returns url, body (nil when the endpoint sends none), or nil, err.
function request.build(endpoint, url_prefix, path_value, input)
  local url = url_prefix
  if endpoint.path_placeholder then
    local encoded = PATH_ENCODERS[endpoint.path_placeholder](path_value)
    if not encoded then
      return invalid(endpoint, PATH_CHECKS[endpoint.path_placeholder](path_value))
    end
    url = url .. encoded .. endpoint.path_suffix
  end
  if endpoint.query then
    if input == nil then input = NO_INPUT end
    if type(input) ~= "table" then
      return invalid(endpoint, "params must be a table of query parameters ("
        .. concat(endpoint.query_schema.names, ", ") .. "), got a " .. type(input))
    end
    local problem
    input, problem = validate.raw_copy(input, "params")
    if not input then return invalid(endpoint, problem) end
    local message, field = validate.fields(endpoint.query_schema, input, "parameter")
    if message then return invalid(endpoint, message, field) end
    local query = query_string(endpoint, input)
    if query ~= "" then url = url .. "?" .. query end
    return url
  end
  if endpoint.body then
    local body, err = json_body(endpoint, input)
    if not body then return nil, err end
    return url, body
  end
  if input ~= nil then
    return invalid(endpoint, "takes no parameters or body"
      .. (endpoint.path_placeholder and ", only the " .. endpoint.path_placeholder or ""))
  end
  return url
end

return request
