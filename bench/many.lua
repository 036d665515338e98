-- sinchnumbers in make bench's section "Many calls at once": GETs of one
-- active number each, one after another (the sequential path) and through
-- client:map with CONCURRENCY tasks, against bench/many.conf's server. Run by
-- bench/run.sh under each Lua,
--
--   lua bench/many.lua timing     rounds of: sequential and map without the
--                                 delay, map with it
--   lua bench/many.lua memory     map over 2,000 and 20,000 items without the delay
--   lua bench/many.lua rate       map over BENCH_MANY_RATE_N items at rate_limit = 50
--
-- and inside nginx (bench/many_openresty.conf) through `many.serve()`, where
-- map's tasks are light threads. Settings from the environment: BENCH_MANY_URL
-- (the server), BENCH_MANY_N (200), BENCH_MANY_CONCURRENCY (20),
-- BENCH_MANY_ROUNDS (5). Prints, like bench/multi_curl.c:
--   <case>\tround\t<n>\t<wall s>\t<cpu s>
--   memory\t<items>\t<kB beyond the results>\t<kB of the results>
-- CPU is os.clock(): this process's user + system time (bench/measure.lua says why).
local sinchnumbers = require "sinchnumbers"

local many = {}

local PROJECT = "51bc3f40-f266-4ca8-8938-a1ed0ff32b9a"
local STUB_NUMBER = "+12065550100"   -- bench/fixtures.lua's, whatever number is asked

function many.settings(getenv)
  local function number(name, default) return tonumber(getenv(name) or "") or default end
  return {
    url = assert(getenv("BENCH_MANY_URL"), "BENCH_MANY_URL is not set: run bench/run.sh"),
    n = number("BENCH_MANY_N", 200),
    concurrency = number("BENCH_MANY_CONCURRENCY", 20),
    rounds = number("BENCH_MANY_ROUNDS", 5),
    rate_n = number("BENCH_MANY_RATE_N", 2000),
    rate_limit = number("BENCH_MANY_RATE_LIMIT", 50),
  }
end

-- A client of the server's part `path` ("/fast", "/delay" or "/rate").
local function client_of(settings, path, options)
  local base = settings.url .. path
  local client_options = {
    project_id = PROJECT, key_id = "bench-key", key_secret = "bench-secret",
    base_url = base, auth_url = base .. "/oauth2/token",
  }
  for name, value in pairs(options or {}) do client_options[name] = value end
  local client, err = sinchnumbers.new(client_options)
  if not client then error("bench/many.lua: " .. tostring(err)) end
  return client
end

local function phones(n)
  local list = {}
  for i = 1, n do list[i] = ("+1206555%04d"):format(1000 + i % 9000) end
  return list
end

local function check(number, err)
  if not number then error("get_active_number failed: " .. tostring(err)) end
  if number.phoneNumber ~= STUB_NUMBER then error("not the stub's number: " .. tostring(number.phoneNumber)) end
end

local function get_one(client, phone)
  return client:get_active_number(phone)
end

local function sequential(client, items)
  for _, phone in ipairs(items) do check(get_one(client, phone)) end
end

local function map(client, items, concurrency)
  local results, err = client:map(items, get_one, { concurrency = concurrency })
  if not results then error("map refused: " .. tostring(err)) end
  for i = 1, #items do check(results[i].value, results[i].err) end
  return results
end

--- The timing rounds; `clock()` gives wall seconds. Returns the lines.
function many.timing(settings, clock)
  local items = phones(settings.n)
  local cases = {
    { name = "sequential", client = client_of(settings, "/fast"), run = sequential },
    { name = "fast", client = client_of(settings, "/fast"), run = map },
    { name = "delay", client = client_of(settings, "/delay"), run = map },
  }
  local lines = {}
  for _, case in ipairs(cases) do
    case.run(case.client, items, settings.concurrency) -- warm-up: the token, the connections
    for _ = 1, settings.rounds do
      local wall, cpu = clock(), os.clock()
      case.run(case.client, items, settings.concurrency)
      cpu, wall = os.clock() - cpu, clock() - wall
      lines[#lines + 1] = ("%s\tround\t%d\t%.6f\t%.6f"):format(case.name, settings.n, wall, cpu)
    end
    case.client:close()
  end
  return lines
end

-- What is live after full collections until one frees nothing more (an
-- object with a finalizer, and what it holds, goes only in the collection
-- after the one that finalized it). LuaJIT's compiled traces are dropped
-- first: a trace keeps the closures it was recorded through as constants,
-- and so the last map's results, until it is flushed.
local function live_kb()
  if jit then jit.flush() end
  local live
  repeat
    local before = collectgarbage("count")
    collectgarbage("collect")
    live = collectgarbage("count")
  until live >= before
  return live
end

-- One map over n items whose values are `true` (so that the results are
-- little beside what is measured). Returns the kB live while the last item
-- runs (after a full collection, taken from inside that item) beyond `base`
-- and the results, and the kB of the results (what a collection frees once
-- they are dropped after map). A function of its own, so that no slot of
-- the caller's still holds a result when the next measurement starts.
local function map_memory(client, items, concurrency)
  local n, during = #items, nil
  local base = live_kb()
  local results, summary = client:map(items, function(c, phone, index)
    if index == n then during = live_kb() end
    check(get_one(c, phone))
    return true
  end, { concurrency = concurrency })
  if not results then error("map refused: " .. tostring(summary)) end
  for i = 1, n do
    if results[i].value ~= true then error("item " .. i .. " failed: " .. tostring(results[i].err)) end
  end
  local with_results = live_kb()
  results, summary = nil, nil -- luacheck: ignore 311 (dropped to be collected)
  local results_kb = with_results - live_kb()
  return during - base - results_kb, results_kb
end

--- The memory map holds beyond its results, for 2,000 and 20,000 items,
-- after a first map over 2,000 (JIT traces, buffers and tables grown).
function many.memory(settings)
  local client = client_of(settings, "/fast")
  map_memory(client, phones(2000), settings.concurrency)
  local lines = {}
  for _, n in ipairs { 2000, 20000 } do
    local beyond, results_kb = map_memory(client, phones(n), settings.concurrency)
    lines[#lines + 1] = ("memory\t%d\t%.1f\t%.1f"):format(n, beyond, results_kb)
  end
  client:close()
  return lines
end

--- rate_n items through a client with a rate_limit: the server logs when each request came.
function many.rate(settings)
  local client = client_of(settings, "/rate", { rate_limit = settings.rate_limit })
  map(client, phones(settings.rate_n), settings.concurrency)
  client:close()
  return {}
end

--- GET /many?mode=timing inside nginx (bench/many_openresty.conf): the lines as the body.
function many.serve()
  local function clock()
    ngx.update_time()
    return ngx.now()
  end
  local query = ngx.req.get_uri_args()
  local settings = many.settings(function(name) return query[name] end)
  ngx.say(table.concat(many.timing(settings, clock), "\n"))
end

if not (type(ngx) == "table" and ngx.get_phase) then
  local mode = arg and arg[1]
  if not many[mode] or mode == "serve" or mode == "settings" then
    io.stderr:write("usage: lua bench/many.lua timing|memory|rate\n")
    os.exit(2)
  end
  local lines = many[mode](many.settings(os.getenv), require("socket").gettime)
  if #lines > 0 then io.stdout:write(table.concat(lines, "\n"), "\n") end
end

return many
