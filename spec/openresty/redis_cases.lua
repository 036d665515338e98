-- What the test nginx of spec/redis_cache_spec.lua runs: a new client per
-- request, whose only tie to the others is the Redis token cache.
local cjson = require "cjson"

local cases = {}

--- POST /redis { options = client options, redis = cache options, calls = n }:
-- makes a client with a Redis token cache, calls list_active_numbers n
-- times, answers { worker, errors = { message, ... } }.
function cases.client()
  ngx.req.read_body()
  local plan = cjson.decode(ngx.req.get_body_data())
  local options = plan.options
  options.token_cache = assert(require("sinchnumbers.cache.redis").new(plan.redis))
  local client = assert(require("sinchnumbers").new(options))
  local failures = {}
  for _ = 1, plan.calls or 1 do
    local _, err = client:list_active_numbers()
    if err then failures[#failures + 1] = tostring(err) end
  end
  ngx.say(cjson.encode{ worker = ngx.worker.pid(), errors = failures })
end

return cases
