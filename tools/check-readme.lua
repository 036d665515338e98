-- Runs the README's code blocks as a reader would, in a fresh copy of this
-- checkout (its sources and the builds of `make demo` and `make test`), and
-- prints one line per block. make test runs it (tools/run-tests.sh):
--
--   lua5.4 tools/check-readme.lua [README.md]
--
-- A ```sh block runs in one shell, one command per line (a trailing \
-- continues it) as if typed into a terminal: every line runs, and the block
-- fails if one of them fails. A ```lua block is a whole program, run with
-- lua5.4 and the checkout's modules on the paths. Other blocks (output, an
-- nginx.conf) are not run. Every SINCH_* variable is unset, so no block can
-- reach the real service, and each block has TIMEOUT seconds.
--
-- An HTML comment on the line before a block says how else to take it:
--   <!-- readme-check: skip (why) -->   not run; listed with the reason
--   <!-- readme-check: file NAME -->    saved as NAME, for the blocks after it
--   <!-- readme-check: busted -->       a spec file, run with busted under Lua 5.4
--   <!-- readme-check: server [PORT] --> a command that serves until stopped: it
--       must keep running (and answer HTTP on 127.0.0.1:PORT); then it is
--       stopped by its process id
--   <!-- readme-check: with-fake -->    run under tools/with-fake.sh, the
--       SINCH_* variables naming a fake server of its own
local README = arg[1] or "README.md"
local TIMEOUT = tonumber(os.getenv("README_TIMEOUT")) or 120   -- seconds for one block
local SERVER_STARTUP = 10                                        -- seconds for a server to answer
local PATHS = "LUA_PATH='lua/?.lua;lua/?/init.lua;fake/lua/?.lua;fake/lua/?/init.lua;;' LUA_CPATH='build/5.4/?.so;;'"

local function quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

-- Runs a shell command; returns whether it exited with 0, and its output.
local function run(command)
  local pipe = assert(io.popen("{ " .. command .. "\n} 2>&1"))
  local output = pipe:read("a")
  return pipe:close() == true, output
end

local function write(path, text)
  local file = assert(io.open(path, "w"))
  file:write(text)
  file:close()
end

local function blocks_of(path)
  local blocks, marker, block = {}, nil, nil
  local number = 0
  for line in io.lines(path) do
    number = number + 1
    if block then
      if line:match("^%s*```%s*$") then
        blocks[#blocks + 1] = block
        block = nil
      else
        block.lines[#block.lines + 1] = line:sub(#block.indent + 1)
      end
    else
      local indent, language = line:match("^(%s*)```%s*(%S*)%s*$")
      if indent then
        block = { line = number, language = language, indent = indent, lines = {}, marker = marker }
      end
      if line:match("%S") then marker = line:match("^%s*<!%-%- readme%-check: (.-) %-%->%s*$") end
    end
  end
  assert(not block, ("%s:%d: a block that is never closed"):format(path, block and block.line or 0))
  return blocks
end

-- The commands of a shell block: lines joined where they end with \, blank
-- and comment lines left out.
local function commands_of(lines)
  local commands, pending = {}, ""
  for _, line in ipairs(lines) do
    if line:match("\\$") then
      pending = pending .. line:sub(1, -2) .. "\n"
    else
      local command = pending .. line
      pending = ""
      if command:match("%S") and not command:match("^%s*#") then commands[#commands + 1] = command end
    end
  end
  return commands
end

-- Commands that change the machine beyond the copy, or start this check
-- again: a block with one must say `readme-check: skip (why)`.
local UNSAFE = {
  { "sudo", "runs as root" }, { "apt%-get", "installs packages" }, { "make install", "installs into the system" },
  { "make uninstall", "removes from the system" }, { "make test", "runs this check again" },
  { "luarocks", "installs into a LuaRocks tree", unless = "%-%-tree" },
}
local function unsafe(commands)
  for _, command in ipairs(commands) do
    for _, rule in ipairs(UNSAFE) do
      if command:find("%f[%w]" .. rule[1] .. "%f[%W]") and not (rule.unless and command:find(rule.unless)) then
        return ("%q %s: mark the block readme-check: skip (why)"):format(command, rule[2])
      end
    end
  end
end

-- A script that runs every command and fails if one failed, naming it.
local function shell_script(commands)
  local script = { "readme_failed=0" }
  for _, command in ipairs(commands) do
    script[#script + 1] = ("{ %s\n} || { readme_failed=1; printf 'readme-check: this command failed: %%s\\n' %s >&2; }")
      :format(command, quote(command))
  end
  script[#script + 1] = "exit $readme_failed"
  return table.concat(script, "\n") .. "\n"
end

-- A copy of the checkout as `make demo` and `make test` leave it: the
-- sources and the C core built for each Lua, in a folder only its owner can
-- read, like a checkout under /root.
local function fresh_copy()
  local _, folder = run("mktemp -d /tmp/sinchnumbers-readme.XXXXXX")
  folder = folder:match("%S+")
  local ok, output = run(("tar -c --exclude=./.git --exclude=./build --exclude=./docs . | tar -x -C %s"
    .. " && chmod 700 %s && mkdir -p %s/build && for v in 5.1 5.2 5.3 5.4 luajit; do"
    .. " if [ -d build/$v ]; then cp -Rp build/$v %s/build/; fi; done"):format(folder, folder, folder, folder))
  assert(ok, "cannot copy the checkout: " .. output)
  return folder
end

local work = fresh_copy()
local clean_environment = "for name in $(env | sed -n 's/^\\(SINCH_[A-Za-z0-9_]*\\)=.*/\\1/p'); do"
  .. " unset \"$name\"; done; unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4;"
local function in_work(command)
  return ("cd %s && %s %s"):format(quote(work), clean_environment, command)
end

-- Each way of taking a block: returns whether it passed, and what it printed.
local function run_server(block, port)
  local commands = commands_of(block.lines)
  if #commands ~= 1 then return false, "a server block holds one command, not " .. #commands end
  -- In a session of its own, whose id the shell leading it writes down:
  -- stopping that process group stops whatever the command started.
  run(in_work(("(setsid sh -c %s > readme-server.out 2>&1 < /dev/null &)")
    :format(quote("echo $$ > readme-server.pid; " .. commands[1]))))
  local pid
  for _ = 1, 50 do
    pid = select(2, run(in_work("cat readme-server.pid 2>/dev/null"))):match("%d+")
    if pid then break end
    run("sleep 0.1")
  end
  if not pid then return false, "the server's shell did not start" end
  local function alive() return (run("kill -0 " .. pid .. " 2>/dev/null")) end
  local function answers()
    return port == nil or (run(("curl -s -o /dev/null --max-time 1 http://127.0.0.1:%s/"):format(port)))
  end
  local deadline = os.time() + SERVER_STARTUP
  local served
  run("sleep 1")   -- long enough to fall over on a missing module
  repeat
    served = alive() and answers()
    if not served then run("sleep 0.2") end
  until served or not alive() or os.time() > deadline
  run(("kill -TERM -%s 2>/dev/null; sleep 0.3; kill -KILL -%s 2>/dev/null"):format(pid, pid))
  local _, output = run(in_work("cat readme-server.out"))
  if not served then
    return false, output .. (port and ("\nnothing answered on 127.0.0.1:" .. port) or "\nit stopped by itself")
  end
  return true, output
end

local function run_block(block, number)
  local marker = block.marker or ""
  local timeout = "timeout " .. TIMEOUT .. " "
  if block.language == "sh" or block.language == "shell" then
    local refused = unsafe(commands_of(block.lines))
    if refused then return false, refused end
    local port = marker:match("^server%s*(%d*)$")
    if port then return run_server(block, port ~= "" and port or nil) end
    write(work .. "/readme-block.sh", shell_script(commands_of(block.lines)))
    if marker == "with-fake" then return run(in_work(timeout .. "sh tools/with-fake.sh sh readme-block.sh")) end
    if marker ~= "" then return false, "unknown marker for a shell block: " .. marker end
    return run(in_work(timeout .. "sh readme-block.sh"))
  elseif block.language == "lua" then
    local program = table.concat(block.lines, "\n") .. "\n"
    local name = marker:match("^file (%S+)$")
    if name then
      write(work .. "/" .. name, program)
      return true, ""
    elseif marker == "busted" then
      local spec = ("readme_block_%d_spec.lua"):format(number)
      write(work .. "/" .. spec, program)
      return run(in_work(PATHS .. " " .. timeout .. "busted --lua=lua5.4 " .. spec))
    elseif marker ~= "" then
      return false, "unknown marker for a Lua block: " .. marker
    end
    local file = ("readme-block-%d.lua"):format(number)
    write(work .. "/" .. file, program)
    return run(in_work(PATHS .. " " .. timeout .. "lua5.4 " .. file))
  end
end

local passed, failed, skipped = 0, 0, 0
for number, block in ipairs(blocks_of(README)) do
  local where = ("%s:%d %s"):format(README, block.line, block.language)
  local reason = (block.marker or ""):match("^skip %((.*)%)$")
  if reason then
    print(("skip  %-18s %s"):format(where, reason))
    skipped = skipped + 1
  elseif block.language == "sh" or block.language == "shell" or block.language == "lua" then
    local started = os.time()
    local ok, output = run_block(block, number)
    local took = os.time() - started
    if ok then
      print(("ok    %-18s %s%s"):format(where, block.marker and ("(" .. block.marker .. ") ") or "",
        took > 0 and (took .. " s") or ""))
      passed = passed + 1
    else
      print(("FAIL  %-18s %s"):format(where, block.marker or ""))
      local lines = {}
      for line in output:gmatch("[^\n]*") do lines[#lines + 1] = line end
      for i = math.max(1, #lines - 20), #lines do print("      " .. lines[i]) end
      failed = failed + 1
    end
  end
end

run("rm -rf " .. quote(work))
print(("readme: %d passed, %d failed, %d skipped"):format(passed, failed, skipped))
os.exit(failed == 0 and passed > 0)
