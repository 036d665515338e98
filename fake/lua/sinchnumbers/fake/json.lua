-- JSON for the fake server.
--
-- Debian's lua-cjson 2.1.0 has neither cjson.empty_array nor cjson.array_mt, so it
-- writes an empty Lua table as {}. Sinch writes empty lists as [], and clients
-- rightly depend on that, so tables are walked here and only scalars go through
-- cjson. Object keys are written sorted, which keeps responses byte-for-byte
-- reproducible for a given state.
local cjson = require "cjson"

local json = {}

json.null = cjson.null

local ARRAY = {} -- metatable that marks a table as a JSON array, even when empty

-- Marks `t` (or a new table) as an array and returns it.
function json.array(t)
  return setmetatable(t or {}, ARRAY)
end

local function is_array(t)
  return getmetatable(t) == ARRAY or t[1] ~= nil
end

-- cjson writes "/" as "\/"; both are valid JSON, but URLs read better plain. Every
-- "/" and every "\" is escaped by cjson, so "\/" can only be an escaped slash.
local function encode_scalar(value)
  if type(value) == "string" then return (cjson.encode(value):gsub("\\/", "/")) end
  return cjson.encode(value)
end

local function encode_into(value, out)
  if type(value) ~= "table" then
    out[#out + 1] = encode_scalar(value)
  elseif is_array(value) then
    out[#out + 1] = "["
    for i = 1, #value do
      if i > 1 then out[#out + 1] = "," end
      encode_into(value[i], out)
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for key in pairs(value) do keys[#keys + 1] = key end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, key in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = encode_scalar(key)
      out[#out + 1] = ":"
      encode_into(value[key], out)
    end
    out[#out + 1] = "}"
  end
end

function json.encode(value)
  local out = {}
  encode_into(value, out)
  return table.concat(out)
end

-- Returns the decoded value, or nil and cjson's message.
function json.decode(text)
  local ok, value = pcall(cjson.decode, text)
  if ok then return value end
  return nil, tostring(value)
end

-- True for a decoded JSON object (cjson gives tables for both objects and arrays;
-- only arrays have integer keys). An empty table counts as an object.
function json.is_object(value)
  return type(value) == "table" and value ~= json.null and type(next(value)) ~= "number"
end

return json
