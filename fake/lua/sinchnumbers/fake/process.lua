-- Whether a process still runs, for fake.spawn (has the server gone?) and for
-- the server itself (has the process that spawned it gone?).
local process = {}

function process.alive(pid)
  local stat = io.open("/proc/" .. pid .. "/stat", "r")
  if stat then
    local line = stat:read("*l") or ""
    stat:close()
    return not line:match("^.*%) Z") -- a zombie has exited already
  end
  local result = os.execute("kill -0 " .. pid .. " 2>/dev/null")
  return result == true or result == 0
end

return process
