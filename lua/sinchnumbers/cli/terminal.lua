-- The terminal: whether there is one, the [y/N] question, a secret read
-- without echo, and the progress bar of bulk runs. Prompts and progress go
-- to stderr, so stdout keeps only data.
local terminal = {}

--- Runs a shell command; did it succeed? (os.execute says 0 on 5.1 and
-- LuaJIT, true on 5.2 and later.)
function terminal.shell_succeeds(command)
  local result = os.execute(command)
  return result == true or result == 0
end

--- Is file descriptor `fd` (0 stdin, 2 stderr) a terminal? The shell that
-- os.execute starts inherits them.
function terminal.is_terminal(fd)
  return terminal.shell_succeeds("test -t " .. fd)
end

--- Can a question be asked and answered: stdin and stderr are a terminal.
function terminal.can_ask()
  return terminal.is_terminal(0) and terminal.is_terminal(2)
end

--- Asks `question` [y/N] on stderr; true only for y or yes.
function terminal.confirm(question)
  io.stderr:write(question, " [y/N] ")
  io.stderr:flush()
  local answer = (io.stdin:read("*l") or ""):lower()
  return answer:match("^%s*y%s*$") ~= nil or answer:match("^%s*yes%s*$") ~= nil
end

--- A line from stdin after `prompt` (on stderr, when stdin is a terminal).
-- `hidden`: the terminal does not echo it (stty -echo, put back after).
function terminal.read_line(prompt, hidden)
  local on_terminal = terminal.is_terminal(0)
  if on_terminal then
    -- Echo goes off before the prompt shows: keys typed as soon as it
    -- appears must not be echoed.
    if hidden then os.execute("stty -echo") end
    io.stderr:write(prompt)
    io.stderr:flush()
  end
  local line = io.stdin:read("*l")
  if on_terminal and hidden then
    os.execute("stty echo")
    io.stderr:write("\n")
  end
  return line and (line:gsub("\r$", ""))
end

local function clock_time(seconds)
  seconds = math.floor(seconds + 0.5)
  return ("%d:%02d"):format(math.floor(seconds / 60), seconds % 60)
end

local BAR_WIDTH = 30

--- A progress reporter for `total` items, on stderr: a bar redrawn in place
-- on a terminal (done/total, failures, rate, time left), else a plain line
-- every `every` items. `clock` gives seconds. Returns update(done, failed)
-- and finish().
function terminal.progress(total, clock, on_terminal)
  local started = clock()
  local every = math.max(1, math.floor(total / 10))
  local function line(done, failed)
    local seconds = clock() - started
    local rate = seconds > 0 and done / seconds or 0
    local left = rate > 0 and (total - done) / rate or 0
    return ("%d/%d done, %d failed, %.1f/s, %s left"):format(done, total, failed, rate, clock_time(left))
  end
  local function update(done, failed)
    if on_terminal then
      local filled = total > 0 and math.floor(BAR_WIDTH * done / total) or BAR_WIDTH
      io.stderr:write("\r[", string.rep("#", filled), string.rep(".", BAR_WIDTH - filled), "] ", line(done, failed),
        "\027[K")
      io.stderr:flush()
    elseif done % every == 0 or done == total then
      io.stderr:write(line(done, failed), "\n")
    end
  end
  local function finish()
    if on_terminal then io.stderr:write("\n") end
  end
  return update, finish
end

return terminal
