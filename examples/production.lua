-- A client configured the way a production service would configure it:
-- credentials from the environment, a deadline for every call, a logger,
-- the proxy from the environment (https_proxy, no_proxy: libcurl's rule),
-- and, where Redis is there, one token shared by every process of the fleet.
--
--   SINCH_PROJECT_ID=... SINCH_KEY_ID=... SINCH_KEY_SECRET=... lua5.1 examples/production.lua
--   SINCH_REDIS_HOST=127.0.0.1 SINCH_REDIS_PORT=6379 ...            (the shared token)
--
-- SINCH_NUMBERS_URL and SINCH_AUTH_URL point it elsewhere, e.g. at the fake
-- server (fake/bin/sinchnumbers-fake). Redis needs a Redis client for the
-- Lua that runs it (Debian's lua-redis: Lua 5.1 to 5.3 and LuaJIT).
local sinchnumbers = require "sinchnumbers"

-- One line per message on stderr, with the fields that came with it; the
-- library never puts a credential in either.
local function logger(level, message, fields)
  local parts = {}
  for name, value in pairs(fields or {}) do parts[#parts + 1] = name .. "=" .. tostring(value) end
  table.sort(parts)
  io.stderr:write(("[sinchnumbers %s] %s %s\n"):format(level, message, table.concat(parts, " ")))
end

-- The token cache: Redis when the environment names one, else the client's own.
local function token_cache()
  local host = os.getenv("SINCH_REDIS_HOST")
  if not host then return nil end
  local cache, err = require("sinchnumbers.cache.redis").new {
    host = host, port = tonumber(os.getenv("SINCH_REDIS_PORT") or "6379"),
  }
  if not cache then logger("warn", "no shared token cache: " .. tostring(err)) end
  return cache
end

local client = assert(sinchnumbers.from_env {
  deadline = 20,          -- seconds for a whole call: token, tries, waits and the check after a rent
  timeout = 10,           -- each try
  max_retries = 3,
  logger = logger,
  log_level = os.getenv("SINCH_DEBUG") == "1" and "debug" or "info",
  user_agent = "numbers-service/1.0",
  token_cache = token_cache(),
})

-- A read, then the same read with a tighter limit of its own.
local regions = assert(client:list_available_regions())
print(("%d regions"):format(#(regions.availableRegions or {})))
local page = assert(client:list_active_numbers({ pageSize = 10 }, { deadline = 5, max_retries = 1 }))
print(("%d active numbers on the first page"):format(#(page.activeNumbers or {})))

client:close()
