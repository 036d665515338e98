-- What the test nginx of spec/redis_cache_spec.lua runs: a new client per
-- request, whose only tie to the others is the Redis token cache.
local cjson = require "cjson"

local cases = {}

-- Leaves no token in the cache and a lock held by this worker, as a light
-- thread of this worker that is fetching would. The keys are auth.lua's.
local function leave_own_lock(cache, options, seconds)
  local key = "sinchnumbers:token:"
    .. require("sinchnumbers.codec").hmac_sha1_hex(options.key_secret, options.auth_url .. "\n" .. options.key_id)
  assert(cache:set(key, nil))
  assert(cache:set(key .. ":lock", ngx.worker.pid(), seconds))
end

--- POST /redis { options = client options, redis = cache options, calls = n,
-- leftover_lock = seconds }: makes a client with a Redis token cache, calls
-- list_active_numbers n times, answers { worker, elapsed, errors = { message, ... } }.
function cases.client()
  ngx.req.read_body()
  local plan = cjson.decode(ngx.req.get_body_data())
  local options = plan.options
  options.token_cache = assert(require("sinchnumbers.cache.redis").new(plan.redis))
  if plan.leftover_lock then leave_own_lock(options.token_cache, options, plan.leftover_lock) end
  local client = assert(require("sinchnumbers").new(options))
  local failures = {}
  ngx.update_time()
  local started = ngx.now()
  for _ = 1, plan.calls or 1 do
    local _, err = client:list_active_numbers()
    if err then failures[#failures + 1] = tostring(err) end
  end
  ngx.update_time()
  ngx.say(cjson.encode{ worker = ngx.worker.pid(), elapsed = ngx.now() - started, errors = failures })
end

return cases
