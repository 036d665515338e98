-- Error objects: plain tables with a metatable, so callers read fields
-- (err.kind, err.status, ...) and `tostring(err)` gives one useful line:
--
--   sinchnumbers: KIND: [HTTP STATUS REASON: ]MESSAGE[; HINT] [(METHOD URL)]
--
-- e.g. "sinchnumbers: not_found: HTTP 404 NOT_FOUND: Number not found (GET https://...)".
--
-- Fields, where they apply:
--   kind         invalid_argument | auth | not_found | rate_limited | http |
--                timeout | network | decode | too_large; and in client:map's
--                results only: raised (fn raised a value that is not an
--                error object) | cancelled (the item never started: an
--                earlier one failed under stop_on_error, or the client was closed)
--   message      for an answer that is not 2xx, the service's own words: Sinch's
--                error.message, the token endpoint's error_description (else
--                its error), else the body as quoted text; for any other
--                error, what went wrong, in the client's words. Never a secret.
--   hint         what the client adds about the outcome and what to do next:
--                that an unclear rent was checked and what the check showed,
--                that no access token could be had so nothing was sent, that
--                the call's deadline cut a try short or stopped the retries,
--                how to look after another unclear non-idempotent call (the
--                endpoint's if_unclear), that a refused rent needs a number order
--   status       HTTP status of the answer
--   code         Sinch's numeric error code, or the OAuth2 `error` string
--   reason       Sinch's error status string ("NOT_FOUND", "INVALID_ARGUMENT", ...)
--   details      Sinch's `details` array, as decoded
--   field        the offending parameter, for invalid_argument
--   retryable    true when trying again later may succeed
--   retry_after  seconds the server asked us to wait (Retry-After)
--   headers      the answer's headers, by lower-case name (an answer that is not 2xx)
--   request_id   the answer's x-request-id, else x-correlation-id, else
--                traceparent: what names the request in the service's logs
--   method, url  the request that failed
--   attempts     how many times it was tried
--   sent         false when the request certainly never left this machine
--   rented       after an unclear failure of rent_number: whether the number
--                is in the project now (absent when that could not be checked)
--   raised       for kind raised: the value fn raised
--
-- Raise or return, in every layer: a function that can fail because of its
-- input or the network returns nil, err (an error object made here) and
-- never raises for it; that is every client method, new(), from_env(), the
-- webhook functions and the pipeline and auth inside them. Only three things
-- raise: the page iterators (raising the error object, as io.lines does,
-- because a for loop has no place for nil, err), a mistake in the library's
-- own tables at load time (an assert), and the caller's own code (a hook, a
-- transport, a token cache) raising, which goes on to the caller unchanged
-- except for the on_request hook and the logger, whose errors are logged
-- and ignored. The
-- transport side of this rule is written in the transport contract.

local errors = {}

local Error = {}
Error.__index = Error

local function one_line(s)
  return (tostring(s):gsub("[\r\n]+", " "))
end

-- "HTTP 404 NOT_FOUND: " before the service's message; nothing for an
-- error that is not an answer's (a 2xx that would not decode has a status too).
local function answer_words(err)
  local status = err.status
  if not status or (status >= 200 and status < 300) then return "" end
  local label = err.reason or (type(err.code) == "string" and err.code) or nil
  if not label or label == err.message then return "HTTP " .. status .. " " end
  return "HTTP " .. status .. " " .. tostring(label) .. ": "
end

-- The line without its "sinchnumbers: KIND: " and request: the answer's
-- status and reason, the message and the hint.
function errors.summary(err)
  local words = answer_words(err) .. one_line(err.message)
  if err.hint then words = words .. "; " .. one_line(err.hint) end
  return words
end

function Error.__tostring(err)
  local line = "sinchnumbers: " .. err.kind .. ": " .. errors.summary(err)
  if err.method and err.url then
    line = line .. " (" .. err.method .. " " .. err.url .. ")"
  end
  return line
end

-- So that `"rent failed: " .. err` (and `err .. "!"`) read like tostring(err).
function Error.__concat(left, right)
  return tostring(left) .. tostring(right)
end

-- Is `value` an error object made here?
function errors.is(value)
  return getmetatable(value) == Error
end

-- `fields` (optional) is taken over as the error object itself.
function errors.new(kind, message, fields)
  local err = fields or {}
  err.kind = kind
  err.message = message
  return setmetatable(err, Error)
end

function errors.invalid_argument(message, field)
  return errors.new("invalid_argument", message, { field = field })
end

-- Adds the client's words to err.hint, after any there already.
function errors.add_hint(err, words)
  err.hint = err.hint and err.hint .. "; " .. words or words
  return err
end

return errors
