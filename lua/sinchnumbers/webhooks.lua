--- Sinch number webhooks: check the X-Sinch-Signature header and read events.
--
-- Sinch signs each callback with HMAC-SHA1 of the raw body, keyed with the
-- project's hmacSecret (see `update_callback_configuration`), and sends the
-- digest as lowercase hex. Check it against the body exactly as received,
-- before any JSON decoding.
-- @module sinchnumbers.webhooks
local codec = require "sinchnumbers.codec"
local errors = require "sinchnumbers.errors"
local json = require "sinchnumbers.json"
local time = require "sinchnumbers.time"

local webhooks = {}

local SIGNATURE_HEADER = "x-sinch-signature"
-- A real header is 40 hex digits; this leaves room for white space around
-- them. Anything longer is refused before it is even trimmed: the header
-- comes from whoever sends the request, unauthenticated, and trimming takes
-- time quadratic in the length of a run of inner spaces.
local MAX_SIGNATURE_LENGTH = 128

--- Checks a signature against the raw body.
-- The comparison takes the same time wherever the digests differ, and white
-- space around the header value is ignored; hex digits may be of either case.
-- A header longer than 128 bytes is refused at once, without computing the HMAC.
-- @tparam string raw_body the request body exactly as received
-- @tparam string signature the X-Sinch-Signature header value
-- @tparam string hmac_secret the project's callback hmacSecret
-- @treturn[1] boolean true when the body carries a valid signature
-- @treturn[2] boolean false
-- @treturn[2] table an error: kind `auth` for a missing or wrong signature,
-- `invalid_argument` when an argument is not a string
function webhooks.verify_signature(raw_body, signature, hmac_secret)
  if type(raw_body) ~= "string" then
    return false, errors.invalid_argument("raw_body must be the request body as a string", "raw_body")
  end
  if type(hmac_secret) ~= "string" or hmac_secret == "" then
    return false, errors.invalid_argument("hmac_secret must be the project's non-empty hmacSecret", "hmac_secret")
  end
  if signature == nil then
    return false, errors.new("auth", "the request has no X-Sinch-Signature header")
  end
  if type(signature) ~= "string" then
    return false, errors.invalid_argument("signature must be the X-Sinch-Signature header value as a string",
      "signature")
  end
  if #signature > MAX_SIGNATURE_LENGTH then
    return false, errors.new("auth", "X-Sinch-Signature is longer than any real signature ("
      .. #signature .. " bytes; a signature is 40 hex digits)")
  end
  local given = signature:match("^%s*(.-)%s*$"):lower()
  local expected = codec.hmac_sha1_hex(hmac_secret, raw_body)
  if not codec.equal(given, expected) then
    return false, errors.new("auth", "X-Sinch-Signature does not match the body and the hmacSecret")
  end
  return true
end

--- Finds X-Sinch-Signature in a headers table, whatever its case, and checks it.
-- Takes the tables that `ngx.req.get_headers()`, luasocket and most servers
-- give; a header sent twice is refused rather than guessed at.
-- @tparam table headers header names to values
-- @tparam string raw_body the request body exactly as received
-- @tparam string hmac_secret the project's callback hmacSecret
-- @return as `verify_signature`
function webhooks.verify_request(headers, raw_body, hmac_secret)
  if type(headers) ~= "table" then
    return false, errors.invalid_argument("headers must be a table of header names to values", "headers")
  end
  local signature
  -- Raw: a framework's headers table may have a metatable of its own.
  for name, value in next, headers do
    if type(name) == "string" and name:lower() == SIGNATURE_HEADER then
      if signature ~= nil or type(value) == "table" then
        return false, errors.new("auth", "the request has more than one X-Sinch-Signature header")
      end
      signature = value
    end
  end
  return webhooks.verify_signature(raw_body, signature, hmac_secret)
end

--- Seconds since the Unix epoch of an ISO 8601 timestamp. Sinch sends its
-- event timestamps without a zone; they are UTC. An explicit `Z` or offset
-- is honoured.
-- @function unix_time
-- @tparam string timestamp e.g. "2026-11-27T10:15:30.125"
-- @treturn number|nil seconds, with the fraction; nil when it is not a timestamp
webhooks.unix_time = time.parse_iso8601

--- Decodes a number event from its raw body.
-- The event keeps Sinch's field names (eventId, timestamp, projectId,
-- resourceId, resourceType, eventType, status, failureCode, ...) and gains
-- `unix_time`: the timestamp read as UTC, in seconds since the epoch.
-- Events of number orders have `resourceType = "NUMBER_ORDER"`, the order's
-- id as `resourceId`, `eventType = "NUMBER_ORDER_PROCESSING"` and the order's
-- `status` (`IN_REVIEW`, `BLOCKED`, `COMPLETED`, `REJECTED`, `EXPIRED`).
-- Types and values it does not know are kept as they are.
-- Verify the signature first.
-- @tparam string raw_body the request body
-- @treturn[1] table the event
-- @treturn[2] nil
-- @treturn[2] table an error of kind `decode` (or `invalid_argument`)
function webhooks.parse_event(raw_body)
  if type(raw_body) ~= "string" then
    return nil, errors.invalid_argument("raw_body must be the request body as a string", "raw_body")
  end
  local event, problem = json.decode(raw_body)
  if type(event) ~= "table" or not raw_body:find("^%s*{") then
    return nil, errors.new("decode", "the event is not a JSON object" .. (problem and (": " .. problem) or ""))
  end
  if event.timestamp ~= nil then
    event.unix_time = webhooks.unix_time(event.timestamp)
    if not event.unix_time then
      return nil, errors.new("decode", "the event's timestamp is not an ISO 8601 date and time: "
        .. tostring(event.timestamp))
    end
  end
  return event
end

return webhooks
