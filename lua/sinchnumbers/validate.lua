-- Checks a Lua value against a schema of the endpoint table (see
-- sinchnumbers/endpoints.lua for the schema format) before anything goes on
-- the wire. A check returns nothing when the value fits, or a message that
-- says what is allowed plus the name of the offending field.
--
-- Values are echoed in messages only for enums, patterns and checks, never for fields
-- marked `secret`, so no secret can reach an error message from here.

local json = require "sinchnumbers.json"

local null = json.null
local format, concat = string.format, table.concat

local validate = {}

-- Levenshtein distance, case-insensitive: "regioncode" is one step from
-- "regionCode"'s spelling the user meant.
local function distance(a, b)
  a, b = a:lower(), b:lower()
  local previous, current = {}, {}
  for j = 0, #b do previous[j] = j end
  for i = 1, #a do
    current[0] = i
    local ca = a:byte(i)
    for j = 1, #b do
      local cost = (ca == b:byte(j)) and 0 or 1
      current[j] = math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
    end
    previous, current = current, previous
  end
  return previous[#b]
end

-- The candidate closest to `name` (the first one on a tie).
function validate.nearest(name, candidates)
  local best, best_distance
  for _, candidate in ipairs(candidates) do
    local d = distance(name, candidate)
    if not best_distance or d < best_distance then
      best, best_distance = candidate, d
    end
  end
  return best
end

local function quoted_list(names)
  local parts = {}
  for i, name in ipairs(names) do parts[i] = format("%q", name) end
  return concat(parts, ", ")
end

local NO_ALIASES = {}

-- A schema ready for checking: a copy of it (and of the schemas inside it)
-- with lookup tables added. The schema itself is left as it was written.
function validate.compile(schema)
  local compiled = {}
  for key, value in pairs(schema) do compiled[key] = value end
  -- Always a list, so that checking a call allocates nothing.
  compiled.aliases = schema.aliases or NO_ALIASES
  if schema.enum then
    compiled.enum_set = {}
    for _, value in ipairs(schema.enum) do compiled.enum_set[value] = true end
  end
  if schema.items then compiled.items = validate.compile(schema.items) end
  if schema.fields then
    compiled.fields, compiled.by_name, compiled.names = {}, {}, {}
    for i, field_schema in ipairs(schema.fields) do
      local field = validate.compile(field_schema)
      compiled.fields[i] = field
      compiled.by_name[field.name] = field
      compiled.names[#compiled.names + 1] = field.name
      for _, alias in ipairs(field.aliases) do
        compiled.by_name[alias] = field
        compiled.names[#compiled.names + 1] = alias
      end
    end
  end
  return compiled
end

-- Words for what a schema allows, used when a value does not fit.
local function expectation(schema)
  if schema.expect then return schema.expect end
  local t = schema.type
  if schema.enum then return "one of " .. quoted_list(schema.enum) end
  if t == "integer" and schema.min then
    return format("an integer from %d to %d", schema.min, schema.max)
  end
  if t == "array" then
    return "a list of one or more of " .. (schema.items.enum and quoted_list(schema.items.enum) or "strings")
  end
  if t == "object" then
    return "a table with " .. quoted_list(schema.names)
  end
  return "a " .. t
end

local function is_finite_number(value)
  return type(value) == "number" and value == value and value > -math.huge and value < math.huge
end

local function is_list(value)
  local count = 0
  for _ in pairs(value) do count = count + 1 end
  return count == #value
end

local check_fields

-- Does `value` fit `schema`? `label` names it in the message. With
-- `unknown` (a list), an enum value the schema does not know is let
-- through and written there as `label = "value"`.
local function check(schema, value, label, noun, unknown)
  local t = schema.type
  local fits
  if schema.read_only then
    return label .. " is read-only (Sinch sets it): leave it out", label
  elseif schema.check then
    fits = schema.check(value)
  elseif t == "string" then
    fits = type(value) == "string" and (not schema.pattern or value:find(schema.pattern) ~= nil)
    if fits and schema.enum_set and not schema.enum_set[value] then
      if unknown then
        unknown[#unknown + 1] = format("%s = %q", label, value)
      else
        fits = false
      end
    end
  elseif t == "integer" or t == "number" then
    fits = is_finite_number(value)
      and (t == "number" or value == math.floor(value))
      and (not schema.min or value >= schema.min)
      and (not schema.max or value <= schema.max)
  elseif t == "array" then
    if type(value) ~= "table" or not is_list(value) or #value == 0 then
      fits = false
    else
      for i = 1, #value do
        local message, field = check(schema.items, value[i], format("%s[%d]", label, i), noun, unknown)
        if message then return message, field end
      end
      return nil
    end
  elseif t == "object" then
    if type(value) == "table" then
      return check_fields(schema, value, label .. ".", noun, unknown)
    end
    fits = false
  else
    fits = type(value) == t
  end
  if fits then return nil end

  local message = format("%s must be %s", label, expectation(schema))
  if schema.secret then
    return message, label
  elseif (schema.enum or schema.pattern or schema.check) and type(value) == "string" then
    return format("%s (got %q)", message, value), label
  elseif type(value) == "number" then
    return format("%s (got %s)", message, tostring(value)), label
  end
  return format("%s (got a %s)", message, value == null and "null" or type(value)), label
end

-- An object's `exactly_one_of` names fields of which one, and only one, is given.
local function choice_problem(names, tbl, prefix)
  local given
  for _, name in ipairs(names) do
    local value = tbl[name]
    if value ~= nil and value ~= null then
      if given then
        return format("give exactly one of %s, not both %s%s and %s%s",
          quoted_list(names), prefix, given, prefix, name), prefix .. name
      end
      given = name
    end
  end
  if not given then
    return format("give exactly one of %s (none is given)", quoted_list(names)), prefix .. names[1]
  end
end

-- `prefix` is "" at the top level and "numberPattern." inside an object;
-- `noun` says what the names are: "option", "parameter" or "field".
function check_fields(schema, tbl, prefix, noun, unknown)
  for key in pairs(tbl) do
    if not schema.by_name[key] then
      if type(key) ~= "string" then
        return format("%s names must be strings, like %s (got a %s key)",
          noun, quoted_list(schema.names), type(key)), prefix
      end
      local head = key:match("^([^.]+)%.")
      local head_field = head and schema.by_name[head]
      if head_field and head_field.type == "object" then
        return format('unknown %s "%s%s": write %s = { %s = ... }',
          noun, prefix, key, head, key:sub(#head + 2)), prefix .. key
      end
      return format('unknown %s "%s%s"; did you mean "%s"? (allowed: %s)',
        noun, prefix, key, validate.nearest(key, schema.names), quoted_list(schema.names)),
        prefix .. key
    end
  end
  for _, field in ipairs(schema.fields) do
    local value, given_as = tbl[field.name], field.name
    for _, alias in ipairs(field.aliases) do
      if tbl[alias] ~= nil then
        if value ~= nil then
          return format('give %s%s or %s%s, not both', prefix, field.name, prefix, alias),
            prefix .. field.name
        end
        value, given_as = tbl[alias], alias
      end
    end
    local label = prefix .. given_as
    if value == nil or (value == null and not field.read_only) then
      if field.required then
        return format("%s is required: %s", label, expectation(field)), label
      end
    else
      local message, bad_field = check(field, value, label, noun, unknown)
      if message then return message, bad_field end
    end
  end
  if schema.exactly_one_of then return choice_problem(schema.exactly_one_of, tbl, prefix) end
  return nil
end

-- Checks a table of named values (options, query parameters, a body).
-- `unknown` (optional): see check.
function validate.fields(schema, tbl, noun, unknown)
  return check_fields(schema, tbl, "", noun, unknown)
end

-- How deep a caller's table may nest: far more than any options, params or
-- body of the API, and a table that holds itself ends here too.
local MAX_DEPTH = 32

local function copy_raw(value, depth)
  if type(value) ~= "table" then return value end
  if depth > MAX_DEPTH then return nil end
  local copy = {}
  for key, item in next, value do
    local item_copy = copy_raw(item, depth + 1)
    if item_copy == nil then return nil end
    copy[key] = item_copy
  end
  return copy
end

-- The caller's value read once, with raw access, before anything looks at
-- it: tables are copied, tables inside them too, without their metatables.
-- So no __index or __pairs can raise in here, or show the checks one value
-- and the wire (cjson reads tables raw) another. Returns the copy, or nil
-- and a message that names `label`.
function validate.raw_copy(value, label)
  local copy = copy_raw(value, 1)
  if copy == nil then
    return nil, format("%s nests tables more than %d levels deep (or holds itself)", label, MAX_DEPTH)
  end
  return copy
end

-- Does `value` (a table or a userdata such as a libcurl transport) have these
-- methods? Looking them up may run the caller's __index, so it may not raise.
function validate.has_methods(value, names)
  local kind = type(value)
  if kind ~= "table" and kind ~= "userdata" then return false end
  for _, name in ipairs(names) do
    local ok, method = pcall(function() return value[name] end)
    if not ok or type(method) ~= "function" then return false end
  end
  return true
end

return validate
