-- The one configured lua-cjson instance the client uses, so our settings
-- never leak into (or depend on) the application's own `require "cjson"`.
--
-- JSON null decodes to `json.null` (which is `cjson.null`, exposed to users
-- as `sinchnumbers.null`); encoding it gives null again.

local cjson_safe = require "cjson.safe"
local codec = require "sinchnumbers.codec"

local instance = cjson_safe.new()

-- Keep "https://..." readable on the wire where the cjson build allows it
-- (OpenResty's cjson has this switch; upstream 2.1.0 always writes "\/").
if instance.encode_escape_forward_slash then
  instance.encode_escape_forward_slash(false)
end
-- NaN and Infinity are not JSON: refuse them rather than send them.
instance.decode_invalid_numbers(false)
instance.encode_invalid_numbers(false)
-- Deeper nesting is a decode error rather than a deep C recursion; Sinch's
-- answers nest a few levels. (cjson's default, set here so that it holds.)
instance.decode_max_depth(1000)

-- Where the API's answers hold integers (the Numbers API's number and list
-- answers, Sinch's error body, the token answer): paths of names, "*" for
-- every item.
local INTEGER_FIELDS = {
  { "totalSize" }, { "paymentIntervalMonths" },
  { "activeNumbers", "*", "paymentIntervalMonths" }, { "availableNumbers", "*", "paymentIntervalMonths" },
  { "orderNumbers", "*", "numberPrice", "paymentIntervalMonths" },
  { "quantityOrderOption", "requestedQuantity" },
  { "error", "code" }, { "expires_in" },
}

-- Returns the value, or nil and cjson's message.
local decode = instance.decode
-- Debian's lua-cjson 2.1.0 makes every number a float on 5.3 and 5.4
-- (totalSize 1250.0, err.code 429.0): there the C codec turns the integral
-- ones at INTEGER_FIELDS back into integers. Only there, and only at those
-- paths: a walk over every value would slow down decoding every page (see
-- bench/RESULTS.md). Builds that keep integers need no second pass.
if math.type and math.type(decode("[1]")[1]) == "float" then
  local integers, raw_decode = codec.integers, decode
  decode = function(text)
    local value, problem = raw_decode(text)
    if value == nil then return nil, problem end
    return integers(value, INTEGER_FIELDS)
  end
end

local find, byte = string.find, string.byte

-- How many name-value pairs the objects of a JSON text hold: its colons
-- outside strings. The text must be valid JSON (cjson decoded it).
local function pair_count(text)
  local count, position = 0, 1
  while true do
    local at = find(text, '[":]', position)
    if not at then return count end
    position = at + 1
    if byte(text, at) == 58 then -- ':'
      count = count + 1
    else -- a string: on to its closing quote, past escaped characters
      while true do
        local stop = find(text, '["\\]', position)
        if byte(text, stop) == 34 then
          position = stop + 1
          break
        end
        position = stop + 2
      end
    end
  end
end

-- How many names the objects inside a decoded value hold (array indices
-- are numbers; object names, strings).
local function name_count(value)
  local count = 0
  for key, item in next, value do
    if type(key) == "string" then count = count + 1 end
    if type(item) == "table" then count = count + name_count(item) end
  end
  return count
end

return {
  null = instance.null,
  decode = decode,
  -- Does a JSON text give some name twice in one object? `decoded` is what
  -- decode made of it (a table), where only the last of them is left.
  has_duplicate_names = function(text, decoded)
    return pair_count(text) ~= name_count(decoded)
  end,
  -- Returns the JSON text, or nil and cjson's message.
  encode = instance.encode,
}
