-- Logging: the levels, the writer that SINCH_DEBUG=1 and the library's own
-- complaints use (nginx's error log inside nginx, else stderr), and the
-- call of a caller's logger, which must not fail the request it describes.
--
-- A logger is `logger(level, message, fields)`; the pipeline asks `on[level]`
-- before it builds a message, so a level that is off costs one table read.

local log = {}

log.LEVELS = { "debug", "info", "warn", "error" }

-- The levels at `threshold` and above, as a set: { info = true, warn = true, ... }.
-- Without a logger, none.
function log.levels_on(logger, threshold)
  local on, reached = {}, false
  if not logger then return on end
  for _, level in ipairs(log.LEVELS) do
    reached = reached or level == threshold
    on[level] = reached or nil
  end
  return on
end

-- nginx's levels for ours: debug and info at "notice", so that turning on
-- SINCH_DEBUG needs no error_log change below nginx's usual level.
local NGX_LEVEL = { debug = "NOTICE", info = "NOTICE", warn = "WARN", error = "ERR" }

-- Writes one line to nginx's error log, or to stderr outside nginx.
function log.write(level, message)
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.log and ngx[NGX_LEVEL[level]] then
    ngx.log(ngx[NGX_LEVEL[level]], message)
  else
    io.stderr:write(message, "\n")
  end
end

local function field_text(value)
  if type(value) == "number" and value ~= math.floor(value) then return ("%.3f"):format(value) end
  return tostring(value)
end

-- The logger SINCH_DEBUG=1 gives: one line per message, with its fields.
function log.default(level, message, fields)
  local line = { "sinchnumbers: [", level, "] ", message }
  if fields then
    local names = {}
    for name in pairs(fields) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do line[#line + 1] = " " .. name .. "=" .. field_text(fields[name]) end
  end
  log.write(level, table.concat(line))
end

-- A caller's hook (a logger, on_request) raised: that is logged and the
-- call goes on. The error value is the hook's own, so even turning it into
-- text may raise.
function log.hook_failed(hook, problem)
  local described, text = pcall(tostring, problem)
  if not (described and type(text) == "string") then text = "(an error value that cannot be shown as text)" end
  log.write("error", "sinchnumbers: the " .. hook .. " raised an error (ignored): " .. text)
end

return log
