-- Credentials for the command: the SINCH_* variables, or a profile of
-- $XDG_CONFIG_HOME/sinchnumbers/profiles (~/.config/... without it), a file
-- only its owner may read:
--
--   [default]
--   project_id = ...
--   key_id = ...
--   key_secret = ...
--   base_url = ...      (optional, like auth_url)
--
-- A key secret is never taken from the command line and never printed.
local terminal = require "sinchnumbers.cli.terminal"

local profiles = {}

profiles.KEYS = { "project_id", "key_id", "key_secret", "base_url", "auth_url" }
local KNOWN = {}
for _, key in ipairs(profiles.KEYS) do KNOWN[key] = true end

local VARIABLES = {
  project_id = "SINCH_PROJECT_ID", key_id = "SINCH_KEY_ID", key_secret = "SINCH_KEY_SECRET",
  base_url = "SINCH_NUMBERS_URL", auth_url = "SINCH_AUTH_URL",
}

local function shell_quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

local function command_output(command)
  local pipe = io.popen(command)
  local text = pipe:read("*a")
  pipe:close()
  return text
end

local function getenv(name)
  local value = os.getenv(name)
  if value == "" then return nil end
  return value
end

--- The profiles file's path.
function profiles.path()
  local config = getenv("XDG_CONFIG_HOME") or ((getenv("HOME") or ".") .. "/.config")
  return config .. "/sinchnumbers/profiles"
end

-- The file's permission bits as three octal digits ("600"), or nil when it
-- does not exist.
local function mode_of(path)
  return command_output("stat -c %a " .. shell_quote(path) .. " 2>/dev/null"):match("(%d%d%d)%s*$")
end

-- { [name] = { key = value } } from the text of the file, or nil, message.
local function parse(text, path)
  local found, section = {}, nil
  local number = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    number = number + 1
    local name = line:match("^%s*%[%s*([^%]]-)%s*%]%s*$")
    local key, value = line:match("^%s*([%w_]+)%s*=%s*(.-)%s*$")
    if name then
      section = {}
      found[name] = section
    elseif key then
      if not KNOWN[key] then
        return nil, ("%s:%d: unknown key %q (known: %s)"):format(path, number, key, table.concat(profiles.KEYS, ", "))
      end
      if not section then return nil, ("%s:%d: %s before any [profile] line"):format(path, number, key) end
      section[key] = value
    elseif not line:match("^%s*$") and not line:match("^%s*[#;]") then
      return nil, ("%s:%d: not a [profile] line nor key = value"):format(path, number)
    end
  end
  return found
end

-- Every profile of the file (an empty table when there is no file), or
-- nil, message when it is unreadable or readable by others.
local function read_all(path)
  local mode = mode_of(path)
  if not mode then return {} end
  if mode:sub(2) ~= "00" then
    return nil, ("%s can be read by others (mode 0%s): it holds key secrets; run chmod 600 %s"):format(path, mode,
      path)
  end
  local file, problem = io.open(path, "r")
  if not file then return nil, "cannot read " .. tostring(problem) end
  local text = file:read("*a")
  file:close()
  return parse(text, path)
end

local NO_CREDENTIALS = "no credentials: set SINCH_PROJECT_ID, SINCH_KEY_ID and SINCH_KEY_SECRET,"
  .. " or run `sinchnumbers configure` to write a profile"

--- The client options for the command: the profile named by --profile
-- when given; else the SINCH_* variables when they are set; else the
-- profile "default". Returns options, or nil, message.
function profiles.credentials(profile_name)
  local from_environment = not profile_name and getenv("SINCH_PROJECT_ID") and getenv("SINCH_KEY_ID")
    and getenv("SINCH_KEY_SECRET")
  local options = {}
  if from_environment then
    for key, variable in pairs(VARIABLES) do options[key] = getenv(variable) end
    return options
  end
  local path = profiles.path()
  local all, problem = read_all(path)
  if not all then return nil, problem end
  local name = profile_name or "default"
  local profile = all[name]
  if not profile then
    if profile_name then return nil, ("no profile %q in %s: run `sinchnumbers configure --profile %s`"):format(
      name, path, name) end
    return nil, NO_CREDENTIALS
  end
  for _, key in ipairs { "project_id", "key_id", "key_secret" } do
    if not profile[key] or profile[key] == "" then
      return nil, ("profile %q in %s has no %s: run `sinchnumbers configure --profile %s`"):format(name, path, key,
        name)
    end
  end
  for _, key in ipairs(profiles.KEYS) do options[key] = profile[key] end
  -- The URLs of the environment still apply (a fake server, a proxy's).
  options.base_url = getenv(VARIABLES.base_url) or options.base_url
  options.auth_url = getenv(VARIABLES.auth_url) or options.auth_url
  return options
end

local function written(all)
  local names = {}
  for name in pairs(all) do names[#names + 1] = name end
  table.sort(names)
  local lines = {}
  for _, name in ipairs(names) do
    lines[#lines + 1] = "[" .. name .. "]"
    for _, key in ipairs(profiles.KEYS) do
      if all[name][key] then lines[#lines + 1] = key .. " = " .. all[name][key] end
    end
    lines[#lines + 1] = ""
  end
  return table.concat(lines, "\n")
end

--- Writes (or replaces) profile `name` with `values`, keeping the others;
-- the file and its folder are made only their owner's (0600, 0700).
-- Returns the path, or nil, message.
function profiles.save(name, values)
  if not name:match("^[%w_.-]+$") then
    return nil, ("profile name %q: letters, digits, _, . and - only"):format(name)
  end
  local path = profiles.path()
  local all, problem = read_all(path)
  if not all then return nil, problem end
  all[name] = values
  local folder = path:match("^(.*)/[^/]+$")
  local temporary = path .. ".new"
  -- umask 077: the new file is never readable by others, not even for a moment.
  if not terminal.shell_succeeds("umask 077 && mkdir -p " .. shell_quote(folder) .. " && : > "
      .. shell_quote(temporary)) then
    return nil, "cannot write " .. temporary
  end
  local file, open_problem = io.open(temporary, "w")
  if not file then return nil, "cannot write " .. tostring(open_problem) end
  file:write(written(all))
  file:close()
  local ok, rename_problem = os.rename(temporary, path)
  if not ok then return nil, "cannot write " .. path .. ": " .. tostring(rename_problem) end
  return path
end

return profiles
