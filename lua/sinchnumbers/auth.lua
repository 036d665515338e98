-- Credentials and access tokens. Everything secret (the key secret, the Basic
-- credentials, access tokens and the header tables that carry them) lives in
-- the closures of the object made here, never in a field of the client, so
-- printing or dumping a client shows none of it.
--
-- OAuth2 client credentials: POST auth_url with Basic key_id:key_secret and
-- grant_type=client_credentials; the token is cached (token_cache, or a table
-- in this process) until 60 s before it expires, and dropped when the service
-- says it has expired.
--
-- A cache that can also add(key, value, ttl) (ngx.shared.DICT) may be shared
-- by many nginx workers; then one token request serves them all, through a
-- lock in the cache itself (the lua-resty-lock recipe, see shared_token).
-- Without a token_cache, the client's own cache locks the same way, so the
-- light threads of one client (or client:map's tasks) make one token
-- request between them.

local codec = require "sinchnumbers.codec"
local errors = require "sinchnumbers.errors"

local find = string.find

local auth = {}

-- Fetch a new token this long before the old one expires.
local REFRESH_MARGIN = 60
-- Sinch's documented lifetime, for a token answer that does not say.
local DEFAULT_LIFETIME = 3600
local TOKEN_REQUEST_BODY = "grant_type=client_credentials"
-- The lock for a shared token request frees itself after this many seconds,
-- so a worker that dies holding it holds up the others no longer than that.
local LOCK_TTL = 30
-- Pauses while another holds the lock: the first, doubling up to the longest.
local LOCK_FIRST_PAUSE, LOCK_LONGEST_PAUSE = 0.005, 0.1

-- A cache like ngx.shared.DICT (get, set with a ttl in seconds, set to nil
-- deletes, add), for one client, in this process. add() gives the light
-- threads of one client under OpenResty the same lock as a shared dict.
local function memory_cache(clock)
  local values, expires_at = {}, {}
  local cache = {}
  function cache.get(_, key)
    if values[key] ~= nil and expires_at[key] > clock() then return values[key] end
    return nil
  end
  function cache.set(_, key, value, ttl)
    values[key] = value
    expires_at[key] = value ~= nil and clock() + ttl or nil
    return true
  end
  function cache.add(self, key, value, ttl)
    if self:get(key) ~= nil then return false, "exists" end
    return self:set(key, value, ttl)
  end
  return cache
end

-- A shared cache (Redis) that fails is a miss; then the token this client
-- fetched is served from a cache of its own, so that an outage costs one
-- token request per client, not one per call. The lock stays the shared
-- cache's alone: own:set of a lock's key only ever deletes it.
local function with_own_copy(shared, own)
  return {
    get = function(_, key)
      local value, problem = shared:get(key)
      if value == nil and problem ~= nil then return own:get(key) end
      return value
    end,
    set = function(_, key, value, ttl)
      own:set(key, value, ttl)
      return shared:set(key, value, ttl)
    end,
    add = function(_, key, value, ttl) return shared:add(key, value, ttl) end,
  }
end

-- What a lock holder writes into the lock, so that a waiter can tell a
-- holder in its own process from one elsewhere: the nginx worker's pid, or
-- outside nginx a name made once per process.
local process_name
local function this_process()
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.worker and ngx.worker.pid then return ngx.worker.pid() end
  process_name = process_name or ("%s:%d:%.6f"):format(tostring({}), os.time(), os.clock())
  return process_name
end

-- The User-Agent is the transport's business: libcurl and the cosocket
-- transport each send the one they were made with.
local function request_headers(authorization, content_type)
  return {
    ["Authorization"] = authorization,
    ["Accept"] = "application/json",
    ["Content-Type"] = content_type,
  }
end

-- options: mode ("oauth2" | "basic"), key_id, key_secret, auth_url,
-- token_cache, token_cache_locks (whether it has add()), clock, fresh_clock
-- (the same time read anew, which ngx.now() is not: it bounds the wait for a
-- lock in real time, also while the event loop does not run).
--
-- The object's methods:
--   headers(with_body, ends_at, pipeline) -> the header table for an API
--     request, or nil, err. A token it has to fetch is fetched with
--     pipeline:send(token request), under the pipeline's retry policy and
--     within the deadline of the call that needs it (ends_at, if any, on
--     fresh_clock). While another holds the lock for the token request it
--     waits with pipeline.sleep: in map's tasks, and with ngx.sleep, that
--     sleep yields (pipeline.sleep_yields), so the holder goes on meanwhile.
--   expired(answer_headers, used_headers) -> true when a 401 says the token
--     used has expired (it is then dropped from the cache so the next
--     headers() fetches a new one)
function auth.new(options)
  local basic = "Basic " .. codec.base64(options.key_id .. ":" .. options.key_secret)

  if options.mode == "basic" then
    local plain = request_headers(basic)
    local with_json = request_headers(basic, "application/json")
    return {
      headers = function(with_body) return with_body and with_json or plain end,
      expired = function() return false end,
    }
  end

  local auth_url = options.auth_url
  local clock, fresh_clock = options.clock, options.fresh_clock or options.clock
  local cache = options.token_cache and with_own_copy(options.token_cache, memory_cache(clock))
    or memory_cache(clock)
  local shared_locks = options.token_cache_locks
  -- Our own cache is shared only by light threads or tasks, which take turns
  -- through a sleep that yields; without one, nobody can be waiting for its lock.
  local own_cache_locks = options.token_cache == nil
  -- Names the token without revealing the secret, so a cache shared between
  -- processes (or nginx workers) keeps tokens of different keys apart.
  local cache_key = "sinchnumbers:token:"
    .. codec.hmac_sha1_hex(options.key_secret, auth_url .. "\n" .. options.key_id)
  -- The token request brings its own credentials, and whatever goes wrong
  -- with it is an authentication problem to the caller.
  local token_request = {
    method = "POST", url = auth_url, body = TOKEN_REQUEST_BODY, idempotent = true,
    headers = request_headers(basic, "application/x-www-form-urlencoded"),
    failures_are = "auth",
  }

  -- Header tables are built once per token and shared by every request that
  -- uses it; nothing changes them afterwards.
  local current_token, plain, with_json

  local function fetch_token(ends_at, pipeline)
    local answer, err = pipeline:send(token_request, ends_at)
    if not answer then return nil, err end
    local token, lifetime = answer.access_token, tonumber(answer.expires_in) or DEFAULT_LIFETIME
    if type(token) ~= "string" or token == "" then
      return nil, errors.new("auth", "the token endpoint answered without an access_token",
        { method = "POST", url = auth_url })
    end
    -- It goes into a header line, where a CR or LF would split the request:
    -- refused here, and not cached for its lifetime.
    if find(token, "[%c ]") then
      return nil, errors.new("auth", "the token endpoint answered with an access_token that cannot be sent"
        .. " in a header (it holds a control character or a space)", { method = "POST", url = auth_url })
    end
    local ttl = lifetime - REFRESH_MARGIN
    if ttl <= 0 then ttl = lifetime / 2 end
    if ttl > 0 then cache:set(cache_key, token, ttl) end
    return token
  end

  local lock_key = cache_key .. ":lock"

  -- With the lock held: look again, since the previous holder may have
  -- stored a token just now, else fetch one. The lock goes on every way
  -- out, a raise included (which then goes on to the caller).
  local function fetch_holding_lock(ends_at, pipeline)
    local ok, token, err = pcall(function()
      local cached = cache:get(cache_key)
      if cached then return cached end
      return fetch_token(ends_at, pipeline)
    end)
    cache:set(lock_key, nil)
    if not ok then error(token, 0) end
    return token, err
  end

  -- Is waiting for this lock's holder pointless? It is when the holder
  -- lives in this process and our sleep keeps it from running: any sleep
  -- but one that yields (socket.sleep with libcurl inside nginx, a test's
  -- no-op) stops it, so the lock could never be released meanwhile.
  -- (As text: Redis gives back the worker's pid as a string.)
  local function waiting_stalls(pipeline)
    return not pipeline.sleep_yields and tostring(cache:get(lock_key)) == tostring(this_process())
  end

  -- One token request for everyone who shares the cache (the client's own
  -- light threads, or every worker with a shared dict). Look in the cache;
  -- take the lock with add(), which succeeds for exactly one caller; fetch,
  -- store, unlock. The others look in the cache after growing pauses until
  -- the token is there, or take the lock themselves once it is free again
  -- (its holder failed), or fetch their own after LOCK_TTL seconds of real
  -- time, or when the call's deadline comes first. A cache without add()
  -- cannot lock.
  local function shared_token(ends_at, pipeline)
    local sleep = pipeline.sleep
    if not (sleep and (shared_locks or (own_cache_locks and pipeline.sleep_yields))) then
      return fetch_token(ends_at, pipeline)
    end
    local pause, give_up_at = LOCK_FIRST_PAUSE, fresh_clock() + LOCK_TTL
    if ends_at and ends_at < give_up_at then give_up_at = ends_at end
    while true do
      local locked, problem = cache:add(lock_key, this_process(), LOCK_TTL)
      if locked then return fetch_holding_lock(ends_at, pipeline) end
      -- "exists" is another holder; anything else (a full dict) means no lock.
      if problem ~= "exists" or waiting_stalls(pipeline) or fresh_clock() >= give_up_at then
        return fetch_token(ends_at, pipeline)
      end
      sleep(pause)
      pause = math.min(pause * 2, LOCK_LONGEST_PAUSE)
      local token = cache:get(cache_key)
      if token then return token end
    end
  end

  local function headers(with_body, ends_at, pipeline)
    local token = cache:get(cache_key)
    if not token then
      local err
      token, err = shared_token(ends_at, pipeline)
      if not token then return nil, err end
    end
    -- Compare the token itself: "Bearer " .. token on every call would build
    -- (and under Lua 5.4 allocate) a new string per request.
    if token ~= current_token then
      current_token = token
      local authorization = "Bearer " .. token
      plain = request_headers(authorization)
      with_json = request_headers(authorization, "application/json")
    end
    return with_body and with_json or plain
  end

  local function expired(answer_headers, used_headers)
    local challenge = answer_headers["www-authenticate"]
    if not (challenge and challenge:lower():find("expired", 1, true)) then return false end
    -- Another request may have replaced the token already: drop only ours.
    local cached = cache:get(cache_key)
    if cached and used_headers["Authorization"] == "Bearer " .. cached then
      cache:set(cache_key, nil)
    end
    return true
  end

  return { headers = headers, expired = expired }
end

return auth
