-- A command on a pseudo-terminal, for the specs of prompts and progress bars:
-- util-linux's `script` (in bsdutils, on every Debian system) runs it on a
-- new terminal whose keyboard is a fifo. Each step waits until its text
-- has appeared on the terminal, then types its keys, so that nothing is
-- typed before the command asks (typed-ahead keys would be echoed even
-- where the command turns echo off).
local shell = require "support.shell"

local pty = {}

local STEP_SECONDS = 20   -- at most, for a prompt to appear

--- Runs `command` (a shell command line) on a terminal in folder `dir`;
-- `steps` is a list of { wait = TEXT, send = KEYS }. Returns everything the
-- terminal showed (stdout and stderr alike, "\r\n" as "\n"), the exit status,
-- and whether every awaited text appeared.
function pty.run(command, steps, dir)
  local q = shell.quote
  local lines = {
    "d=" .. q(dir),
    "rm -f \"$d/keys\" \"$d/screen\"; mkfifo \"$d/keys\"; : > \"$d/screen\"",
    "script -qfec " .. q(command) .. " /dev/null < \"$d/keys\" > \"$d/screen\" 2>&1 & pid=$!",
    "exec 3> \"$d/keys\"",
    "missed=0",
  }
  for _, step in ipairs(steps or {}) do
    lines[#lines + 1] = ("n=0; until grep -qF -- %s \"$d/screen\"; do n=$((n + 1));"
      .. " if [ $n -gt %d ]; then missed=1; break; fi; sleep 0.05; done"):format(q(step.wait), STEP_SECONDS * 20)
    lines[#lines + 1] = "printf %s " .. q(step.send) .. " >&3"
  end
  lines[#lines + 1] = "wait $pid; status=$?; exec 3>&-"
  lines[#lines + 1] = "cat \"$d/screen\"; echo \"<missed $missed>\"; (exit $status)"
  local _, output, status = shell.run(table.concat(lines, "\n"))
  local missed = output:match("<missed (%d)>%s*$")
  output = output:gsub("<missed %d>%s*$", ""):gsub("\r\n", "\n")
  return output, status, missed == "0"
end

return pty
