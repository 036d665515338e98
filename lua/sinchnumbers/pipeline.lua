-- The request pipeline, and the one place that holds policy: which failures
-- are tried again and after how long (backoff with full jitter, Retry-After),
-- the token refresh on a 401 that says "expired", how answers map onto error
-- kinds, and what to do when renting ends without a clear answer.
-- It is transport-agnostic: everything goes through client._transport.
--
-- The client fields it uses: _transport, _timeouts, _max_retries, _sleep,
-- _clock, _auth (see auth.lua).

local errors = require "sinchnumbers.errors"
local json = require "sinchnumbers.json"

local null = json.null
local floor, min, random = math.floor, math.min, math.random

local pipeline = {}

-- Answers that say "not now" rather than "no".
local RETRYABLE_STATUS = { [429] = true, [502] = true, [503] = true, [504] = true }
-- Transport failures that may pass on a second try (not too_large, not a bad URL).
local RETRYABLE_TRANSPORT_KIND = { network = true, timeout = true }
-- Backoff before retry n (from 0): a random time up to min(CAP, BASE * 2^n).
local BACKOFF_BASE, BACKOFF_CAP = 0.5, 8
-- A Retry-After longer than this is not waited for: the error goes back to
-- the caller with err.retry_after set, to decide.
local RETRY_AFTER_CEILING = 30

local NO_HEADERS = {}

local KIND_BY_STATUS = { [401] = "auth", [403] = "auth", [404] = "not_found", [429] = "rate_limited" }

local MONTHS = {
  jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
  jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12,
}

-- Days since 1970-01-01 of a date in the proleptic Gregorian calendar
-- (H. Hinnant's days_from_civil), so HTTP dates need no time zone handling.
local function days_since_epoch(year, month, day)
  if month <= 2 then year = year - 1 end
  local era = floor(year / 400)
  local year_of_era = year - era * 400
  local day_of_year = floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1
  local day_of_era = year_of_era * 365 + floor(year_of_era / 4) - floor(year_of_era / 100) + day_of_year
  return era * 146097 + day_of_era - 719468
end

-- Retry-After is either seconds ("120") or an HTTP date
-- ("Wed, 21 Oct 2015 07:28:00 GMT"). Returns seconds from now, or nil.
function pipeline.parse_retry_after(value, now)
  if type(value) ~= "string" then return nil end
  local seconds = value:match("^%s*(%d+)%s*$")
  if seconds then return tonumber(seconds) end
  local day, month, year, hour, minute, second =
    value:match("^%s*%a+,%s*(%d%d?)%s+(%a%a%a)%s+(%d%d%d%d)%s+(%d%d):(%d%d):(%d%d)%s+GMT%s*$")
  month = month and MONTHS[month:lower()]
  if not month then return nil end
  local at = days_since_epoch(tonumber(year), month, tonumber(day)) * 86400
    + tonumber(hour) * 3600 + tonumber(minute) * 60 + tonumber(second)
  return at > now and at - now or 0
end

local function present(value)
  if value == null then return nil end
  return value
end

-- An answer that is not 2xx, as an error object. The body may be Sinch's
-- {"error":{code,message,status,details}}, the token endpoint's
-- {"error":"...","error_description":"..."}, or anything else.
local function answer_failure(client, status, headers, body, idempotent, from_token_endpoint)
  local failure = {
    status = status,
    retryable = (idempotent and RETRYABLE_STATUS[status]) or false,
    retry_after = pipeline.parse_retry_after(headers["retry-after"], client._clock()),
  }
  local message
  local decoded = json.decode(body)
  local problem = type(decoded) == "table" and present(decoded.error)
  if type(problem) == "table" then
    failure.code, failure.reason = present(problem.code), present(problem.status)
    failure.details = present(problem.details)
    message = present(problem.message)
    if type(failure.reason) == "string" and type(message) == "string" then
      message = failure.reason .. ": " .. message
    end
  elseif type(problem) == "string" then
    failure.code = problem
    local description = present(decoded.error_description)
    message = description and problem .. ": " .. tostring(description) or problem
  end
  if type(message) ~= "string" then
    message = body ~= "" and body:sub(1, 200) or "(empty body)"
  end
  message = "HTTP " .. status .. " " .. message
  local kind = KIND_BY_STATUS[status] or "http"
  if from_token_endpoint then
    -- Whatever went wrong there, the caller's problem is authentication,
    -- unless the token endpoint only asked us to slow down.
    if kind ~= "rate_limited" then kind = "auth" end
    message = "could not get an access token: " .. message
  end
  return errors.new(kind, message, failure)
end

-- A transport's failure as an error object. Our own transports give
-- { kind, message, sent, curl_code }; a user's may give a plain string.
local function transport_failure(problem, idempotent)
  local failure, kind, message = {}, "network", tostring(problem)
  if type(problem) == "table" then
    kind, message = problem.kind or kind, problem.message or "the transport failed"
    failure.sent, failure.curl_code = problem.sent, problem.curl_code
  end
  -- A request that never left can be sent again even when it rents a number.
  failure.retryable = RETRYABLE_TRANSPORT_KIND[kind] and (idempotent or failure.sent == false) or false
  return errors.new(kind, message, failure)
end

-- Seconds to wait before the next try, or nil for "do not try again".
local function retry_delay(client, failure, retries_done)
  if not failure.retryable or retries_done >= client._max_retries then return nil end
  local asked = failure.retry_after
  if asked then
    if asked > RETRY_AFTER_CEILING then return nil end
    return asked
  end
  return random() * min(BACKOFF_CAP, BACKOFF_BASE * 2 ^ retries_done)
end

local function decode_answer(status, body)
  if body == "" then return {} end
  local decoded, problem = json.decode(body)
  if type(decoded) == "table" then return decoded end
  return nil, errors.new("decode", decoded == nil
    and "the answer is not valid JSON: " .. tostring(problem)
    or "the answer is JSON but not an object", { status = status })
end

-- Sends one request, trying again as the policy allows, and returns the
-- decoded JSON object of a 2xx answer, or nil, err.
-- `token_headers` is given for the token endpoint itself (no bearer token
-- to add, no refresh on 401).
local function exchange(client, method, url, body, idempotent, token_headers)
  local attempts, retries, refreshed = 0, 0, false
  while true do
    attempts = attempts + 1
    local headers, failure = token_headers, nil
    if not headers then
      headers, failure = client._auth.headers(body ~= nil)
      if not headers then return nil, failure end
    end
    local status, answer_headers, answer_body =
      client._transport:request(method, url, headers, body, client._timeouts)
    if not status then
      failure = transport_failure(answer_headers, idempotent)
    else
      -- A user's transport may leave these out for an empty answer.
      answer_headers, answer_body = answer_headers or NO_HEADERS, answer_body or ""
      if status >= 200 and status < 300 then
        local decoded
        decoded, failure = decode_answer(status, answer_body)
        if decoded then return decoded end
      elseif status == 401 and not (refreshed or token_headers)
          and client._auth.expired(answer_headers, headers) then
        -- The token ran out between our check and the server's: one more try
        -- with a new one, which is not counted as a retry.
        refreshed = true
      else
        failure = answer_failure(client, status, answer_headers, answer_body, idempotent, token_headers ~= nil)
      end
    end
    if failure then
      failure.method, failure.url, failure.attempts = method, url, attempts
      local delay = retry_delay(client, failure, retries)
      if not delay then return nil, failure end
      retries = retries + 1
      client._sleep(delay)
    end
  end
end

-- For the token endpoint (auth.lua): same retries, token endpoint errors.
function pipeline.exchange_token(client, url, headers, body)
  return exchange(client, "POST", url, body, true, headers)
end

-- Did the request perhaps take effect although we got no clear answer?
-- (A 5xx, a 2xx we could not read, or a transport failure after sending.)
local function outcome_unclear(failure)
  if failure.status then return failure.status >= 500 or failure.kind == "decode" end
  return failure.sent ~= false and RETRYABLE_TRANSPORT_KIND[failure.kind] ~= nil
end

-- After an unclear failure of a call that must not be repeated blindly,
-- ask the service once whether it took effect, and say so in the error.
local function confirm(client, endpoint, path_value, failure)
  local check = endpoint.confirm_with
  if not check then
    failure.message = failure.message .. "; " .. endpoint.name
      .. " may or may not have taken effect: look with list_active_numbers before trying again"
    return
  end
  local found, check_failure = client[check](client, path_value)
  if found then
    failure.rented = true
    failure.message = failure.message .. "; but " .. check .. " shows " .. path_value
      .. " is now in the project: it was rented"
  elseif check_failure.kind == "not_found" then
    failure.rented = false
    failure.message = failure.message .. "; " .. check .. " shows " .. path_value
      .. " is not in the project: it was not rented, and trying again is safe"
  else
    failure.message = failure.message .. "; whether " .. path_value .. " was rented is unknown ("
      .. check .. " failed too: " .. check_failure.message .. "): call " .. check
      .. " before renting it again"
  end
end

-- Runs one endpoint call: url and body are built and checked already.
function pipeline.call(client, endpoint, url, body, path_value)
  local result, failure = exchange(client, endpoint.method, url, body, endpoint.idempotent)
  if result then return result end
  if not endpoint.idempotent and outcome_unclear(failure) then
    confirm(client, endpoint, path_value, failure)
  end
  return nil, failure
end

return pipeline
