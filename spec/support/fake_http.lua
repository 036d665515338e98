-- Raw HTTP to the fake with luasocket only (no client library), and the
-- assertions on Sinch-style answers that the fake's specs share.
local assert = require "luassert"
local cjson = require "cjson"
local ltn12 = require "ltn12"
local mime = require "mime"
local http = require "socket.http"

http.TIMEOUT = 10

local fake_http = {}

fake_http.PROJECT = "/v1/projects/test-project"
fake_http.BASIC = "Basic " .. mime.b64("test-key-id:test-key-secret")

--- One request with socket.http to `base` (a server's URL). options: body
-- (string, or a table sent as JSON), headers, auth (an Authorization value,
-- or false for none). Returns { status, headers, body, json }; raises when
-- the request fails below HTTP (`fake_http.try` does not).
function fake_http.try(base, method, path, options)
  options = options or {}
  local headers = {}
  for name, value in pairs(options.headers or {}) do headers[name:lower()] = value end
  if options.auth ~= false and not headers.authorization then
    headers.authorization = options.auth or fake_http.BASIC
  end
  local body = options.body
  if type(body) == "table" then
    body = cjson.encode(body)
    headers["content-type"] = headers["content-type"] or "application/json"
  end
  if body then headers["content-length"] = tostring(#body) end
  local chunks = {}
  local ok, status, response_headers = http.request({
    url = base .. path,
    method = method,
    headers = headers,
    source = body and ltn12.source.string(body),
    sink = ltn12.sink.table(chunks),
  })
  if not ok then return nil, status end
  local text = table.concat(chunks)
  local decoded = text:match("^%s*[{%[]") and cjson.decode(text) or nil
  return { status = status, headers = response_headers, body = text, json = decoded }
end

function fake_http.call(base, method, path, options)
  local answer, err = fake_http.try(base, method, path, options)
  assert(answer, err)
  return answer
end

--- The fields of a 400 INVALID_ARGUMENT answer's violations (field -> description);
-- asserts there is one for `field` when given.
function fake_http.assert_invalid_argument(answer, field)
  assert.equal(400, answer.status, answer.body)
  assert.truthy(answer.body:find('"code":400', 1, true), "code is an integer")
  local err = answer.json.error
  assert.equal("INVALID_ARGUMENT", err.status)
  assert.equal("string", type(err.message))
  assert.equal("BadRequest", err.details[1].type)
  local fields = {}
  for _, violation in ipairs(err.details[1].fieldViolations) do
    assert.equal("string", type(violation.description))
    fields[violation.field] = violation.description
  end
  if field then assert.truthy(fields[field], "a violation for " .. field .. " in " .. answer.body) end
  return fields
end

function fake_http.assert_not_found(answer, resource_type, name)
  assert.equal(404, answer.status, answer.body)
  assert.truthy(answer.body:find('"code":404', 1, true))
  local err = answer.json.error
  assert.equal("NOT_FOUND", err.status)
  assert.same({
    type = "ResourceInfo", resourceType = resource_type, resourceName = name, owner = "", description = "",
  }, err.details[1])
end

--- Lowercase hex HMAC-SHA1 by the openssl command: independent of the C core
-- and of the fake's own signing.
function fake_http.hmac_sha1_hex(key, data)
  local path = os.tmpname()
  local file = assert(io.open(path, "wb"))
  file:write(data)
  file:close()
  local pipe = io.popen("openssl dgst -sha1 -hmac '" .. key .. "' " .. path)
  local output = pipe:read("*a")
  pipe:close()
  os.remove(path)
  return output:match("= (%x+)")
end

return fake_http
