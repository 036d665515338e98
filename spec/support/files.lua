-- Whole files, read and written, for the specs.
local files = {}

local function read_open(file)
  local text = file:read("*a")
  file:close()
  return text
end

--- The file's bytes; raises when it cannot be opened.
function files.read(path)
  return read_open(assert(io.open(path, "rb")))
end

--- What a process has written to `path` so far: "" while there is no such file.
function files.read_so_far(path)
  local file = io.open(path, "rb")
  if not file then return "" end
  return read_open(file)
end

function files.write(path, text)
  local file = assert(io.open(path, "wb"))
  file:write(text)
  file:close()
end

--- Runs `openssl COMMAND` in `dir` (the specs' certificates); raises when it fails.
function files.openssl(dir, command)
  assert(os.execute(("cd %s && openssl %s >/dev/null 2>&1"):format(dir, command)), "openssl " .. command)
end

return files
