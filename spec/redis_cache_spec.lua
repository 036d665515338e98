-- sinchnumbers.cache.redis: one token for a fleet. A real redis-server on a
-- free loopback port, two nginx "hosts" of two workers each (their clients
-- with lua-resty-redis, spec/openresty/redis_cases.lua) and a plain Lua
-- process (redis-lua, spec/support/redis_plain_client.lua), all against one
-- fake, all sharing the token through Redis.
local nginx = require "support.nginx"
local shell = require "support.shell"
local socket = require "socket"
local cjson = require "cjson"

local ROOT = os.getenv("PWD") or "."
local WARNING = "sinchnumbers.cache.redis: Redis at"

local function count_matches(text, plain)
  local count, from = 0, 1
  while true do
    local at = text:find(plain, from, true)
    if not at then return count end
    count, from = count + 1, at + #plain
  end
end

local function count_keys(set)
  local count = 0
  for _ in pairs(set) do count = count + 1 end
  return count
end

local read_file = require("support.files").read_so_far

-- A redis-server of our own, in the foreground of its own process, stopped by pid.
local function start_redis()
  local port = nginx.free_port()
  local folder = assert(io.popen("mktemp -d /tmp/sinchnumbers-redis.XXXXXX")):read("*l")
  local pid = assert(io.popen(("cd %s && redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no"
    .. " >redis.log 2>&1 & echo $!"):format(folder, port))):read("*l")
  local deadline = socket.gettime() + 5
  repeat
    local connection = socket.connect("127.0.0.1", port)
    if connection then connection:close() break end
    socket.sleep(0.02)
  until socket.gettime() > deadline
  local redis = { port = port }
  function redis.stop()
    if not redis.pid then return end
    os.execute("kill " .. redis.pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not shell.run("kill -0 " .. redis.pid) then break end
      socket.sleep(0.05)
    end
    os.execute("kill -KILL " .. redis.pid .. " 2>/dev/null; rm -rf " .. folder)
    redis.pid = nil
  end
  redis.pid = pid
  return redis
end

-- The plain Lua process: a Lua that has redis-lua (Debian's lua-redis is
-- not built for 5.4, where LuaJIT stands in), started now, read later.
local function plain_lua()
  local interpreter = shell.interpreter()
  if interpreter == "lua5.4" then interpreter = "luajit" end
  local version = interpreter == "luajit" and "luajit" or interpreter:match("%d%.%d")
  return interpreter, version
end

local function start_plain_client(fake_url, redis_port, calls, stderr_path)
  local interpreter, version = plain_lua()
  local command = ("cd %s && LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/%s/?.so;;'"
    .. " %s spec/support/redis_plain_client.lua %s %d %d 2>%s")
    :format(shell.quote(ROOT), version, interpreter, shell.quote(fake_url), redis_port, calls, shell.quote(stderr_path))
  local pipe = assert(io.popen(command))
  return function()
    local output = pipe:read("*a")
    pipe:close()
    local ok, answer = pcall(cjson.decode, output)
    if not ok then error("the plain Lua client said: " .. output .. read_file(stderr_path)) end
    return answer
  end
end

local HOST = [[
  lua_socket_log_errors off;
  server {
    listen 127.0.0.1:${port} reuseport;
    location = /redis { content_by_lua_block { require("openresty.redis_cases").client() } }
  }
]]

describe("sinchnumbers.cache.redis", function()
  local fake_server, redis, hosts, stderr_path

  local function client_options()
    return {
      project_id = "test-project", key_id = "test-key-id", key_secret = "test-key-secret",
      base_url = fake_server.url, auth_url = fake_server.url .. "/oauth2/token",
    }
  end

  local function token_requests()
    local count = 0
    for _, request in ipairs(fake_server:requests()) do
      if request.path:find("/oauth2/token", 1, true) then count = count + 1 end
    end
    return count
  end

  -- `per_host` requests at once to each host, each one new client making
  -- one call, while the plain Lua process makes `plain_calls`; returns the
  -- set of nginx workers that served.
  local function run_fleet(per_host, plain_calls)
    local finish_plain = start_plain_client(fake_server.url, redis.port, plain_calls, stderr_path)
    local connections = {}
    local plan = cjson.encode{ options = client_options(), redis = { port = redis.port }, calls = 1 }
    for _, host in ipairs(hosts) do
      for _ = 1, per_host do connections[#connections + 1] = { host, host.send("POST", "/redis", plan) } end
    end
    local workers = {}
    for _, pending in ipairs(connections) do
      local answer = pending[1].answer(pending[2], "/redis")
      assert.same({}, answer.errors)
      workers[answer.worker] = true
    end
    assert.same({}, finish_plain().errors)
    return workers
  end

  setup(function()
    -- A token lives 8 s at the fake: the client keeps it 4 s (8 minus the
    -- 60 s margin is negative, so half its life).
    fake_server = require("sinchnumbers.fake").spawn{ lua = "lua5.4", token_ttl = 8 }
    redis = start_redis()
    hosts = { nginx.start{ http = HOST, workers = 2 }, nginx.start{ http = HOST, workers = 2 } }
    stderr_path = os.tmpname()
  end)

  teardown(function()
    for _, host in ipairs(hosts or {}) do host.stop() end
    if redis then redis.stop() end
    if fake_server then fake_server:stop() end
    if stderr_path then os.remove(stderr_path) end
  end)

  it("makes one token request for 60 calls from two nginx hosts and a plain Lua process, and one more at expiry",
    function()
      fake_server:reset()
      -- The token comes slowly, so every call arrives while it is on its way.
      fake_server:script{ path = "/oauth2/token", delay = 0.3 }
      local workers = run_fleet(20, 20)
      assert.equals(1, token_requests())
      assert.is_true(count_keys(workers) >= 2, "more than one nginx worker served")

      -- The token's 4 s in Redis are over: one new token for everyone.
      socket.sleep(4.5)
      fake_server:script{ path = "/oauth2/token", delay = 0.3 }
      run_fleet(20, 20)
      assert.equals(2, token_requests())
      for _, host in ipairs(hosts) do
        assert.equals(0, count_matches(host.error_log(), WARNING), host.error_log())
      end
      assert.equals("", read_file(stderr_path))
    end)

  it("says under Lua 5.4, outside nginx, which Redis client it needs", function()
    local ok, output = shell.run(("cd %s && LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/5.4/?.so;;'"
      .. [[ lua5.4 -e 'local cache, err = require("sinchnumbers.cache.redis").new(); print(cache, err)']])
      :format(shell.quote(ROOT)))
    assert.is_true(ok, output)
    assert.matches('^nil\tsinchnumbers: invalid_argument: sinchnumbers.cache.redis.new: outside nginx it needs'
      .. ' redis%-lua %(require "redis"; Debian: apt%-get install lua%-redis, built for Lua 5.1, 5.2, 5.3 and'
      .. ' LuaJIT only%), which is not installed for Lua 5.4', output)
  end)

  it("refuses an unknown option, with the names it takes", function()
    local cache, err = require("sinchnumbers.cache.redis").new{ prot = 6379 }
    assert.is_nil(cache)
    assert.equals("invalid_argument", err.kind)
    assert.matches("port", err.message)
  end)

  it("does not wait, with libcurl's sleep that does not yield, for a lock held in its own worker", function()
    fake_server:reset()
    -- The lock's holder is this worker, which socket.sleep keeps from running:
    -- waiting would last until the lock frees itself.
    local plan = { options = client_options(), redis = { port = redis.port }, leftover_lock = 5 }
    plan.options.transport = "curl"
    local answer = hosts[1].drive("/redis", plan)
    assert.same({}, answer.errors)
    assert.is_true(answer.elapsed < 3, "waited " .. answer.elapsed .. " s")
    assert.equals(1, token_requests())
  end)

  it("keeps the clients working on their own tokens while Redis is down, with one warning per process", function()
    fake_server:reset()
    redis.stop()
    local workers = run_fleet(10, 5)
    -- Each client fetched one token of its own, which served all its calls:
    -- 20 clients in nginx, and one in the plain process for its 5 calls.
    assert.equals(21, token_requests())
    local warnings = 0
    for _, host in ipairs(hosts) do
      local log = host.error_log()
      warnings = warnings + count_matches(log, WARNING)
      assert.is_nil(log:find("Bearer", 1, true))
    end
    -- One per worker that served, in the worker's log at WARN.
    assert.equals(count_keys(workers), warnings)
    local stderr = read_file(stderr_path)
    assert.equals(1, count_matches(stderr, WARNING), stderr)
    assert.matches("connection refused", stderr)
    assert.is_nil(stderr:find("Bearer", 1, true))
  end)
end)
