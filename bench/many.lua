-- sinchnumbers in make bench's section "Many calls at once": GETs of one
-- active number each, one after another (the sequential path) and through
-- client:map with CONCURRENCY tasks, against bench/many.conf's server. Run by
-- bench/run.sh under each Lua,
--
--   lua bench/many.lua timing     rounds of: sequential and map without the
--                                 delay, map with it, and the JSON decode of
--                                 the answer alone (the client's own json.decode,
--                                 as many times as there are GETs)
--   lua bench/many.lua memory     map over 2,000 and 20,000 items without the delay
--   lua bench/many.lua rate       map over BENCH_MANY_RATE_N items at rate_limit = 50
--
-- and inside nginx (bench/many_openresty.conf) through `many.serve()`, where
-- map's tasks are light threads. Settings from the environment: BENCH_MANY_URL
-- (the server), BENCH_MANY_BODY (the file of the answer it serves, for the
-- decode case), BENCH_MANY_N (200), BENCH_MANY_CONCURRENCY (20),
-- BENCH_MANY_ROUNDS (5), BENCH_MANY_CASES (which timing cases: all when
-- unset). Prints, like bench/multi_curl.c:
--   <case>\tround\t<n>\t<wall s>\t<cpu s>
--   memory\t<items>\t<kB beyond the results>\t<kB of the results>
-- CPU is os.clock(): this process's user + system time (bench/measure.lua says why).
local sinchnumbers = require "sinchnumbers"
local json = require "sinchnumbers.json"

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
    body_file = getenv("BENCH_MANY_BODY"),
    cases = getenv("BENCH_MANY_CASES"),
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

-- What each call spends decoding its answer, measured alone: the server's
-- answer through the client's own json.decode, once for each item.
local function decoder_of(settings)
  local file = assert(io.open(assert(settings.body_file, "BENCH_MANY_BODY is not set: run bench/run.sh"), "rb"))
  local body = file:read("*a")
  file:close()
  return function(_, items)
    for _ = 1, #items do check(json.decode(body)) end
  end
end

local TIMING_CASES = {
  { name = "sequential", path = "/fast", run = sequential },
  { name = "fast", path = "/fast", run = map },
  { name = "delay", path = "/delay", run = map },
  { name = "decode" },
}

--- The timing rounds; `clock()` gives wall seconds. Returns the lines.
function many.timing(settings, clock)
  local items = phones(settings.n)
  local lines = {}
  for _, case in ipairs(TIMING_CASES) do
    if not settings.cases or (" " .. settings.cases .. " "):find(" " .. case.name .. " ", 1, true) then
      local client = case.path and client_of(settings, case.path)
      local run = case.run or decoder_of(settings)
      run(client, items, settings.concurrency) -- warm-up: the token, the connections
      for _ = 1, settings.rounds do
        local wall, cpu = clock(), os.clock()
        run(client, items, settings.concurrency)
        cpu, wall = os.clock() - cpu, clock() - wall
        lines[#lines + 1] = ("%s\tround\t%d\t%.6f\t%.6f"):format(case.name, settings.n, wall, cpu)
      end
      if client then client:close() end
    end
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
