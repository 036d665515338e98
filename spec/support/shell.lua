-- Shell commands for the specs, with their exit status on every Lua:
-- pipe:close() gives it on 5.2+ only, and LuaJIT's os.execute says true
-- whatever the command did, so the shell echoes it.
local shell = {}

--- Runs a command; returns whether it exited with 0, its output (stdout and
-- stderr together) and its exit status.
function shell.run(command)
  local pipe = assert(io.popen("{ " .. command .. "; } 2>&1; echo \"<exit $?>\""))
  local output = pipe:read("*a")
  pipe:close()
  local status = tonumber(output:match("<exit (%d+)>%s*$"))
  return status == 0, (output:gsub("<exit %d+>%s*$", "")), status
end

function shell.quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

--- The interpreter running this process, by its Debian name (busted's
-- --lua=... re-runs it; a plain `busted` runs whatever `lua` is), for the
-- child processes that must speak the same Lua.
function shell.interpreter()
  if rawget(_G, "jit") then return "luajit" end
  return "lua" .. _VERSION:match("%d+%.%d+")
end

return shell
