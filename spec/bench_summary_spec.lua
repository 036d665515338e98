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

  it("refuses a README without the markers, saying what to add", function()
    write(folder .. "/README.md", "# no table here\n")
    local ok, output = summary("bench/RESULTS.md", folder .. "/README.md")
    assert.is_false(ok)
    assert.matches("has no markers", output, 1, true)
  end)
end)
