-- (g) of make bench's section "Many calls at once": the floor of a Lua program
-- on this job, with no client at all. The same GETs as client:map makes, with
-- CONCURRENCY in flight on the transport's own Multi (its libcurl binding,
-- driven by hand: start, wait, start the next), the same request headers,
-- each answer decoded by the client's json.decode and kept in a results
-- array; no validation, no policy, no tasks. What the client costs on top
-- of it is everything sinchnumbers adds.
--
--   lua bench/many_hand.lua BASE_URL PROJECT TOKEN CASE
--
-- Settings from the environment as bench/multi_curl.c takes them:
-- BENCH_MANY_N (200 GETs a round), BENCH_MANY_CONCURRENCY (20),
-- BENCH_MANY_ROUNDS (5), after one round of warm-up. Prints one line per round:
--   CASE\tround\t<n>\t<wall s>\t<cpu s>
-- CPU is os.clock(): this process's user + system time (bench/measure.lua says why).
local curl_transport = require "sinchnumbers.transport.curl"
local json = require "sinchnumbers.json"
local gettime = require("socket").gettime

local base_url, project, token, case = arg[1], arg[2], arg[3], arg[4]
if not (base_url and project and token and case) then
  io.stderr:write("usage: lua bench/many_hand.lua BASE_URL PROJECT TOKEN CASE\n")
  os.exit(2)
end
local function setting(name, default) return tonumber(os.getenv(name) or "") or default end
local n, concurrency = setting("BENCH_MANY_N", 200), setting("BENCH_MANY_CONCURRENCY", 20)
local rounds = setting("BENCH_MANY_ROUNDS", 5)

local STUB_NUMBER = "+12065550100"   -- bench/fixtures.lua's, whatever number is asked
local headers = { Authorization = "Bearer " .. token, Accept = "application/json" }
local options = { timeout = 30, connect_timeout = 10 }
-- The URLs of bench/many.lua's items: a number of its own for each.
local urls = {}
for i = 1, n do
  urls[i] = ("%s/v1/projects/%s/activeNumbers/%%2B1206555%04d"):format(base_url, project, 1000 + i % 9000)
end

local transport = assert(curl_transport.new({}))

local function round()
  local multi = assert(transport:multi(concurrency))
  local results, index_of, started, ended = {}, {}, 0, 0
  local function start()
    started = started + 1
    index_of[assert(multi:start("GET", urls[started], headers, nil, options))] = started
  end
  for _ = 1, math.min(concurrency, n) do start() end
  while ended < n do
    local id, status, _, body = multi:wait()
    if id then
      if status ~= 200 then error("many_hand.lua: " .. urls[index_of[id]] .. ": " .. tostring(status or body)) end
      local value = json.decode(body)
      if not (value and value.phoneNumber == STUB_NUMBER) then error("many_hand.lua: not the stub's answer") end
      results[index_of[id]], index_of[id] = value, nil
      ended = ended + 1
      if started < n then start() end
    end
  end
  multi:close()
  return results
end

round()
for _ = 1, rounds do
  local wall, cpu = gettime(), os.clock()
  round()
  cpu, wall = os.clock() - cpu, gettime() - wall
  io.stdout:write(("%s\tround\t%d\t%.6f\t%.6f\n"):format(case, n, wall, cpu))
  io.stdout:flush()
end
transport:close()
