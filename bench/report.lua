-- Turns bench/run.sh's measurements into bench/RESULTS.md (on stdout):
--   lua5.4 bench/report.lua RESULTS_TSV MACHINE_TSV
-- RESULTS_TSV lines: program, Lua, pass, call, "round", n, wall s, cpu s
--                or: program, Lua, pass, call, "rss", kB before, kB after
--                or: program, Lua, "callgrind", call, "instructions", per call
local results_path, machine_path = assert(arg[1]), assert(arg[2])

local tsv = require "bench.tsv"
local split = tsv.split
local machine = tsv.machine(machine_path)

-- rows in the order first seen; each { program, lua, call, rounds = {}, rss = {} }
local rows, by_key = {}, {}
for line in io.lines(results_path) do
  local f = split(line)
  local program, lua, pass, call, kind = f[1], f[2], f[3], f[4], f[5]
  local key = program .. "|" .. lua .. "|" .. call
  local row = by_key[key]
  if not row then
    row = { program = program, lua = lua, call = call, rounds = {}, passes = {} }
    by_key[key] = row
    rows[#rows + 1] = row
  end
  if kind == "round" then
    local n, wall, cpu = tonumber(f[6]), tonumber(f[7]), tonumber(f[8])
    row.rounds[#row.rounds + 1] = { n = n, cpu_us = cpu / n * 1e6, rate = n / wall }
    row.passes[pass] = (row.passes[pass] or 0) + n
  elseif kind == "instructions" then
    row.instructions = tonumber(f[6])
  elseif kind == "rss" and pass == "0" then
    -- Pass 0 is the long one: all its calls in one process.
    row.rss_before, row.rss_after, row.rss_calls = tonumber(f[6]), tonumber(f[7]), row.passes[pass]
  end
end

local function median(values)
  table.sort(values)
  local n = #values
  if n % 2 == 1 then return values[(n + 1) / 2] end
  return (values[n / 2] + values[n / 2 + 1]) / 2
end

for _, row in ipairs(rows) do
  assert(#row.rounds > 0, row.program .. " under " .. row.lua .. ": no rounds")
  local cpu, rate, calls = {}, {}, 0
  for i, round in ipairs(row.rounds) do
    cpu[i], rate[i], calls = round.cpu_us, round.rate, calls + round.n
  end
  row.calls = calls
  row.per_round = row.rounds[1] and row.rounds[1].n or 0
  row.cpu_us = median(cpu)
  row.cpu_min, row.cpu_max = cpu[1], cpu[#cpu]   -- sorted by median()
  row.rate = median(rate)
end

local function find(program, lua, call)
  return by_key[program .. "|" .. lua .. "|" .. call]
end

local LUA_NAMES = { ["5.4"] = "Lua 5.4", ["5.1"] = "Lua 5.1", luajit = "LuaJIT", C = "C" }
local PROGRAM_NAMES = {
  raw = "(a) raw libcurl, C",
  sinchnumbers = "(b) sinchnumbers",
  handwritten = "(c) by hand: luacurl + cjson",
}
local CALL_NAMES = { get = "get_active_number", page = "list_active_numbers{pageSize=100}" }

local function ratio(value, base)
  if not (value and base) then return "–" end
  return ("%.2f×"):format(value / base)
end

local function kb(value)
  if value >= 10240 then return ("%.1f MiB"):format(value / 1024) end
  return ("%d kB"):format(value)
end

local out = {}
local function say(...) out[#out + 1] = table.concat({ ... }) end

local memory_rounds, rounds, get_n, page_n, passes = (machine.settings or ""):match(
  "([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)")
local function calls(n) return tostring(n):reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "") end
say("# Benchmark results")
say("")
say("Written by `make bench` (bench/run.sh) on ", machine.date or "?", "; the machine is at the end.")
say("")
say("Each program makes the calls against a local nginx stub (keep-alive, canned JSON: one")
say("ActiveNumber of 680 bytes, a page of 100 of 67 kB) on one reused connection, after a warm-up")
say("of 1000 get and 50 page calls, in rounds of ", get_n, " get calls and rounds of ", page_n, " page calls.")
say("The programs take turns, so that a busy moment of the machine falls on all alike: pass 0")
say("runs each once for ", memory_rounds, " rounds of each call (", calls(memory_rounds * get_n),
  " get calls in one process, for the memory")
say("check), then ", passes, " passes, alternately forwards and backwards through the list, run each for ",
  rounds, " rounds.")
say("N counts the rounds of all passes; the table gives the median round. The section \"Many calls")
say("at once\" at the end (bench/many_report.lua) measures `client:map` apart, and says how.")
say("")
say("- **CPU** is the client process's own user + system time: getrusage(RUSAGE_SELF) in C, `os.clock()`")
say("  in Lua (glibc's clock() reads CLOCK_PROCESS_CPUTIME_ID: the same quantity, in ns; /proc/self/stat")
say("  counts 10 ms ticks, too coarse for a round). nginx runs in its own process and is not counted.")
say("- **× raw**, **× hand**: ratios to (a), and to (c) under the same Lua. For calls/s, the ratio of")
say("  throughput (below 1: fewer calls per second than (a)).")
say("- **instr.**: instructions per call in user space, counted by valgrind's callgrind (the difference")
say("  of runs with 1000 more get calls, and with 40 more page calls); steady on a busy machine, but")
say("  blind to the kernel's share of the CPU time, which is about the same for every program.")
say("- **RSS**: VmRSS after a full collection, before and after the rounds of that call in pass 0.")
say("")

local function cell_ratio(row, base, field)
  if row == base then return "1" end
  return ratio(row[field], base and base[field])
end

say("| program | Lua | call | N | calls/s | × raw | CPU µs/call (min–max) | × raw | × hand "
  .. "| instr./call | × raw | × hand | RSS before → after |")
say("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for _, call in ipairs { "get", "page" } do
  local raw = find("raw", "C", call)
  for _, row in ipairs(rows) do
    if row.call == call then
      local hand = row.program ~= "handwritten" and find("handwritten", row.lua, call) or nil
      say("| ", PROGRAM_NAMES[row.program] or row.program, " | ", LUA_NAMES[row.lua] or row.lua, " | ",
        CALL_NAMES[call] or call, " | ", ("%d × %d"):format(#row.rounds, row.per_round), " | ",
        ("%.0f"):format(row.rate), " | ", cell_ratio(row, raw, "rate"), " | ",
        ("%.1f (%.1f–%.1f)"):format(row.cpu_us, row.cpu_min, row.cpu_max), " | ",
        cell_ratio(row, raw, "cpu_us"), " | ", hand and ratio(row.cpu_us, hand.cpu_us) or "–", " | ",
        row.instructions and ("%.0fk"):format(row.instructions / 1000) or "–", " | ",
        row.instructions and cell_ratio(row, raw, "instructions") or "–", " | ",
        hand and ratio(row.instructions, hand.instructions) or "–", " | ",
        row.rss_before and (kb(row.rss_before) .. " → " .. kb(row.rss_after)
          .. (" (%+d kB)"):format(row.rss_after - row.rss_before)) or "–", " |")
    end
  end
end

-- The issue's targets, checked on the medians; the fastest rounds and the
-- instruction counts are there to tell a real miss from a noisy machine.
say("")
say("## Targets")
say("")
say("Checked on the median rounds' CPU time; next to it the ratio of the fastest rounds (which a busy")
say("machine disturbs least) and of user-space instructions.")
say("")
say("| target | Lua | CPU, medians | CPU, fastest rounds | instructions | limit | |")
say("|---|---|---:|---:|---:|---:|---|")
local function check(name, row, base, limit)
  if not base then return end
  local value = row.cpu_us / base.cpu_us
  say("| ", name, " | ", LUA_NAMES[row.lua] or row.lua, " | ", ("%.2f×"):format(value), " | ",
    ratio(row.cpu_min, base.cpu_min), " | ", ratio(row.instructions, base.instructions), " | ",
    ("≤ %.2f×"):format(limit), " | ", value <= limit and "ok" or "**missed**", " |")
end
for _, row in ipairs(rows) do
  if row.program == "sinchnumbers" and row.call == "get" then
    check("get: CPU per call vs raw libcurl", row, find("raw", "C", "get"), 1.25)
  end
end
for _, row in ipairs(rows) do
  if row.program == "sinchnumbers" then
    check(row.call .. ": CPU per call vs by hand", row, find("handwritten", row.lua, row.call),
      row.call == "get" and 1.05 or 1.10)
  end
end
for _, row in ipairs(rows) do
  if row.program == "sinchnumbers" and row.call == "get" and row.rss_before then
    local growth = row.rss_after - row.rss_before
    say("| ", ("get: RSS growth over %d calls"):format(row.rss_calls or 0), " | ", LUA_NAMES[row.lua] or row.lua,
      " | ", ("%+d kB"):format(growth), " | | | < 1024 kB | ", growth < 1024 and "ok" or "**missed**", " |")
  end
end

say("")
say("## Machine")
say("")
for _, entry in ipairs {
  { "CPU", "cpu" }, { "cores", "cores" }, { "kernel", "kernel" }, { "system", "os" },
  { "interpreters", "lua" }, { "libcurl", "libcurl" }, { "lua-cjson", "cjson" }, { "nginx (stub)", "nginx" },
  { "load average before / after", "load" }, { "whole run", "seconds" },
} do
  local value = machine[entry[2]]
  if entry[2] == "load" then value = (machine.load_before or "?") .. " / " .. (machine.load_after or "?") end
  if entry[2] == "seconds" and value then value = value .. " s" end
  say("- ", entry[1], ": ", value or "?")
end

io.write(table.concat(out, "\n"), "\n")
