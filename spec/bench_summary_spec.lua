-- make bench ends with bench/summary.lua: it writes the README's performance
-- table from bench/RESULTS.md and fails the run when a target was missed.
local shell = require "support.shell"
local files = require "support.files"

local read, write = files.read, files.write

local function summary(...)
  local command = "lua5.4 bench/summary.lua"
  for _, argument in ipairs{ ... } do command = command .. " " .. shell.quote(argument) end
  return shell.run(command)
end

-- bench/run.sh's measurements of the section "Many calls at once" for one
-- made-up run (many.tsv, machine.tsv), in which every target is met unless
-- `delay_wall` (map's wall time against the 100 ms server) says otherwise.
local function many_measurements(folder, delay_wall)
  local lines = {}
  local function add(...) lines[#lines + 1] = table.concat({ ... }, "\t") end
  for _ = 1, 3 do
    add("multi_curl", "C", "fast", "round", 200, 0.010, 0.009)
    add("node", "Node v20", "fast", "round", 200, 0.120, 0.160)
    add("multi_curl", "C", "delay", "round", 200, 1.010, 0.015)
    add("node", "Node v20", "delay", "round", 200, 1.050, 0.180)
    add("hand", "5.4", "delay", "round", 200, 1.015, 0.018)
    for _, engine in ipairs { "5.4", "luajit", "openresty" } do
      add("sinchnumbers", engine, "sequential", "round", 200, 0.030, 0.010)
      add("sinchnumbers", engine, "fast", "round", 200, 0.015, 0.012)
      add("sinchnumbers", engine, "delay", "round", 200, delay_wall, 0.020)
      add("sinchnumbers", engine, "decode", "round", 200, 0.002, 0.002)
    end
  end
  add("multi_curl", "C", "delay", "instructions", 120000)
  add("sinchnumbers", "5.4", "delay", "instructions", 207000)
  add("sinchnumbers", "5.4", "decode", "instructions", 49000)
  add("hand", "5.4", "delay", "instructions", 199000)
  add("sinchnumbers", "5.4", "memory", 2000, 40.5, 210.0)
  add("sinchnumbers", "5.4", "memory", 20000, 44.0, 2100.0)
  add("sinchnumbers", "5.4", "rate", 50, 2001, 50, 50, 39.9)
  files.write(folder .. "/many.tsv", table.concat(lines, "\n") .. "\n")
  files.write(folder .. "/machine.tsv", "date\t2026-12-01 12:00 UTC\nload_before\t0.50 0.40 0.30\n")
end

describe("bench/summary.lua", function()
  local folder
  before_each(function()
    folder = assert(io.popen("mktemp -d /tmp/sinchnumbers-bench-summary.XXXXXX")):read("*l")
  end)
  after_each(function()
    shell.run("rm -rf " .. shell.quote(folder))
  end)

  it("finds the README's performance table to be the one bench/RESULTS.md gives", function()
    local ok, output = summary("--check", "bench/RESULTS.md", "README.md")
    assert(ok, output)
  end)

  it("writes the table between the README's markers and tells a stale one", function()
    local readme = read("README.md")
    local stale = readme:gsub("(| `get_active_number` | raw libcurl | C | )[%d.]+", "%1999.9", 1)
    assert.are_not.equal(readme, stale, "the README's table starts with raw libcurl's get")
    write(folder .. "/README.md", stale)
    local ok, output = summary("--check", "bench/RESULTS.md", folder .. "/README.md")
    assert.is_false(ok)
    assert.matches("not the one from bench/RESULTS.md", output, 1, true)

    summary("bench/RESULTS.md", folder .. "/README.md")
    assert.equals(readme, read(folder .. "/README.md"))
  end)

  it("exits 1 naming each missed target, and 0 when all are met", function()
    local met = read("bench/RESULTS.md"):gsub("| %*%*missed%*%* |", "| ok |")
    write(folder .. "/met.md", met)
    local ok, output = summary(folder .. "/met.md")
    assert(ok, output)
    assert.equals("", output)

    local one_missed, changed = met:gsub("(| get: CPU per call vs raw libcurl | Lua 5%.4 | [^\n]*| )ok |",
      "%1**missed** |")
    assert.equals(1, changed)
    write(folder .. "/missed.md", one_missed)
    local status
    ok, output, status = summary(folder .. "/missed.md")
    assert.is_false(ok)
    assert.equals(1, status)
    assert.matches("^bench: missed target: get: CPU per call vs raw libcurl under Lua 5%.4: "
      .. "[%d.]+× %(limit ≤ 1%.25×%)\n$", output)
  end)

  describe("with the section \"Many calls at once\" (bench/many_report.lua)", function()
    local function many_section(delay_wall)
      many_measurements(folder, delay_wall)
      local ok, output = shell.run(("lua5.4 bench/many_report.lua %s %s"):format(
        shell.quote(folder .. "/many.tsv"), shell.quote(folder .. "/machine.tsv")))
      assert(ok, output)
      return output
    end

    it("adds its rows to the README's table and its targets to the verdict", function()
      local met = read("bench/RESULTS.md"):gsub("| %*%*missed%*%* |", "| ok |")
        :gsub("\n## Many calls at once.*$", "\n") .. many_section(1.020)
      write(folder .. "/RESULTS.md", met)
      write(folder .. "/README.md", read("README.md"))
      local ok, output = summary(folder .. "/RESULTS.md", folder .. "/README.md")
      assert(ok, output)
      local readme = read(folder .. "/README.md")
      assert.matches("| 20 in flight, 100 ms server | libcurl multi | C | 1.010 | 75.0 |", readme, 1, true)
      assert.matches("|  | sinchnumbers | OpenResty (LuaJIT) | 1.020 | 100.0 |", readme, 1, true)
      assert.matches("|  | Sinch Node SDK | Node v20 | 1.050 | 900.0 |", readme, 1, true)
      -- 10 targets of the first section; 5 for each of 3 engines, the rate and the memory.
      assert.matches("Targets met: 27 of 27.", readme, 1, true)
      ok, output = summary("--check", folder .. "/RESULTS.md", folder .. "/README.md")
      assert(ok, output)
    end)

    it("names a missed target of the section, and exits 1", function()
      write(folder .. "/many.md", many_section(1.300))
      local ok, output, status = summary(folder .. "/many.md")
      assert.is_false(ok)
      assert.equals(1, status)
      assert.matches("bench: missed target: 200 GETs, 100 ms server, 20 in flight: wall under Lua 5.4: "
        .. "1.300 s (limit ≤ 1.25 s)\n", output, 1, true)
      assert.matches("bench: missed target: 100 ms server: wall vs the Node SDK under OpenResty (LuaJIT): "
        .. "1.24× (limit ≤ 1.00×)\n", output, 1, true)
      assert.is_nil(output:find("CPU", 1, true), "the CPU targets are met")
    end)

    it("tells where a call's CPU goes: the decode alone, the rest against the C reference", function()
      local section = many_section(1.020)
      assert.matches("| (e) sinchnumbers | Lua 5.4 | 20 in flight, 100 ms server | 3 × 200 | 1.020 | 20.0 | 100.0"
        .. " | 207k |", section, 1, true)
      assert.matches("| (e) sinchnumbers | Lua 5.4 | the JSON decode of each answer, alone | 3 × 200 | 0.002 | 2.0"
        .. " | 10.0 | 49k |", section, 1, true)
      assert.matches("- Lua 5.4: 100.0 µs of CPU a call, 10.0 µs of it the decode alone; the rest is 1.20× the C"
        .. " reference's 75.0 µs; in instructions 207k, 49k of them the decode, the rest 1.32× the reference's 120k."
        .. " By hand (g): 90.0 µs (1.20× the C reference), 199k instructions; the client adds +11 % (+4 % in"
        .. " instructions).\n", section, 1, true)
      assert.matches("| (g) by hand: the Multi + json.decode | Lua 5.4 | 20 in flight, 100 ms server | 3 × 200 | 1.015"
        .. " | 18.0 | 90.0 | 199k |", section, 1, true)
      assert.matches("- OpenResty (LuaJIT): 100.0 µs of CPU a call, 10.0 µs of it the decode alone; the rest is 1.20×"
        .. " the C reference's 75.0 µs.\n", section, 1, true)
    end)

    it("judges a run of that section alone: its own verdict, no README", function()
      write(folder .. "/many.md", many_section(1.020))
      local ok, output = summary(folder .. "/many.md")
      assert(ok, output)
      assert.equals("", output)
    end)
  end)

  it("refuses a README without the markers, saying what to add", function()
    write(folder .. "/README.md", "# no table here\n")
    local ok, output = summary("bench/RESULTS.md", folder .. "/README.md")
    assert.is_false(ok)
    assert.matches("has no markers", output, 1, true)
  end)
end)
