-- A plain Lua process for spec/redis_cache_spec.lua (libcurl, redis-lua):
--   lua redis_plain_client.lua FAKE_URL REDIS_PORT CALLS
-- makes one client with a Redis token cache, calls list_active_numbers
-- CALLS times and prints how many failed, and the first failure.
local cjson = require "cjson"
local fake_url, redis_port, calls = arg[1], tonumber(arg[2]), tonumber(arg[3])

local cache = assert(require("sinchnumbers.cache.redis").new{ port = redis_port })
local client = assert(require("sinchnumbers").new{
  project_id = "test-project", key_id = "test-key-id", key_secret = "test-key-secret",
  base_url = fake_url, auth_url = fake_url .. "/oauth2/token", token_cache = cache,
})
local failures = {}
for _ = 1, calls do
  local _, err = client:list_active_numbers()
  if err then failures[#failures + 1] = tostring(err) end
end
print(cjson.encode{ errors = failures })
