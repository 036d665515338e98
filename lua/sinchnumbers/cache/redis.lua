--- A token cache on Redis, for many nginx hosts and plain Lua processes
-- that share one project: one of them fetches the access token, everyone
-- uses it, and the lock for that one token request is Redis's own
-- (`SET key value NX PX ttl`), as `ngx.shared.DICT`'s add() is on one host.
--
-- Give it to the client as its `token_cache`:
--
--     local redis_cache = require "sinchnumbers.cache.redis"
--     local cache = assert(redis_cache.new{ host = "10.0.0.5", port = 6379 })
--     local client = assert(sinchnumbers.from_env{ token_cache = cache })
--
-- The Redis client is not a dependency of the rock; install the one for
-- where the client runs:
--
-- * under OpenResty (in a phase with cosockets): lua-resty-redis
--   (`require "resty.redis"`; Debian's `lua-nginx-redis` installs it as
--   `nginx.redis`, which is looked for too). Every operation takes a
--   connection from nginx's cosocket pool and gives it back with
--   set_keepalive.
-- * in plain Lua: redis-lua (`require "redis"`; Debian's `lua-redis`, which
--   needs luasocket). Debian builds it for Lua 5.1, 5.2, 5.3 and LuaJIT
--   only: under Lua 5.4 (where it is not installed) `new` returns nil and an
--   error that says so. The cache keeps one connection and opens a new one
--   after a failure.
--
-- Redis being down never breaks the client: an operation that fails
-- returns nil and an error (the client then fetches its own token, as with
-- a cache miss), and the first failure of an outage logs one warning per
-- process (nginx's error log at WARN, or stderr), without the password.
-- Keys are the client's (HMACs that reveal no secret); values are tokens,
-- never logged.
-- @module sinchnumbers.cache.redis

local errors = require "sinchnumbers.errors"
local validate = require "sinchnumbers.validate"

local redis_cache = {}

local OPTIONS = validate.compile { type = "object", fields = {
  { name = "host", type = "string" },
  { name = "port", type = "integer", min = 1, max = 65535 },
  { name = "password", type = "string" },
  { name = "db", type = "integer", min = 0, max = 1000000 },
  { name = "timeout", type = "number", min = 0.001, max = 3600,
    expect = "a number of seconds above 0 and at most 3600" },
  { name = "pool_size", type = "integer", min = 1, max = 100000 },
  { name = "keepalive", type = "number", min = 0.001, max = 86400,
    expect = "a number of seconds above 0 and at most 86400" },
} }

local DEFAULTS = { host = "127.0.0.1", port = 6379, timeout = 1, pool_size = 16, keepalive = 60 }

-- Redis's expiry is in whole milliseconds; a ttl never rounds to 0 (which
-- Redis refuses) nor forever.
local function milliseconds(seconds)
  return math.max(1, math.floor(seconds * 1000 + 0.5))
end

local function inside_nginx()
  local ngx = rawget(_G, "ngx")
  return ngx ~= nil and type(ngx.socket) == "table" and ngx.socket.tcp ~= nil
end

local function try_require(names)
  for _, name in ipairs(names) do
    local ok, module = pcall(require, name)
    if ok and type(module) == "table" then return module end
  end
  return nil
end

-- Whether an outage is going on, per Redis server, in this process: the
-- first failure warns, the first success after it ends the outage.
local in_outage = {}

local function warn(message)
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.log then
    ngx.log(ngx.WARN, message)
  else
    io.stderr:write(message, "\n")
  end
end

-- One Redis command on a connection of lua-resty-redis, from nginx's pool.
local function resty_runner(resty, settings)
  local timeout_ms = milliseconds(settings.timeout)
  local pool = { pool_size = settings.pool_size }
  return function(command, ...)
    local connection = resty:new()
    connection:set_timeout(timeout_ms)
    local ok, err = connection:connect(settings.host, settings.port, pool)
    if not ok then return nil, "cannot connect: " .. tostring(err) end
    -- A connection from the pool has been through AUTH and SELECT already.
    if (connection:get_reused_times() or 0) == 0 then
      if settings.password then
        ok, err = connection:auth(settings.password)
        if not ok then connection:close() return nil, "AUTH failed: " .. tostring(err) end
      end
      if settings.db then
        ok, err = connection:select(settings.db)
        if not ok then connection:close() return nil, "SELECT failed: " .. tostring(err) end
      end
    end
    local reply
    reply, err = connection[command](connection, ...)
    if reply == nil then
      connection:close()
      return nil, err
    end
    connection:set_keepalive(milliseconds(settings.keepalive), settings.pool_size)
    if reply == rawget(_G, "ngx").null then reply = nil end
    return true, reply
  end
end

-- One Redis command with redis-lua, which raises on every failure.
local function plain_runner(redis, settings)
  local connection
  local function connect()
    local client = redis.connect { host = settings.host, port = settings.port, timeout = settings.timeout }
    if settings.password then client:auth(settings.password) end
    if settings.db then client:select(settings.db) end
    return client
  end
  return function(command, ...)
    local ok, reply = pcall(function(...)
      connection = connection or connect()
      return connection[command](connection, ...)
    end, ...)
    if not ok then
      if connection then pcall(connection.quit, connection) end
      connection = nil
      -- redis-lua's errors start with its own file and line.
      return nil, (tostring(reply):gsub("^[^:]*:%d+: ", ""))
    end
    return true, reply
  end
end

--- Makes a cache on one Redis server.
-- @tparam[opt] table options
-- @tparam[opt="127.0.0.1"] string options.host
-- @tparam[opt=6379] int options.port
-- @tparam[opt] string options.password sent with AUTH on every new connection
-- @tparam[opt] int options.db sent with SELECT on every new connection
-- @tparam[opt=1] number options.timeout seconds for each connect, send and receive
-- @tparam[opt=16] int options.pool_size nginx's cosocket pool, per worker
-- @tparam[opt=60] number options.keepalive seconds an idle pooled connection stays open (nginx)
-- @return the cache, with the methods of `ngx.shared.DICT` that a
-- `token_cache` uses: `get(key)` (the value, or nil; nil and an error when
-- Redis fails), `set(key, value, ttl)` (SET PX, or DEL for a nil value) and
-- `add(key, value, ttl)` (SET NX PX: true, or false and `"exists"`); or nil and an
-- `invalid_argument` error for bad options, or nil and an error whose
-- message names the Redis client that is missing
function redis_cache.new(options)
  local who = "sinchnumbers.cache.redis.new"
  if options == nil then options = {} end
  if type(options) ~= "table" then
    return nil, errors.invalid_argument(who .. ": options must be a table with " .. table.concat(OPTIONS.names, ", "))
  end
  local settings = {}
  for name, value in next, options do settings[name] = value end
  local message, field = validate.fields(OPTIONS, settings, "option")
  if message then return nil, errors.invalid_argument(who .. ": " .. message, field) end
  for name, value in pairs(DEFAULTS) do
    if settings[name] == nil then settings[name] = value end
  end

  local run
  if inside_nginx() then
    local resty = try_require { "resty.redis", "nginx.redis" }
    if not resty then
      return nil, errors.new("invalid_argument", who .. ": inside nginx it needs lua-resty-redis"
        .. ' (require "resty.redis"; Debian: apt-get install lua-nginx-redis), which is not installed')
    end
    run = resty_runner(resty, settings)
  else
    local redis = try_require { "redis" }
    if not redis then
      return nil, errors.new("invalid_argument", who .. ": outside nginx it needs redis-lua"
        .. ' (require "redis"; Debian: apt-get install lua-redis, built for Lua 5.1, 5.2, 5.3 and LuaJIT'
        .. " only), which is not installed for " .. _VERSION)
    end
    run = plain_runner(redis, settings)
  end

  local server = settings.host .. ":" .. settings.port
  -- Runs a command; a failure warns once per outage and becomes nil, err.
  -- (Under nginx, a phase without cosockets raises in lua-resty-redis.)
  local function command(name, ...)
    local ran, ok, reply = pcall(run, name, ...)
    if not ran then ok, reply = false, ok end
    if not ok then
      if not in_outage[server] then
        in_outage[server] = true
        warn(("sinchnumbers.cache.redis: Redis at %s failed (%s); clients fetch their own tokens until it answers")
          :format(server, tostring(reply)))
      end
      return nil, "redis: " .. tostring(reply)
    end
    in_outage[server] = nil
    return true, reply
  end

  local cache = {}

  -- The value at `key`, or nil (also when Redis fails: then nil, err).
  function cache.get(_, key)
    local ok, reply = command("get", key)
    if not ok then return nil, reply end
    return reply
  end

  -- Stores `value` for `ttl` seconds (SET PX); a nil value deletes (DEL).
  -- Returns true, or nil and an error.
  function cache.set(_, key, value, ttl)
    local ok, err
    if value == nil then
      ok, err = command("del", key)
    else
      ok, err = command("set", key, tostring(value), "PX", milliseconds(ttl))
    end
    if not ok then return nil, err end
    return true
  end

  -- Stores `value` for `ttl` seconds unless `key` holds one (SET NX PX):
  -- true; false and "exists"; or nil and an error.
  function cache.add(_, key, value, ttl)
    local ok, reply = command("set", key, tostring(value), "PX", milliseconds(ttl), "NX")
    if not ok then return nil, reply end
    -- "OK" from lua-resty-redis, true from redis-lua; nil when the key exists.
    if reply == nil then return false, "exists" end
    return true
  end

  return cache
end

return redis_cache
