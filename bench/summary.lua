-- The README's performance table, and the verdict of make bench, from bench/RESULTS.md:
--
--   lua5.4 bench/summary.lua RESULTS_MD [README_MD]          (bench/run.sh)
--   lua5.4 bench/summary.lua --check RESULTS_MD README_MD     (spec/bench_summary_spec.lua)
--
-- Without --check it writes the table between the README's two markers (with
-- a README_MD), then names every target RESULTS_MD says was missed and exits
-- 1 if there is one. With --check it writes nothing and exits 1 if the
-- README's table is not the one RESULTS_MD gives.
local BEGIN = "<!-- make bench writes what follows from bench/RESULTS.md (bench/summary.lua): do not edit -->"
local END = "<!-- end of what make bench writes -->"

local check = arg[1] == "--check"
local results_path, readme_path = arg[check and 2 or 1], arg[check and 3 or 2]
if not results_path or (check and not readme_path) then
  io.stderr:write("usage: bench/summary.lua [--check] RESULTS_MD [README_MD]\n")
  os.exit(2)
end

local function read(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

local function cells(line)
  local row = {}
  for cell in line:gmatch("|([^|]*)") do row[#row + 1] = cell:match("^%s*(.-)%s*$") end
  row[#row] = nil   -- after the last |
  return row
end

-- The rows of the Markdown table whose header line starts with `header`
-- (none when the file has no such table: a run of one section).
local function table_after(text, header)
  local rows, inside = {}, false
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:find(header, 1, true) == 1 then
      inside = true
    elseif inside and line:match("^|") then
      if not line:match("^|%-") then rows[#rows + 1] = cells(line) end
    elseif inside then
      break
    end
  end
  return rows
end

local results = read(results_path)
local function machine(field) return results:match("\n%- " .. field .. ": ([^\n]*)") or "?" end
local date = results:match("make bench` %(bench/run%.sh%) on (%d+%-%d+%-%d+)") or "?"

-- "(a) raw libcurl, C" -> "raw libcurl"; "Lua 5.4" -> "5.4"; "–" -> ""
local function program(name) return (name:gsub("^%(%a%) ", ""):gsub("[,:].*", "")) end
local function lua(name) return (name:gsub("^Lua ", "")) end
local function value(cell) return cell == "–" and "" or cell end

local CALL_TABLE, CALL_TARGETS = "| program | Lua | call |", "| target | Lua |"
local MANY_TABLE, MANY_TARGETS = "| program | engine | case |", "| many-calls target |"
local call_rows, many_rows = table_after(results, CALL_TABLE), table_after(results, MANY_TABLE)
if #call_rows == 0 and #many_rows == 0 then
  io.stderr:write(("bench/summary.lua: %s has neither table (%s, %s)\n"):format(results_path, CALL_TABLE, MANY_TABLE))
  os.exit(1)
end

local lines = {
  BEGIN,
  ("From [`bench/RESULTS.md`](bench/RESULTS.md) (%s, %s cores, %s, %s, %s):"):format(
    date, machine("cores"), machine("CPU"), machine("system"), machine("libcurl")),
}
if #call_rows > 0 then
  lines[#lines + 1] = ""
  lines[#lines + 1] = "| call | program | Lua | CPU µs/call | × raw | × by hand | instructions × by hand |"
  lines[#lines + 1] = "|---|---|---|---:|---:|---:|---:|"
end
local previous_call
for _, row in ipairs(call_rows) do
  -- program, Lua, call, N, calls/s, × raw, CPU (min–max), × raw, × hand, instr., × raw, × hand, RSS
  local call = row[3] ~= previous_call and ("`" .. row[3] .. "`") or ""
  previous_call = row[3]
  lines[#lines + 1] = ("| %s | %s | %s | %s | %s | %s | %s |"):format(call, program(row[1]), lua(row[2]),
    row[7]:match("^%S+"), value(row[8]), value(row[9]), value(row[12]))
end
if #many_rows > 0 then
  lines[#lines + 1] = ""
  local many_date = results:match("\n## Many calls at once\n\nMeasured by `make bench` %(bench/run%.sh%) on "
    .. "(%d+%-%d+%-%d+)")
  lines[#lines + 1] = ("Many calls at once (%s, %s GETs; the 100 ms server keeps each waiting that long):")
    :format(many_date or "?", many_rows[1][4]:match("(%d+)$") or "?")
  lines[#lines + 1] = ""
  lines[#lines + 1] = "| case | program | engine | wall s | CPU µs/call |"
  lines[#lines + 1] = "|---|---|---|---:|---:|"
end
local previous_case
for _, row in ipairs(many_rows) do
  -- program, engine, case, rounds, wall s, CPU ms/round, CPU µs/call
  local case = row[3] ~= previous_case and row[3] or ""
  previous_case = row[3]
  lines[#lines + 1] = ("| %s | %s | %s | %s | %s |"):format(case, program(row[1]), lua(row[2]), row[5], row[7])
end

local missed, targets, memory, memory_calls = {}, 0, {}, nil
for _, row in ipairs(table_after(results, CALL_TARGETS)) do
  -- target, Lua, CPU medians, CPU fastest rounds, instructions, limit, verdict
  targets = targets + 1
  if row[7] ~= "ok" then
    missed[#missed + 1] = ("%s under %s: %s (limit %s)"):format(row[1], row[2], row[3], row[6])
  end
  local calls = row[1]:match("^get: RSS growth over (%d+) calls")
  if calls then
    memory_calls = calls:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
    memory[#memory + 1] = ("%s (%s)"):format(row[3], row[2])
  end
end
for _, row in ipairs(table_after(results, MANY_TARGETS)) do
  -- target, engine, measured, limit, verdict
  targets = targets + 1
  if row[5] ~= "ok" then
    missed[#missed + 1] = ("%s under %s: %s (limit %s)"):format(row[1], row[2], row[3], row[4])
  end
end
lines[#lines + 1] = ""
lines[#lines + 1] = ("Targets met: %d of %d%s"):format(targets - #missed, targets,
  #missed == 0 and "." or ("; missed: " .. table.concat(missed, "; ") .. "."))
if memory_calls then
  lines[#lines + 1] = ("Resident memory over %s `get_active_number` calls in one process: %s.")
    :format(memory_calls, table.concat(memory, ", "))
end
lines[#lines + 1] = END
local block = table.concat(lines, "\n")

if readme_path then
  local readme = read(readme_path)
  local first, after = readme:find(BEGIN, 1, true), select(2, readme:find(END, 1, true))
  if not (first and after) then
    io.stderr:write(("bench/summary.lua: %s has no markers; put these two lines where the table goes:\n%s\n%s\n")
      :format(readme_path, BEGIN, END))
    os.exit(1)
  end
  local current = readme:sub(first, after)
  if check then
    if current ~= block then
      io.stderr:write(("%s's performance table is not the one from %s (make bench writes it). It should be:\n%s\n")
        :format(readme_path, results_path, block))
      os.exit(1)
    end
    os.exit(0)
  end
  local file = assert(io.open(readme_path, "wb"))
  file:write(readme:sub(1, first - 1), block, readme:sub(after + 1))
  file:close()
end

for _, target in ipairs(missed) do print("bench: missed target: " .. target) end
if #missed > 0 then os.exit(1) end
