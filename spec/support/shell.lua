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

return shell
