-- The one configured lua-cjson instance the client uses, so our settings
-- never leak into (or depend on) the application's own `require "cjson"`.
--
-- JSON null decodes to `json.null` (which is `cjson.null`, exposed to users
-- as `sinchnumbers.null`); encoding it gives null again.

local cjson_safe = require "cjson.safe"

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

return {
  null = instance.null,
  -- Both return the value, or nil and cjson's message.
  decode = instance.decode,
  encode = instance.encode,
}
