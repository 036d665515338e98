-- The section "Many calls at once" of bench/RESULTS.md (on stdout), from
-- bench/run.sh's measurements:
--   lua5.4 bench/many_report.lua MANY_TSV MACHINE_TSV
-- MANY_TSV lines: program, engine, case, "round", n, wall s, cpu s
--             or: program, engine, case, "instructions", instructions per call
--             or: program, engine, "memory", items, kB beyond the results, kB of the results
--             or: program, engine, "rate", rate_limit, requests, busiest second, busiest window, seconds
local many_path, machine_path = assert(arg[1]), assert(arg[2])

local tsv = require "bench.tsv"
local split = tsv.split
local machine = tsv.machine(machine_path)

local function median(values)
  local sorted = { table.unpack(values) }
  table.sort(sorted)
  local n = #sorted
  if n % 2 == 1 then return sorted[(n + 1) / 2] end
  return (sorted[n / 2] + sorted[n / 2 + 1]) / 2
end

-- rows in the order first seen: { program, engine, case, n, walls = {}, cpus = {} }
local rows, by_key, memory, memory_engines, rates = {}, {}, {}, {}, {}
local instructions = {} -- program|engine|case -> instructions per call
for line in io.lines(many_path) do
  local f = split(line)
  local program, engine, case, kind = f[1], f[2], f[3], f[4]
  if case == "memory" then
    if not memory[engine] then memory[engine], memory_engines[#memory_engines + 1] = {}, engine end
    memory[engine][tonumber(f[4])] = { beyond = tonumber(f[5]), results = tonumber(f[6]) }
  elseif case == "rate" then
    rates[#rates + 1] = { engine = engine, limit = tonumber(f[4]), requests = tonumber(f[5]),
      second = tonumber(f[6]), window = tonumber(f[7]), seconds = tonumber(f[8]) }
  elseif kind == "instructions" then
    instructions[program .. "|" .. engine .. "|" .. case] = tonumber(f[5])
  elseif kind == "round" then
    local key = program .. "|" .. engine .. "|" .. case
    local row = by_key[key]
    if not row then
      row = { program = program, engine = engine, case = case, n = tonumber(f[5]), walls = {}, cpus = {} }
      by_key[key], rows[#rows + 1] = row, row
    end
    row.walls[#row.walls + 1] = tonumber(f[6])
    row.cpus[#row.cpus + 1] = tonumber(f[7])
  end
end
for i, row in ipairs(rows) do
  row.wall, row.cpu = median(row.walls), median(row.cpus)
  row.cpu_us = row.cpu / row.n * 1e6
  row.instructions = instructions[row.program .. "|" .. row.engine .. "|" .. row.case]
  row.seen = i
end
-- By case, then the C reference, ours, the Node SDK; engines as they came.
local CASE_ORDER = { sequential = 1, fast = 2, delay = 3, decode = 4 }
local PROGRAM_ORDER = { multi_curl = 1, sinchnumbers = 2, hand = 3, node = 4 }
table.sort(rows, function(a, b)
  local case_a, case_b = CASE_ORDER[a.case] or 9, CASE_ORDER[b.case] or 9
  if case_a ~= case_b then return case_a < case_b end
  local program_a, program_b = PROGRAM_ORDER[a.program] or 9, PROGRAM_ORDER[b.program] or 9
  if program_a ~= program_b then return program_a < program_b end
  return a.seen < b.seen
end)
local function find(program, engine, case) return by_key[program .. "|" .. engine .. "|" .. case] end
-- The row of a program that runs under one engine only.
local function only(program, case)
  for _, row in ipairs(rows) do
    if row.program == program and row.case == case then return row end
  end
end

local ENGINE_NAMES = { ["5.4"] = "Lua 5.4", luajit = "LuaJIT", openresty = "OpenResty (LuaJIT)", C = "C" }
local PROGRAM_NAMES = {
  multi_curl = "(d) libcurl multi, C",
  sinchnumbers = "(e) sinchnumbers",
  node = "(f) Sinch Node SDK",
  hand = "(g) by hand: the Multi + json.decode",
}
local CASE_NAMES = {
  sequential = "one after another, no delay",
  fast = "20 in flight, no delay",
  delay = "20 in flight, 100 ms server",
  decode = "the JSON decode of each answer, alone",
}
local function engine_name(engine) return ENGINE_NAMES[engine] or engine end

local out = {}
local function say(...) out[#out + 1] = table.concat({ ... }) end
local n = rows[1] and rows[1].n or 200
say("")
say("## Many calls at once")
say("")
say("Measured by `make bench` (bench/run.sh) on ", machine.date or "?", " (load average before: ",
  machine.load_before or "?", ").")
say("")
say("Each program makes ", n, " GETs of one active number against a local nginx (bench/many.conf) that")
say("answers at once, or after 100 ms of a timer (so that it keeps any number of requests waiting at")
say("once), in passes taken in turns (alternately forwards and backwards through the programs, so that")
say("a change in the machine's load falls on all alike), each run with one round of warm-up first (the")
say("token, the connections), then its rounds; the table gives the median of the rounds of all passes.")
say("(d) is libcurl's multi interface in C, 20 easy handles reused, no parsing:")
say("the CPU reference. (e) is `client:map(items, fn, { concurrency = 20 })` with `fn` calling")
say("`get_active_number`: on libcurl's multi interface under Lua 5.4 and LuaJIT, on light threads and")
say("cosockets inside nginx (bench/many_openresty.conf, its CPU the worker's `os.clock()`), and the")
say("sequential path (the same calls one after another) beside it. (f) is the official Node SDK")
say("(`@sinch/sdk-core`, bench/node/) with a pool of 20 async workers. (g) is the same job in Lua with")
say("no client (bench/many_hand.lua): the transport's own Multi driven by hand, 20 in flight, each")
say("answer through the client's `json.decode`: the floor of a Lua program on this binding, and what")
say("the client adds is the difference. **CPU** is the client process's")
say("user + system time (getrusage, `os.clock()`, `process.cpuUsage()`); the server is not counted.")
say("The rate budget: a client with `rate_limit` maps over its items against the server's /rate part,")
say("which logs when each request arrived. The target counts the arrivals in every window of 0.99 s")
say("(slid over each arrival): a request reaches the server a few ms after the client counted it as")
say("started, by a margin that varies, so that a full second slid from inside one burst of 50 takes")
say("in the first requests of the next. Beside it, the most in one second of the run, counted from")
say("the first arrival (the token request, whose connection makes it later than the others).")
say("Beside them, the client's own `json.decode` (lua-cjson, and the integer fields on 5.3 and 5.4) of")
say("the server's answer, as many times in a row: what each call spends decoding. **instr./call**:")
say("instructions per call in user space, counted by valgrind's callgrind (runs of 1 and 3 rounds,")
say("their difference over 2 rounds), which a busy machine does not disturb.")
say("Memory: `collectgarbage(\"count\")` after a full collection, taken inside the last item's `fn`,")
say("less the results (what a collection frees once they are dropped after `map`), for 2,000 and")
say("20,000 items.")
say("")
say("| program | engine | case | rounds | wall s | CPU ms/round | CPU µs/call | instr./call |")
say("|---|---|---|---:|---:|---:|---:|---:|")
local function thousands(count) return count and ("%.0fk"):format(count / 1000) or "" end
for _, row in ipairs(rows) do
  say("| ", PROGRAM_NAMES[row.program] or row.program, " | ", engine_name(row.engine), " | ",
    CASE_NAMES[row.case] or row.case, " | ", ("%d × %d"):format(#row.walls, row.n), " | ",
    ("%.3f"):format(row.wall), " | ", ("%.1f"):format(row.cpu * 1000), " | ", ("%.1f"):format(row.cpu_us), " | ",
    thousands(row.instructions), " |")
end

say("")
say("| many-calls target | engine | measured | limit | |")
say("|---|---|---:|---:|---|")
local function verdict(ok) return ok and "ok" or "**missed**" end
local function target(name, engine, measured, shown, limit, limit_shown)
  say("| ", name, " | ", engine_name(engine), " | ", shown, " | ", limit_shown, " | ", verdict(measured <= limit), " |")
end
local function ratio_target(name, engine, value, base, limit)
  if not (value and base) then return end
  local ratio = value / base
  target(name, engine, ratio, ("%.2f×"):format(ratio), limit, ("≤ %.2f×"):format(limit))
end
local C_MULTI, NODE = only("multi_curl", "delay"), only("node", "delay")
for _, row in ipairs(rows) do
  if row.program == "sinchnumbers" and row.case == "delay" then
    local engine = row.engine
    target(("%d GETs, 100 ms server, 20 in flight: wall"):format(row.n), engine, row.wall,
      ("%.3f s"):format(row.wall), 1.25, "≤ 1.25 s")
    local fast, sequential = find("sinchnumbers", engine, "fast"), find("sinchnumbers", engine, "sequential")
    ratio_target("no delay: CPU per call, map vs sequential", engine, fast and fast.cpu_us,
      sequential and sequential.cpu_us, 1.5)
    ratio_target("100 ms server: CPU per call vs libcurl multi in C", engine, row.cpu_us,
      C_MULTI and C_MULTI.cpu_us, 1.5)
    ratio_target("100 ms server: wall vs the Node SDK", engine, row.wall, NODE and NODE.wall, 1.0)
    ratio_target("100 ms server: CPU vs the Node SDK", engine, row.cpu, NODE and NODE.cpu, 0.25)
  end
end
for _, rate in ipairs(rates) do
  target(("%d requests at rate_limit = %d, the token's too: most started in any 0.99 s"):format(rate.requests,
    rate.limit),
    rate.engine, rate.window, ("%d (in one second of the run: %d; %.1f s)"):format(rate.window, rate.second,
      rate.seconds), rate.limit, ("≤ %d"):format(rate.limit))
end
for _, engine in ipairs(memory_engines) do
  local small, large = memory[engine][2000], memory[engine][20000]
  if small and large then
    local growth = large.beyond - small.beyond
    target("memory beyond the results, 2,000 → 20,000 items", engine, growth,
      ("%+.0f kB (results: %.0f kB → %.0f kB)"):format(growth, small.results, large.results), 256, "≤ 256 kB")
  end
end

-- Where a call's CPU goes under the 100 ms server: the decode measured alone,
-- and the rest against the C reference, which decodes nothing.
local shares = {}
for _, row in ipairs(rows) do
  local decode = row.program == "sinchnumbers" and row.case == "delay" and find("sinchnumbers", row.engine, "decode")
  if decode and C_MULTI then
    local line = ("- %s: %.1f µs of CPU a call, %.1f µs of it the decode alone; the rest is %.2f× the C"
      .. " reference's %.1f µs"):format(engine_name(row.engine), row.cpu_us, decode.cpu_us,
      (row.cpu_us - decode.cpu_us) / C_MULTI.cpu_us, C_MULTI.cpu_us)
    if row.instructions and decode.instructions and C_MULTI.instructions then
      line = line .. ("; in instructions %s, %s of them the decode, the rest %.2f× the reference's %s"):format(
        thousands(row.instructions), thousands(decode.instructions),
        (row.instructions - decode.instructions) / C_MULTI.instructions, thousands(C_MULTI.instructions))
    end
    local by_hand = find("hand", row.engine, "delay")
    if by_hand then
      line = line .. (". By hand (g): %.1f µs (%.2f× the C reference)"):format(by_hand.cpu_us,
        by_hand.cpu_us / C_MULTI.cpu_us)
      if by_hand.instructions then line = line .. (", %s instructions"):format(thousands(by_hand.instructions)) end
      line = line .. ("; the client adds %+.0f %%"):format((row.cpu_us / by_hand.cpu_us - 1) * 100)
      if by_hand.instructions and row.instructions then
        line = line .. (" (%+.0f %% in instructions)"):format((row.instructions / by_hand.instructions - 1) * 100)
      end
    end
    shares[#shares + 1] = line .. "."
  end
end
if #shares > 0 then
  say("")
  say("Where the CPU of a call goes with the 100 ms server (the decode's share is what the C")
  say("reference, which parses nothing, does not do):")
  say("")
  for _, line in ipairs(shares) do say(line) end
end

io.write(table.concat(out, "\n"), "\n")
