-- Error objects: plain tables with a metatable, so callers read fields
-- (err.kind, err.status, ...) and `tostring(err)` gives one useful line.
--
-- Fields, where they apply:
--   kind         invalid_argument | auth | not_found | rate_limited | http |
--                timeout | network | decode | too_large
--   message      what went wrong, in words (never a secret)
--   status       HTTP status of the answer
--   code         Sinch's numeric error code, or the OAuth2 `error` string
--   reason       Sinch's error status string ("NOT_FOUND", "INVALID_ARGUMENT", ...)
--   details      Sinch's `details` array, as decoded
--   field        the offending parameter, for invalid_argument
--   retryable    true when trying again later may succeed
--   retry_after  seconds the server asked us to wait (Retry-After)
--   method, url  the request that failed
--   attempts     how many times it was tried
--   sent         false when the request certainly never left this machine
--   rented       after an unclear failure of rent_number: whether the number
--                is in the project now (absent when that could not be checked)

local errors = {}

local Error = {}
Error.__index = Error

local function one_line(s)
  return (tostring(s):gsub("[\r\n]+", " "))
end

function Error.__tostring(err)
  local line = "sinchnumbers: " .. err.kind .. ": " .. one_line(err.message)
  if err.method and err.url then
    line = line .. " (" .. err.method .. " " .. err.url .. ")"
  end
  return line
end

-- So that `"rent failed: " .. err` (and `err .. "!"`) read like tostring(err).
function Error.__concat(left, right)
  return tostring(left) .. tostring(right)
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

return errors
