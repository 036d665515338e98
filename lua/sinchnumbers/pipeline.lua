-- The request pipeline, and the one place that holds policy: which failures
-- are tried again and after how long (backoff with full jitter, Retry-After),
-- the token refresh on a 401 that says "expired", how answers map onto error
-- kinds, and what to do when renting ends without a clear answer.
-- It is transport-agnostic: everything goes through its transport.
--
-- A pipeline is made once per client, from exactly its parts (see
-- pipeline.new), and runs two kinds of request description: an endpoint's
-- prepared request (see request.prepare), whose credentials come from the
-- auth object, and a request that brings its own (the token request that
-- auth.lua describes, see Pipeline:send).

local budget = require "sinchnumbers.budget"
local contract = require "sinchnumbers.transport.contract"
local errors = require "sinchnumbers.errors"
local json = require "sinchnumbers.json"
local log = require "sinchnumbers.log"
local request = require "sinchnumbers.request"
local time = require "sinchnumbers.time"

local null = json.null
local floor, max, min = math.floor, math.max, math.min
local byte, find, gsub, sub = string.byte, string.find, string.gsub, string.sub

local pipeline = {}

local Pipeline = {}
Pipeline.__index = Pipeline

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

-- A URL longer than the contract's limit is refused before it goes to any
-- transport (a caller's own one included), with the endpoint's name.
local MAX_URL_BYTES = contract.MAX_URL_BYTES

-- A try needs at least this long (a transport's timeout is whole milliseconds).
local SHORTEST_TRY = 0.001

-- How much of an answer body an error message quotes.
local QUOTED_BYTES = 200

local KIND_BY_STATUS = { [401] = "auth", [403] = "auth", [404] = "not_found", [429] = "rate_limited" }

-- Headers that name a request in the service's logs, the first one found
-- becoming err.request_id (what to quote to Sinch's support).
local REQUEST_ID_HEADERS = { "x-request-id", "x-correlation-id", "traceparent" }

local function request_id(headers)
  for _, name in ipairs(REQUEST_ID_HEADERS) do
    if headers[name] then return headers[name] end
  end
end

-- The jitter's random numbers come from a generator of our own (Park and
-- Miller's "minimal standard": exact in doubles and integers alike, so the
-- same on every Lua), not from math.random. On 5.1-5.3 and LuaJIT
-- math.random starts from the same seed in every process until someone
-- seeds it, so every process would back off in step; and seeding it here
-- would change the sequence of an application that seeded it itself. Ours
-- is seeded on the first draw rather than at load, so nginx workers forked
-- after an init_by_lua `require` still differ (by their pid).
local MODULUS, MULTIPLIER = 2147483647, 16807
local jitter_state

local function jitter_seed()
  local address = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
  local ngx = rawget(_G, "ngx")
  local pid = ngx and ngx.worker and ngx.worker.pid and ngx.worker.pid() or 0
  local mixed = os.time() + address % MODULUS + pid * 7919 + floor(os.clock() * 1e6)
  jitter_state = mixed % (MODULUS - 1) + 1
  -- Nearby seeds give nearby first draws; a few rounds spread them apart.
  for _ = 1, 4 do jitter_state = (jitter_state * MULTIPLIER) % MODULUS end
end

-- A number in (0, 1).
local function jitter()
  if not jitter_state then jitter_seed() end
  jitter_state = (jitter_state * MULTIPLIER) % MODULUS
  return jitter_state / MODULUS
end

-- Retry-After is either seconds ("120") or an HTTP date
-- ("Wed, 21 Oct 2015 07:28:00 GMT"). Returns seconds from now, or nil.
function pipeline.parse_retry_after(value, now)
  if type(value) ~= "string" then return nil end
  local seconds = value:match("^%s*(%d+)%s*$")
  if seconds then return tonumber(seconds) end
  local at = time.parse_http_date(value)
  if not at then return nil end
  return at > now and at - now or 0
end

local function present(value)
  if value == null then return nil end
  return value
end

-- "authorization" -> "[Aa][Uu]...": Lua patterns have no case-blind match.
local function caseless(word)
  return (gsub(word, "%a", function(letter) return "[" .. letter:upper() .. letter:lower() .. "]" end))
end

-- A server that echoes the request (a proxy's error page, a debugging
-- endpoint) would put our credentials into err.message. The values of these
-- fields are blanked, in headers, JSON and forms alike, and so are
-- credentials after "Bearer" or "Basic" anywhere (long enough to be one:
-- "Basic authentication is rate-limited" stays as it is).
local CREDENTIAL_FIELDS, CREDENTIAL_SCHEMES = {}, {}
for _, name in ipairs { "authorization", "access_token", "client_secret", "key_secret", "hmacsecret" } do
  CREDENTIAL_FIELDS[#CREDENTIAL_FIELDS + 1] = "(" .. caseless(name) .. "[\"']?%s*[:=]%s*)[^\r\n&,}]+"
end
for _, scheme in ipairs { "bearer", "basic" } do
  CREDENTIAL_SCHEMES[#CREDENTIAL_SCHEMES + 1] = "(" .. caseless(scheme) .. "%s+)([%w%-._~+/]+=*)"
end
local SHORTEST_CREDENTIAL = 16

local function blank_credential(scheme, value)
  if #value >= SHORTEST_CREDENTIAL then return scheme .. "[redacted]" end
end

-- Text from an answer, fit to be quoted in an error message.
local function quoted(text)
  for _, pattern in ipairs(CREDENTIAL_FIELDS) do text = gsub(text, pattern, "%1[redacted]") end
  for _, pattern in ipairs(CREDENTIAL_SCHEMES) do text = gsub(text, pattern, blank_credential) end
  return text
end

-- The same redaction for text of the caller's own that may hold
-- credentials (the command line's --debug and --dry-run output).
pipeline.redact = quoted

-- An answer that is not 2xx, as an error object. The body may be Sinch's
-- {"error":{code,message,status,details}}, the token endpoint's
-- {"error":"...","error_description":"..."}, or anything else.
local function answer_failure(self, status, headers, body, idempotent, failures_are)
  local failure = {
    status = status,
    retryable = (idempotent and RETRYABLE_STATUS[status]) or false,
    retry_after = pipeline.parse_retry_after(headers["retry-after"], self.clock()),
    -- The transport's own table (lower-case names), made anew for each answer.
    headers = headers ~= NO_HEADERS and headers or {},
    request_id = request_id(headers),
  }
  local message
  local decoded = json.decode(body)
  local problem = type(decoded) == "table" and present(decoded.error)
  if type(problem) == "table" then
    failure.code, failure.reason = present(problem.code), present(problem.status)
    failure.details = present(problem.details)
    message = present(problem.message)
  elseif type(problem) == "string" then
    failure.code = problem
    local description = present(decoded.error_description)
    message = description and tostring(description) or problem
  end
  if type(message) == "string" then
    message = quoted(message)
  elseif body == "" then
    message = "(empty body)"
  else
    -- Redacted before it is cut, so that no cut leaves half a secret behind.
    message = sub(quoted(sub(body, 1, 2 * QUOTED_BYTES)), 1, QUOTED_BYTES)
  end
  local kind = KIND_BY_STATUS[status] or "http"
  -- A request may say what its failures mean to the caller (the token
  -- request: authentication), unless the service only asked us to slow down.
  if failures_are and kind ~= "rate_limited" then kind = failures_are end
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

local function backoff(retries_done)
  return jitter() * min(BACKOFF_CAP, BACKOFF_BASE * 2 ^ retries_done)
end

-- Seconds to wait before the next try, or nil for "do not try again".
local function retry_delay(self, failure, retries_done)
  if not failure.retryable or retries_done >= self.max_retries then return nil end
  local asked = failure.retry_after
  if asked then
    if asked > RETRY_AFTER_CEILING then return nil end
    return asked
  end
  return backoff(retries_done)
end

-- How long a 429 pauses every request of the client (see budget.lua): as
-- long as this request waits before its retry, or, when it is not tried
-- again, its Retry-After (up to the ceiling) or the backoff.
local function pause_after_429(failure, retries_done, delay)
  if delay then return delay end
  local asked = failure.retry_after
  return asked and min(asked, RETRY_AFTER_CEILING) or backoff(retries_done)
end

-- Did the request perhaps take effect although we got no clear answer?
-- (A 5xx, a 2xx we could not read, or any transport failure after sending:
-- an answer that timed out, was garbled or was too large to read alike.)
local function outcome_unclear(failure)
  if failure.sent == false then return false end
  if failure.status then return failure.status >= 500 or failure.kind == "decode" end
  return true
end
-- The command line's rule for exit code 7 (outcome unknown) is this one.
pipeline.outcome_unclear = outcome_unclear

-- The request headers as on_request sees them: the credentials blanked out.
local function redacted(headers)
  local copy = {}
  for name, value in pairs(headers) do
    copy[name] = (type(name) == "string" and name:lower() == "authorization") and "[redacted]" or value
  end
  return copy
end

-- What the caller's logger gets: the message redacted like an error's
-- (it may quote an answer); a logger that raises is logged and ignored.
local function note(self, level, message, fields)
  local ok, problem = pcall(self.logger, level, quoted(message), fields)
  if not ok then log.hook_failed("logger", problem) end
end

-- For the client's own messages (a value strict = false let through):
-- the caller asks self.logging[level] first, so that an unused message is
-- never built.
function Pipeline:note(level, message, fields)
  note(self, level, message, fields)
end

-- A failing hook must not fail the call it watches (nor hide its result).
-- One attempt, at debug level.
local function attempt_note(self, method, url, started, attempt, status, body, failure)
  local fields = {
    method = method, url = url, status = status, duration = self.precise_clock() - started,
    attempt = attempt, bytes = status and #body or nil, error = failure and failure.kind,
  }
  local outcome = status and "HTTP " .. status or failure.kind .. ": " .. errors.summary(failure)
  note(self, "debug", ("%s %s: %s in %.3f s (attempt %d)"):format(method, url, outcome, fields.duration, attempt),
    fields)
end

local function report(self, method, url, headers, started, attempt, status, failure)
  local ok, problem = pcall(self.on_request, {
    method = method,
    url = url,
    status = status,
    duration = self.precise_clock() - started,
    attempt = attempt,
    error = failure,
    headers = redacted(headers),
  })
  if not ok then log.hook_failed("on_request hook", problem) end
end

-- The auth object's headers (shared, never changed) with a body's own
-- Content-Type, such as a multipart upload's with its boundary.
local function with_content_type(headers, content_type)
  local copy = {}
  for name, value in pairs(headers) do copy[name] = value end
  copy["Content-Type"] = content_type
  return copy
end

-- Every endpoint answers a JSON object; an array or a string decodes to
-- a Lua value too, so the first character tells them apart.
local function decode_answer(status, body)
  local decoded, problem = json.decode(body)
  if type(decoded) == "table" and (byte(body) == 123 or find(body, "^%s*{")) then return decoded end
  local message
  if body == "" then
    message = "the answer is empty, where a JSON object was expected"
  elseif decoded == nil then
    message = "the answer is not valid JSON: " .. tostring(problem)
  else
    message = "the answer is JSON but not an object"
  end
  -- Not retried: an answer did arrive, and would most likely be the same.
  return nil, errors.new("decode", message, { status = status, retryable = false })
end

-- The token endpoint failed, so the request itself never went out: the
-- caller needs to know that first (and no confirmation is needed). A copy,
-- since the token's error may be handed to more than one call.
local function without_token(failure, attempts)
  local fields = {}
  for name, value in pairs(failure) do fields[name] = value end
  fields.sent = false
  local err = errors.new(failure.kind, failure.message, fields)
  return errors.add_hint(err, "could not get an access token; "
    .. (attempts == 1 and "nothing was sent" or "the request was not sent again"))
end

local function deadline_words(self)
  return "the call's deadline of " .. self.deadline .. " s"
end

-- What a request waits for in the rate budget, by budget:take's reason.
local WAITING_FOR = {
  pause = function() return "the pause after the service answered 429 (Too Many Requests)" end,
  rate = function(self) return "the rate budget (rate_limit = " .. self.budget.limit .. " requests per second)" end,
}

-- Waits (with self.sleep, which yields in map's tasks) until the client's
-- rate budget lets a request start. `slept_until` is when the request's own
-- wait before this try ended (its retry delay). Returns nothing, or the
-- error when the wait would pass the call's deadline.
--
-- A sleep is taken at its word: once it returns, its time counts as passed
-- even when the clock says less (a test's sleep that records waits instead
-- of waiting), so no wait is made twice, nor spun through.
local function wait_for_turn(self, ends_at, method, url, attempts, slept_until)
  local rate_budget = self.budget
  local now = self.precise_clock()
  if slept_until and slept_until > now then now = slept_until end
  while true do
    local wait, why = rate_budget:take(now)
    if wait == 0 then return end
    if ends_at and now + wait + SHORTEST_TRY >= ends_at then
      return errors.new("timeout", ("%s would pass while waiting %.3f s for %s: nothing was sent"):format(
        deadline_words(self), wait, WAITING_FOR[why](self)),
        { sent = false, retryable = false, method = method, url = url, attempts = attempts })
    end
    self.sleep(wait)
    now = max(self.precise_clock(), now + wait)
  end
end

-- The call's timeouts with `idempotent = true`, made once for each table of
-- them: an idempotent request may ride a kept-alive connection (the
-- transport contract's "Sending again").
local idempotent_options = setmetatable({}, { __mode = "k" })

local function idempotent_timeouts(timeouts)
  local options = idempotent_options[timeouts]
  if not options then
    options = { timeout = timeouts.timeout, connect_timeout = timeouts.connect_timeout, idempotent = true }
    idempotent_options[timeouts] = options
  end
  return options
end

-- The request options of one try: the client's timeouts, or less when the
-- call's deadline is nearer, and whether the request is idempotent. Returns
-- nil when no time is left for a try.
local function try_timeouts(self, ends_at, idempotent)
  local timeouts = self.timeouts
  local left = ends_at and ends_at - self.precise_clock()
  if left and left < SHORTEST_TRY then return nil end
  if not left or (left >= timeouts.timeout and left >= timeouts.connect_timeout) then
    return idempotent and idempotent_timeouts(timeouts) or timeouts
  end
  return { timeout = min(timeouts.timeout, left), connect_timeout = min(timeouts.connect_timeout, left), cut = true,
    idempotent = idempotent or nil }
end

-- Sends one request, trying again as the policy allows, and returns the
-- decoded JSON object of a 2xx answer, or nil, err. `described` says what
-- the request is: its method, whether it is idempotent, and, for a request
-- that brings its own credentials (the token request), its `headers` (then
-- no bearer token is added and a 401 is no reason to refresh one) and what
-- its failures are to the caller (`failures_are`). `ends_at` is the call's
-- deadline, if any, on precise_clock.
local function send_with_retries(self, described, url, body, ends_at, content_type)
  local method, idempotent, own_headers = described.method, described.idempotent, described.headers
  local attempts, retries, refreshed, unclear_before = 0, 0, false, false
  local slept_until
  local on_request, logging = self.on_request, self.logging
  while true do
    attempts = attempts + 1
    local headers, failure = own_headers, nil
    if not headers then
      headers, failure = self.auth.headers(body ~= nil, ends_at, self)
      if not headers then return nil, without_token(failure, attempts) end
      if content_type then headers = with_content_type(headers, content_type) end
    end
    local late = wait_for_turn(self, ends_at, method, url, attempts, slept_until)
    if late then return nil, late end
    local timeouts = try_timeouts(self, ends_at, idempotent)
    if not timeouts then
      return nil, errors.new("timeout", deadline_words(self) .. " ran out before the request was sent",
        { sent = false, retryable = false, method = method, url = url, attempts = attempts })
    end
    local started = (on_request or logging.debug) and self.precise_clock()
    local status, answer_headers, answer_body =
      self.transport:request(method, url, headers, body, timeouts)
    if not status then
      failure = transport_failure(answer_headers, idempotent)
      if timeouts.cut and failure.kind == "timeout" then
        errors.add_hint(failure, "cut short by " .. deadline_words(self))
      end
    else
      -- A user's transport may leave these out for an empty answer.
      answer_headers, answer_body = answer_headers or NO_HEADERS, answer_body or ""
      if status >= 200 and status < 300 then
        local decoded
        decoded, failure = decode_answer(status, answer_body)
        if decoded then
          if logging.debug then attempt_note(self, method, url, started, attempts, status, answer_body) end
          if on_request then report(self, method, url, headers, started, attempts, status) end
          return decoded
        end
      elseif status == 401 and not (refreshed or own_headers)
          and self.auth.expired(answer_headers, headers) then
        -- The token ran out between our check and the server's: one more try
        -- with a new one, which is not counted as a retry.
        refreshed = true
        if logging.info then
          note(self, "info", "the service says the access token expired: trying once more with a new one",
            { method = method, url = url })
        end
      else
        failure = answer_failure(self, status, answer_headers, answer_body, idempotent, described.failures_are)
      end
    end
    if failure then
      failure.method, failure.url, failure.attempts = method, url, attempts
      if failure.status == 404 and unclear_before and method ~= "GET" then
        -- A release that went through, then lost its answer, is not_found
        -- when tried again: say so rather than leave the caller puzzled.
        errors.add_hint(failure, "an earlier attempt ended without a clear answer and may have taken effect")
      end
    end
    if logging.debug then attempt_note(self, method, url, started, attempts, status, answer_body, failure) end
    if on_request then report(self, method, url, headers, started, attempts, status, failure) end
    if failure then
      local delay = retry_delay(self, failure, retries)
      if failure.status == 429 then
        self.budget:pause(self.precise_clock(), pause_after_429(failure, retries, delay))
      end
      if not delay then return nil, failure end
      if ends_at and self.precise_clock() + delay + SHORTEST_TRY >= ends_at then
        errors.add_hint(failure, "not tried again: " .. deadline_words(self) .. " would pass first")
        return nil, failure
      end
      unclear_before = unclear_before or outcome_unclear(failure)
      retries = retries + 1
      if logging.info then
        note(self, "info", ("trying %s %s again in %.3f s (retry %d of %d): %s"):format(method, url, delay, retries,
          self.max_retries, errors.summary(failure)), { method = method, url = url, attempt = attempts, delay = delay })
      end
      slept_until = self.precise_clock() + delay
      self.sleep(delay)
    end
  end
end

-- Sends a request that brings its own credentials, such as auth.lua's
-- token request { method, url, headers, body, idempotent, failures_are }:
-- the same retries, within the deadline of the call that needs it.
function Pipeline:send(described, ends_at)
  if self.logging.info then
    note(self, "info", "requesting an access token from " .. described.url, { url = described.url })
  end
  return send_with_retries(self, described, described.url, described.body, ends_at)
end

-- After an unclear failure of a call that must not be repeated blindly,
-- ask the service once whether it took effect (the prepared confirmation,
-- which takes the same path value), and say so in the error. The question
-- is part of the call, so it has what is left of its deadline.
local function confirm(self, prepared, path_value, failure, ends_at)
  local check = prepared.confirmation
  if not check then
    errors.add_hint(failure, prepared.plan.name .. " may or may not have taken effect: " .. prepared.plan.if_unclear)
    return
  end
  local name = check.plan.name
  local url = request.build(check.plan, check.url_prefix, nil, path_value)
  local found, check_failure = self:call(check, url, nil, nil, path_value, ends_at)
  if found then
    failure.rented = true
    errors.add_hint(failure, "but " .. name .. " shows " .. path_value .. " is now in the project: it was rented")
  elseif check_failure.kind == "not_found" then
    failure.rented = false
    errors.add_hint(failure, name .. " shows " .. path_value
      .. " is not in the project: it was not rented, and trying again is safe")
  else
    errors.add_hint(failure, "whether " .. path_value .. " was rented is unknown (" .. name .. " failed too: "
      .. errors.summary(check_failure) .. "): call " .. name .. " before renting it again")
  end
end

-- Runs one endpoint call of a prepared request (request.prepare): url and
-- body (and the body's content type, when it is not JSON) are built and
-- checked already; path_value is the first path placeholder's. `ends_at` is
-- given for a call made on behalf of another (the confirmation).
function Pipeline:call(prepared, url, body, content_type, path_value, ends_at)
  local plan = prepared.plan
  if self.closed then
    return nil, errors.invalid_argument(plan.name .. ": the client is closed (client:close() was called):"
      .. " nothing was sent; make a new client")
  end
  if #url > MAX_URL_BYTES then
    return nil, errors.invalid_argument(("%s: the URL would be %d bytes long, above the limit of %d"
      .. " (is a parameter such as pageToken far too long?)"):format(plan.name, #url, MAX_URL_BYTES))
  end
  if not ends_at and self.deadline then ends_at = self.precise_clock() + self.deadline end
  local result, failure = send_with_retries(self, plan, url, body, ends_at, content_type)
  if result then return result end
  if not plan.idempotent and outcome_unclear(failure) then
    confirm(self, prepared, path_value, failure, ends_at)
    if self.logging.warn then
      note(self, "warn", plan.name .. " ended without a clear answer: " .. errors.summary(failure),
        { method = failure.method, url = failure.url, rented = failure.rented })
    end
  elseif plan.if_refused and failure.status == 400 and failure.reason == "FAILED_PRECONDITION" then
    errors.add_hint(failure, plan.if_refused)
  end
  return nil, failure
end

-- The pipeline for one call with call options ({ timeout, connect_timeout,
-- max_retries, deadline }, checked): this one, with what the call sets over
-- what the client set. Everything the call does (its token request and its
-- confirmation too) runs under them.
function Pipeline:for_call(options)
  local timeouts = self.timeouts
  if options.timeout or options.connect_timeout then
    timeouts = {
      timeout = options.timeout or timeouts.timeout,
      connect_timeout = options.connect_timeout or timeouts.connect_timeout,
    }
  end
  return setmetatable({ timeouts = timeouts, max_retries = options.max_retries, deadline = options.deadline },
    { __index = self })
end

-- A view of this pipeline with `fields` over its own (map's engines give
-- their tasks one with their transport and sleep); everything else, the
-- policy and its state (closed, budget, auth), is read through from here.
function Pipeline:with(fields)
  return setmetatable(fields, { __index = self })
end

-- After this every call fails at once. The transport is closed when the
-- client made it: a caller's own may serve other clients too.
function Pipeline:close()
  if self.closed then return end
  self.closed = true
  if self.owns_transport then self.transport:close() end
end

-- parts: transport (an object with request(method, url, headers, body,
-- timeouts), and close() when owns_transport says the client made it),
-- auth (see auth.lua), clock and precise_clock (seconds;
-- precise_clock reads the time anew, for durations and deadlines), sleep,
-- the retry policy (max_retries, and timeouts: { timeout, connect_timeout }
-- per try), on_request (optional hook), deadline (optional seconds per call),
-- logger with log_level (optional: see log.lua), rate_limit (optional
-- requests per second: see budget.lua) and sleep_yields (whether sleep lets
-- other light threads or tasks run meanwhile: auth.lua's lock needs it).
function pipeline.new(parts)
  return setmetatable({
    transport = parts.transport,
    owns_transport = parts.owns_transport,
    auth = parts.auth,
    clock = parts.clock,
    precise_clock = parts.precise_clock,
    sleep = parts.sleep,
    sleep_yields = parts.sleep_yields,
    budget = budget.new(parts.rate_limit),
    max_retries = parts.max_retries,
    timeouts = parts.timeouts,
    on_request = parts.on_request,
    logger = parts.logger,
    logging = log.levels_on(parts.logger, parts.log_level),
    deadline = parts.deadline,
  }, Pipeline)
end

return pipeline
