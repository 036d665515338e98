-- Tab-separated lines, as bench/run.sh writes its measurements, for the
-- report scripts (run from the repository's root: `require "bench.tsv"`).
local tsv = {}

--- The fields of one line.
function tsv.split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do fields[#fields + 1] = field end
  return fields
end

--- The machine's description (run.sh's machine.tsv): name -> the rest of its line.
function tsv.machine(path)
  local machine = {}
  for line in io.lines(path) do
    local fields = tsv.split(line)
    machine[fields[1]] = table.concat(fields, "\t", 2)
  end
  return machine
end

return tsv
