-- What --dry-run and --debug put between the client and its transport.
-- Both are transports (the contract's request(method, url, headers, body,
-- opts)) around the real one, so that what they show is exactly what the
-- client would send, Authorization and other credentials redacted by the
-- pipeline's own rule.
local pipeline = require "sinchnumbers.pipeline"

local wire = {}

local redact = pipeline.redact

local function quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

local function sorted_names(headers)
  local names = {}
  for name in pairs(headers or {}) do names[#names + 1] = name end
  table.sort(names)
  return names
end

--- The request as an equivalent curl command line, credentials redacted.
function wire.curl_line(method, url, headers, body)
  local words = { "curl", "-X", method, quote(url) }
  for _, name in ipairs(sorted_names(headers)) do
    words[#words + 1] = "-H " .. quote(redact(name .. ": " .. tostring(headers[name])))
  end
  if body then words[#words + 1] = "--data-binary " .. quote(redact(body)) end
  return table.concat(words, " ")
end

-- The service's API paths; anything else (the token endpoint) only reads.
local function changes_state(method, url)
  return method ~= "GET" and url:find("/v1/projects/", 1, true) ~= nil
end

wire.NOT_SENT = "dry_run"

--- --dry-run: requests that would change something are written (as curl
-- command lines, through `write`) and not sent: the call ends with an
-- error of kind wire.NOT_SENT and sent = false (so nothing retries or
-- confirms it). Reads and the token request go on to `inner`.
function wire.dry_run(inner, write)
  return {
    request = function(_, method, url, headers, body, opts)
      if not changes_state(method, url) then return inner:request(method, url, headers, body, opts) end
      write(wire.curl_line(method, url, headers, body))
      return nil, { kind = wire.NOT_SENT, message = "not sent (--dry-run)", sent = false }
    end,
    close = function() inner:close() end,
  }
end

local function header_lines(write, mark, headers)
  for _, name in ipairs(sorted_names(headers)) do
    write(mark .. " " .. redact(name .. ": " .. tostring(headers[name])))
  end
end

--- --debug: each request and its answer through `write` (stderr), with
-- credentials (Authorization, tokens, secrets) redacted.
function wire.debug(inner, write)
  return {
    request = function(_, method, url, headers, body, opts)
      write("> " .. method .. " " .. url)
      header_lines(write, ">", headers)
      if body then write("> " .. redact(body)) end
      local status, answer_headers, answer_body = inner:request(method, url, headers, body, opts)
      if status then
        write("< HTTP " .. status)
        header_lines(write, "<", answer_headers)
        if answer_body and answer_body ~= "" then write("< " .. redact(answer_body)) end
      else
        local problem = answer_headers
        write("< failed: " .. redact(type(problem) == "table"
          and tostring(problem.kind) .. ": " .. tostring(problem.message) or tostring(problem)))
      end
      return status, answer_headers, answer_body
    end,
    close = function() inner:close() end,
  }
end

return wire
