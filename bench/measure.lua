-- Timing and memory for the Lua benchmark programs (bench/client.lua,
-- bench/handwritten.lua); prints the same lines as bench/raw_curl.c:
--   <call>\tround\t<n>\t<wall s>\t<cpu s>
--   <call>\trss\t<kB before>\t<kB after>
--
-- CPU time is os.clock(): C's clock(), which glibc reads from
-- clock_gettime(CLOCK_PROCESS_CPUTIME_ID), so it is this process's user +
-- system time (all its threads, as getrusage(RUSAGE_SELF) gives the C
-- program) with nanosecond resolution. /proc/self/stat's utime + stime count
-- clock ticks (10 ms), too coarse for a round, and cost a file read.
-- Wall time is luasocket's gettime (gettimeofday).
local socket = require "socket"

local measure = {}

local clock, gettime = os.clock, socket.gettime

--- Settings from the environment (set by bench/run.sh): rounds, get_n, page_n, ...
function measure.settings()
  local function number(name, default)
    return tonumber(os.getenv(name) or "") or default
  end
  return {
    base_url = assert(os.getenv("BENCH_BASE_URL"), "BENCH_BASE_URL is not set: run bench/run.sh"),
    project = os.getenv("BENCH_PROJECT") or "51bc3f40-f266-4ca8-8938-a1ed0ff32b9a",
    rounds = number("BENCH_ROUNDS", 25),
    get_n = number("BENCH_GET_N", 4000),
    page_n = number("BENCH_PAGE_N", 40),
    warmup_get = number("BENCH_WARMUP_GET", 1000),
    warmup_page = number("BENCH_WARMUP_PAGE", 50),
  }
end

--- VmRSS of this process in kB.
function measure.rss_kb()
  local file = assert(io.open("/proc/self/status"))
  local status = file:read("*a")
  file:close()
  return tonumber(status:match("VmRSS:%s*(%d+)"))
end

local function settle()
  collectgarbage("collect")
  collectgarbage("collect")
end

local function emit(...)
  io.stdout:write(table.concat({ ... }, "\t"), "\n")
  io.stdout:flush()
end

--- Calls call_once() n times per round for `rounds` rounds; each must
-- return a true value. Prints the rounds and the RSS before and after all of
-- them, each after a full garbage collection.
function measure.run(call, rounds, n, call_once)
  settle()
  local before = measure.rss_kb()
  for _ = 1, rounds do
    local wall, cpu = gettime(), clock()
    for _ = 1, n do
      if not call_once() then error(call .. " failed") end
    end
    cpu, wall = clock() - cpu, gettime() - wall
    emit(call, "round", n, ("%.6f"):format(wall), ("%.6f"):format(cpu))
  end
  settle()
  emit(call, "rss", before, measure.rss_kb())
end

--- Warm-up (connection open, buffers grown, JIT traces made), then the get
-- rounds, then the page rounds. `get()` and `page()` return the decoded
-- answers; both are checked once before any timing.
function measure.main(settings, get, page)
  local number = assert(get())
  assert(number.phoneNumber == "+12065550100", "get: not the stub's number")
  assert(#assert(page()).activeNumbers == 100, "page: not 100 items")
  for _ = 1, settings.warmup_get do assert(get()) end
  for _ = 1, settings.warmup_page do assert(page()) end
  measure.run("get", settings.rounds, settings.get_n, get)
  measure.run("page", settings.rounds, settings.page_n, page)
end

return measure
