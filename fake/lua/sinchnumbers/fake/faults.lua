-- Fault injection: scripted answers for the next requests that match a method
-- and a path substring (POST /_fake/script).
--
-- A scripted status or body replaces the service: the request never reaches the
-- state. A script with only a delay and/or headers, or reset_mid_body, lets the
-- service answer (and change state) now, then alters or holds back that answer.
local errors = require "sinchnumbers.fake.errors"
local json = require "sinchnumbers.fake.json"

local faults = {}

local DEFAULT_HUGE_SIZE = 64 * 1024 * 1024
local PIECE_SIZE = 64 * 1024
-- Valid JSON up to a point, then cut off in the middle of an object.
local BROKEN_JSON = '{"activeNumbers":[{"phoneNumber":"+12062000123","projectId":'

faults.SCRIPT = { kind = "object", fields = {
  method = { kind = "string" },
  path = { kind = "string" },
  count = { kind = "number", integer = true, min = 1 },
  status = { kind = "number", integer = true, min = 100, max = 599 },
  headers = { kind = "map", values = { kind = "string_or_number" } },
  body = { kind = "any" },
  delay = { kind = "number", min = 0, max = 3600 },
  fault = { kind = "string", values = { "drop", "broken_json", "huge", "reset_mid_body" } },
  size = { kind = "number", integer = true, min = 0 },
  chunked = { kind = "boolean" },
} }

-- Adds a script (already checked against faults.SCRIPT) to the queue.
function faults.add(scripts, spec)
  local function given(value) if value ~= json.null then return value end end
  local script = {
    method = given(spec.method) and spec.method:upper(),
    path = given(spec.path) or "",
    remaining = given(spec.count) or 1,
    status = given(spec.status),
    headers = given(spec.headers) or {},
    body = given(spec.body),
    delay = given(spec.delay) or 0,
    fault = given(spec.fault),
    size = given(spec.size) or DEFAULT_HUGE_SIZE,
    chunked = given(spec.chunked) or false,
  }
  scripts[#scripts + 1] = script
  return script
end

-- The pending scripts as JSON objects, for GET /_fake/script.
function faults.describe(scripts)
  local list = json.array()
  for i, script in ipairs(scripts) do
    list[i] = {
      method = script.method or json.null, path = script.path, count = script.remaining,
      status = script.status or json.null, fault = script.fault or json.null, delay = script.delay,
    }
  end
  return list
end

-- Takes one use of the first script that matches the request, or returns nil.
function faults.take(scripts, request)
  for i, script in ipairs(scripts) do
    if (not script.method or script.method == request.method) and request.target:find(script.path, 1, true) then
      script.remaining = script.remaining - 1
      if script.remaining <= 0 then table.remove(scripts, i) end
      return script
    end
  end
end

-- A body of exactly `size` bytes, produced piece by piece so that a 64 MiB answer
-- never sits in memory; it is valid JSON when there is room for the wrapper.
local function huge_body_source(size)
  local prefix, suffix = '{"padding":"', '"}'
  if size < #prefix + #suffix then prefix, suffix = "", "" end
  local filler_left = size - #prefix - #suffix
  local filler = string.rep("x", PIECE_SIZE)
  return function()
    if prefix ~= "" then
      local first = prefix
      prefix = ""
      return first
    end
    if filler_left > 0 then
      local length = math.min(PIECE_SIZE, filler_left)
      filler_left = filler_left - length
      return length == PIECE_SIZE and filler or filler:sub(1, length)
    end
    if suffix ~= "" then
      local last = suffix
      suffix = ""
      return last
    end
  end
end

local function scripted_answer(script)
  local status = script.status or 200
  if script.body == nil then
    if status >= 400 then return errors.response(status, "Scripted failure (POST /_fake/script)") end
    return errors.json_response(status, {})
  end
  local body = script.body
  if type(body) ~= "string" then body = json.encode(body) end
  return { status = status, headers = { ["Content-Type"] = "application/json" }, body = body }
end

local function build_response(script, serve)
  local fault = script.fault
  if fault == "drop" then
    return { drop = true }
  elseif fault == "broken_json" then
    return { status = script.status or 200, headers = { ["Content-Type"] = "application/json" }, body = BROKEN_JSON }
  elseif fault == "huge" then
    return {
      status = script.status or 200,
      headers = { ["Content-Type"] = "application/json" },
      source = huge_body_source(script.size),
      length = script.size,
      chunked = script.chunked,
    }
  elseif fault == "reset_mid_body" then
    local answer = serve()
    local body = answer.body or ""
    answer.length = #body
    answer.body = body:sub(1, math.floor(#body / 2))
    answer.close = true
    return answer
  elseif script.status or script.body ~= nil then
    return scripted_answer(script)
  end
  return serve()
end

-- Replaces same-named headers whatever their case, so nothing is sent twice.
local function add_headers(response, extra)
  response.headers = response.headers or {}
  for name, value in pairs(extra) do
    for existing in pairs(response.headers) do
      if existing:lower() == name:lower() then response.headers[existing] = nil end
    end
    response.headers[name] = type(value) == "number" and string.format("%.14g", value) or value
  end
end

-- Answers a request as `script` says. serve() gives the service's own answer;
-- after(seconds, fn) schedules on the server loop; reply sends the answer.
function faults.respond(script, serve, after, reply)
  local response = build_response(script, serve)
  if not response.drop then add_headers(response, script.headers) end
  if script.delay > 0 then
    after(script.delay, function() reply(response) end)
  else
    reply(response)
  end
end

return faults
