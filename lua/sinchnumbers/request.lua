-- Turns a method call into one request description (URL and JSON body),
-- driven by the plan compiled from the endpoint table: the path templates are
-- split once at load time, the per-client URL prefixes once per client, and
-- the caller's input is checked against the endpoint's schemas before
-- anything is built.

local codec = require "sinchnumbers.codec"
local errors = require "sinchnumbers.errors"
local json = require "sinchnumbers.json"
local validate = require "sinchnumbers.validate"

local url_encode = codec.url_encode
local null = json.null
local format, concat = string.format, table.concat

local request = {}

-- The kinds of value that fill a path placeholder, by placeholder name: the
-- check and the percent-encoding in one C call (for the hot path), and the
-- words for what it allows when that call gives nil.
local PATH_PLACEHOLDERS = {
  phone_number = {
    encode = codec.e164_path,
    expect = 'in E.164 format: "+" then 2 to 15 digits, the first of them 1-9, e.g. "+12065550100"',
  },
}

local NO_INPUT = {}

-- One endpoint's plan: its path template split into the part before the
-- placeholder, the placeholder and the part after, and its schemas compiled.
local function endpoint_plan(endpoint)
  local before_project, after_project = endpoint.path:match("^(.-){project_id}(.*)$")
  local middle, placeholder, suffix = after_project:match("^(.-){([%w_]+)}(.*)$")
  assert(not (suffix or ""):find("{", 1, true),
    endpoint.name .. ": at most one path placeholder besides {project_id}")
  assert(not placeholder or PATH_PLACEHOLDERS[placeholder],
    endpoint.name .. ": no placeholder kind for {" .. tostring(placeholder) .. "}")
  local plan = {
    name = endpoint.name,
    method = endpoint.method,
    idempotent = endpoint.idempotent ~= false,
    path_before_project = before_project,
    path_middle = middle or after_project,
    path_placeholder = placeholder,
    placeholder_kind = PATH_PLACEHOLDERS[placeholder],
    path_suffix = suffix or "",
    body_default = endpoint.body_default,
  }
  if endpoint.query then
    plan.query_schema = validate.compile({ type = "object", fields = endpoint.query })
    plan.query = plan.query_schema.fields
    for _, param in ipairs(plan.query) do
      -- "name=" strings built once; objects get one per member ("numberPattern.pattern=").
      param.wire_key = url_encode(param.name) .. "="
      for _, member in ipairs(param.fields or {}) do
        member.wire_key = url_encode(param.name .. "." .. member.name) .. "="
      end
    end
  end
  if endpoint.body then plan.body = validate.compile(endpoint.body) end
  return plan
end

-- The plan of the endpoint table, made once at load time: a list of
-- endpoint plans, in the table's order, and `by_name`. The table itself
-- stays as it was written; a plan's `confirmation` is the plan of the
-- endpoint named by `confirm_with`.
function request.compile(endpoints)
  local plans, by_name = {}, {}
  for i, endpoint in ipairs(endpoints) do
    plans[i] = endpoint_plan(endpoint)
    by_name[endpoint.name] = plans[i]
  end
  for i, endpoint in ipairs(endpoints) do
    if endpoint.confirm_with then
      plans[i].confirmation = assert(by_name[endpoint.confirm_with],
        endpoint.name .. ": confirm_with names no endpoint")
    end
  end
  plans.by_name = by_name
  return plans
end

-- The requests of one client, by endpoint name: each plan with its URL up to
-- the placeholder (base URL, path and the encoded project id, joined once
-- rather than on every call), and the prepared request that confirms it.
function request.prepare(plans, base_url, project_id)
  local prepared = {}
  local encoded_project = url_encode(project_id)
  for _, plan in ipairs(plans) do
    prepared[plan.name] = {
      plan = plan,
      url_prefix = base_url .. plan.path_before_project .. encoded_project .. plan.path_middle,
    }
  end
  for _, plan in ipairs(plans) do
    if plan.confirmation then prepared[plan.name].confirmation = prepared[plan.confirmation.name] end
  end
  return prepared
end

local function invalid(plan, message, field)
  return nil, errors.invalid_argument(plan.name .. ": " .. message, field)
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
local function query_string(plan, params)
  local n = 0
  for _, param in ipairs(plan.query) do
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

local function json_body(plan, body)
  if body == nil then
    if plan.body_default then return plan.body_default end
    return invalid(plan, "a body is required: a table with " .. concat(plan.body.names, ", "))
  end
  local given_json
  if type(body) == "string" then
    -- JSON text is checked like a table but sent byte for byte as given.
    local decoded, decode_error = json.decode(body)
    if decoded == nil then
      return invalid(plan, "body is not valid JSON: " .. tostring(decode_error))
    end
    -- With a name twice in one object, cjson keeps the last value and the
    -- service might take the first: what we checked would not be what it reads.
    if type(decoded) == "table" and json.has_duplicate_names(body, decoded) then
      return invalid(plan, "body is JSON with a name given twice in one object: give each field once")
    end
    given_json, body = body, decoded
  elseif type(body) == "table" then
    local copy, problem = validate.raw_copy(body, "body")
    if not copy then return invalid(plan, problem) end
    body = copy
  end
  if type(body) ~= "table" then
    return invalid(plan, "body must be a table (or JSON text of an object) with "
      .. concat(plan.body.names, ", ") .. " (got a " .. type(body) .. ")")
  end
  local message, field = validate.fields(plan.body, body, "field")
  if message then return invalid(plan, message, field) end
  if given_json then return given_json end
  local encoded, encode_error = json.encode(body)
  if not encoded then
    return invalid(plan, "body cannot be encoded as JSON: " .. tostring(encode_error))
  end
  return encoded
end

-- What is wrong with a value for a path placeholder, for the message.
local function placeholder_problem(name, kind, value)
  local got = type(value) == "string" and format("%q", value) or "a " .. type(value)
  return name .. " must be " .. kind.expect .. " (got " .. got .. ")", name
end

-- Checks the caller's arguments and builds the request of an endpoint plan.
-- Returns url, body (nil when the plan sends none), or nil, err.
function request.build(plan, url_prefix, path_value, input)
  local url = url_prefix
  local kind = plan.placeholder_kind
  if kind then
    local encoded = kind.encode(path_value)
    if not encoded then
      return invalid(plan, placeholder_problem(plan.path_placeholder, kind, path_value))
    end
    url = url .. encoded .. plan.path_suffix
  end
  if plan.query then
    if input == nil then input = NO_INPUT end
    if type(input) ~= "table" then
      return invalid(plan, "params must be a table of query parameters ("
        .. concat(plan.query_schema.names, ", ") .. "), got a " .. type(input))
    end
    local problem
    input, problem = validate.raw_copy(input, "params")
    if not input then return invalid(plan, problem) end
    local message, field = validate.fields(plan.query_schema, input, "parameter")
    if message then return invalid(plan, message, field) end
    local query = query_string(plan, input)
    if query ~= "" then url = url .. "?" .. query end
    return url
  end
  if plan.body then
    local body, err = json_body(plan, input)
    if not body then return nil, err end
    return url, body
  end
  if input ~= nil then
    return invalid(plan, "takes no parameters or body"
      .. (plan.path_placeholder and ", only the " .. plan.path_placeholder or ""))
  end
  return url
end

return request
