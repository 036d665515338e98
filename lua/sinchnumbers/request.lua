-- Turns a method call into one request description (URL and JSON body),
-- driven by the plan compiled from the endpoint table: the path templates are
-- split once at load time, the per-client URL prefixes once per client, and
-- the caller's input is checked against the endpoint's schemas before
-- anything is built.

local codec = require "sinchnumbers.codec"
local errors = require "sinchnumbers.errors"
local json = require "sinchnumbers.json"
local multipart = require "sinchnumbers.multipart"
local validate = require "sinchnumbers.validate"

local url_encode = codec.url_encode
local null = json.null
local format, concat = string.format, table.concat

local request = {}

-- An id the service gave (of an order, of an attachment) as one path
-- segment: "." or ".." would climb out of it, and "/", "?" or "#" could
-- only be a mistake.
local function path_id(value)
  if type(value) ~= "string" or not value:find("%S") or value == "." or value == ".."
      or value:find("[/?#]") then
    return nil
  end
  return url_encode(value)
end

local function id_expect(what)
  return what .. ': a non-empty string other than "." or "..", without "/", "?" or "#"'
end

-- The kinds of value that fill a path placeholder, by placeholder name: the
-- check and the percent-encoding in one call (in C for the phone numbers of
-- the hot path), and the words for what it allows when that call gives nil.
local PATH_PLACEHOLDERS = {
  phone_number = {
    encode = codec.e164_path,
    expect = 'in E.164 format: "+" then 2 to 15 digits, the first of them 1-9, e.g. "+12065550100"',
  },
  order_id = { encode = path_id, expect = id_expect("a number order's id (its idNumberOrder)") },
  attachment_id = { encode = path_id, expect = id_expect("an attachment id from lookup_number_requirements") },
}

local NO_INPUT = {}

-- How many path values a method passes on to request.build.
request.MAX_PATH_VALUES = 2

-- The placeholders of a path after {project_id}, in order: each with its
-- kind's encode and expect and the literal text that follows it; and the
-- text before the first.
local function path_placeholders(endpoint, after_project)
  local before, rest = after_project:match("^([^{]*)(.*)$")
  local placeholders = {}
  while rest ~= "" do
    local name, literal, remaining = rest:match("^{([%w_]+)}([^{]*)(.*)$")
    assert(name, endpoint.name .. ": a malformed path placeholder in " .. endpoint.path)
    local kind = assert(PATH_PLACEHOLDERS[name], endpoint.name .. ": no placeholder kind for {" .. name .. "}")
    placeholders[#placeholders + 1] = { name = name, encode = kind.encode, expect = kind.expect, suffix = literal }
    rest = remaining
  end
  return before, placeholders
end

-- One endpoint's plan: its path template split into the part before the
-- first placeholder and the placeholders, and its schemas compiled.
local function endpoint_plan(endpoint)
  local before_project, after_project = endpoint.path:match("^(.-){project_id}(.*)$")
  local middle, placeholders = path_placeholders(endpoint, after_project)
  assert(#placeholders <= request.MAX_PATH_VALUES,
    endpoint.name .. ": at most " .. request.MAX_PATH_VALUES .. " path placeholders besides {project_id}")
  local plan = {
    name = endpoint.name,
    method = endpoint.method,
    idempotent = endpoint.idempotent ~= false,
    path_before_project = before_project,
    path_middle = middle,
    placeholders = placeholders,
    body_default = endpoint.body_default,
    multipart_part = endpoint.multipart_part,
    if_unclear = endpoint.if_unclear,
    if_refused = endpoint.if_refused,
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
    assert(endpoint.idempotent ~= false or endpoint.confirm_with or endpoint.if_unclear,
      endpoint.name .. ": a call that is not idempotent says how to confirm it (confirm_with or if_unclear)")
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

local function json_body(plan, body, unknown)
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
  local message, field = validate.fields(plan.body, body, "field", unknown)
  if message then return invalid(plan, message, field) end
  if given_json then return given_json end
  local encoded, encode_error = json.encode(body)
  if not encoded then
    return invalid(plan, "body cannot be encoded as JSON: " .. tostring(encode_error))
  end
  return encoded
end

-- The content types of the files an upload reads from a path; any other
-- file is given as a table, with its type.
local CONTENT_TYPE_BY_EXTENSION = {
  pdf = "application/pdf", jpg = "image/jpeg", jpeg = "image/jpeg", png = "image/png",
}

-- A file named by its path, read, as { name, content_type, data }.
local function read_file(plan, path)
  local name = path:match("[^/\\]+$") or ""
  local content_type = CONTENT_TYPE_BY_EXTENSION[(name:match("%.(%w+)$") or ""):lower()]
  if not content_type then
    return invalid(plan, format("file %q is read from a path only when it ends in .pdf, .jpg, .jpeg or .png:"
      .. " for another, give { name, content_type, data }", path), "file")
  end
  local handle, open_problem = io.open(path, "rb")
  if not handle then return invalid(plan, "cannot read file: " .. tostring(open_problem), "file") end
  local data = handle:read("*a")
  handle:close()
  if not data then return invalid(plan, format("cannot read file %q", path), "file") end
  return { name = name, content_type = content_type, data = data }
end

-- The file of an upload, { name, content_type, data } or a path to read,
-- checked against the endpoint's file schema (a name read from a path too:
-- it goes into a header line).
local function file_to_send(plan, file)
  local checked, problem
  if type(file) == "string" then
    checked, problem = read_file(plan, file)
    if not checked then return nil, problem end
  elseif type(file) == "table" then
    checked, problem = validate.raw_copy(file, "file")
    if not checked then return invalid(plan, problem) end
  else
    return invalid(plan, 'file must be a table { name = "passport.pdf", content_type = "application/pdf",'
      .. " data = <the bytes> }, or the path of a file to read (got a " .. type(file) .. ")")
  end
  local message, field = validate.fields(plan.body, checked, "field")
  if message then return invalid(plan, "file: " .. message, field) end
  return checked
end

-- What is wrong with a value for a path placeholder, for the message.
local function placeholder_problem(placeholder, value)
  local got = type(value) == "string" and format("%q", value) or "a " .. type(value)
  return placeholder.name .. " must be " .. placeholder.expect .. " (got " .. got .. ")", placeholder.name
end

-- Checks the caller's arguments and builds the request of an endpoint plan:
-- `input` (params or body) and the values of the path placeholders, in path
-- order (as arguments rather than a list: the hot path makes no table).
-- Returns url, body (nil when the plan sends none) and its content type
-- when it is not JSON; or nil, err. With `unknown` (a list: the client's
-- strict = false), enum values the library does not know are sent, and
-- listed there.
function request.build(plan, url_prefix, input, first_value, second_value, unknown)
  local url = url_prefix
  local placeholders = plan.placeholders
  local value, next_value = first_value, second_value
  for i = 1, #placeholders do
    local placeholder = placeholders[i]
    local encoded = placeholder.encode(value)
    if not encoded then return invalid(plan, placeholder_problem(placeholder, value)) end
    url = url .. encoded .. placeholder.suffix
    value, next_value = next_value, nil
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
    local message, field = validate.fields(plan.query_schema, input, "parameter", unknown)
    if message then return invalid(plan, message, field) end
    local query = query_string(plan, input)
    if query ~= "" then url = url .. "?" .. query end
    return url
  end
  if plan.body then
    if plan.multipart_part then
      local file, err = file_to_send(plan, input)
      if not file then return nil, err end
      local body, content_type = multipart.body(plan.multipart_part, file)
      if not body then return invalid(plan, content_type) end
      return url, body, content_type
    end
    local body, err = json_body(plan, input, unknown)
    if not body then return nil, err end
    return url, body
  end
  if input ~= nil then
    return invalid(plan, "takes no parameters or body" .. (#placeholders > 0
      and ", only the " .. request.placeholder_names(plan) or ""))
  end
  return url
end

-- "order_id, attachment_id": the names of a plan's path placeholders.
function request.placeholder_names(plan)
  local names = {}
  for i, placeholder in ipairs(plan.placeholders) do names[i] = placeholder.name end
  return concat(names, ", ")
end

return request
