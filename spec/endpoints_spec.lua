-- The endpoint table is data: loading the library and calling every method
-- leaves it as written. And the fake serves every method and path in it, so
-- that a new endpoint cannot be added to the client without the fake.
local helper = require "support.client_helper"
local http = require "socket.http"
local ltn12 = require "ltn12"

-- Anything loaded from this checkout's Lua files is loaded afresh below,
-- so the table is copied before the client's code has seen it.
local function forget_lua_modules()
  for name in pairs(package.loaded) do
    if name:find("^sinchnumbers") and package.searchpath(name, package.path) then
      package.loaded[name] = nil
    end
  end
end

local function deep_copy(value, seen)
  if type(value) ~= "table" then return value end
  seen = seen or {}
  if seen[value] then return seen[value] end
  local copy = {}
  seen[value] = copy
  for key, item in pairs(value) do copy[deep_copy(key, seen)] = deep_copy(item, seen) end
  return setmetatable(copy, getmetatable(value))
end

-- A value for each kind of path placeholder, as the client takes it and as
-- the path has it.
local SAMPLE = {
  phone_number = { value = "+12065550100", in_path = "%2B12065550100" },
  order_id = { value = "fake-order-000001", in_path = "fake-order-000001" },
  attachment_id = { value = "proof-of-address", in_path = "proof-of-address" },
}

local function path_arguments(endpoint, bad)
  local values = {}
  for name in endpoint.path:gmatch("{([%w_]+)}") do
    if name ~= "project_id" then values[#values + 1] = bad and "not/an id" or SAMPLE[name].value end
  end
  return values
end

describe("the endpoint table", function()
  local server

  setup(function()
    server = helper.start_fake()
  end)

  teardown(function()
    server:stop()
  end)

  it("is not changed by loading the library, making a client and calling every method", function()
    forget_lua_modules()
    local endpoints = require "sinchnumbers.endpoints"
    local as_written = deep_copy(endpoints)
    local sinchnumbers = require "sinchnumbers"
    local client = assert(sinchnumbers.new {
      project_id = helper.PROJECT_ID, key_id = helper.KEY_ID, key_secret = helper.KEY_SECRET,
      base_url = server.url, auth_url = server.url .. "/oauth2/token", timeout = 5, sleep = function() end,
    })
    local unpack = table.unpack or unpack
    for _, endpoint in ipairs(endpoints) do
      local method = client[endpoint.name]
      local arguments = path_arguments(endpoint)
      if #arguments > 0 then
        method(client, unpack(arguments))
        method(client, unpack(path_arguments(endpoint, true)))
      else
        method(client)
        method(client, { regionCode = "US", type = "LOCAL", capabilities = { "SMS" }, unknown = 1 })
      end
    end
    assert.is_true(rawequal(endpoints, require "sinchnumbers.endpoints"))
    assert.same(as_written, endpoints)
  end)

  it("names only methods and paths the fake serves", function()
    local token_body = {}
    local _, token_status = http.request {
      url = server.url .. "/oauth2/token", method = "POST",
      headers = {
        ["Authorization"] = "Basic " .. (require "mime").b64(helper.KEY_ID .. ":" .. helper.KEY_SECRET),
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["Content-Length"] = #"grant_type=client_credentials",
      },
      source = ltn12.source.string("grant_type=client_credentials"),
      sink = ltn12.sink.table(token_body),
    }
    assert.equal(200, token_status)
    local token = assert(table.concat(token_body):match('"access_token"%s*:%s*"([^"]+)"'))
    for _, endpoint in ipairs(require "sinchnumbers.endpoints") do
      local path = endpoint.path:gsub("{project_id}", helper.PROJECT_ID)
        :gsub("{([%w_]+)}", function(name) return SAMPLE[name].in_path end)
      local body = endpoint.body and "{}" or nil
      local answer = {}
      local _, status = http.request {
        url = server.url .. path, method = endpoint.method,
        headers = {
          ["Authorization"] = "Bearer " .. token, ["Content-Type"] = body and "application/json" or nil,
          ["Content-Length"] = body and #body or nil,
        },
        source = body and ltn12.source.string(body) or nil,
        sink = ltn12.sink.table(answer),
      }
      local text = table.concat(answer)
      local what = endpoint.name .. ": " .. endpoint.method .. " " .. path .. " -> " .. tostring(status) .. " " .. text
      assert.is_number(status, what)
      assert.is_not.equal(405, status, what)
      assert.is_nil(status == 404 and text:find("No such resource", 1, true) or nil, what)
    end
  end)
end)
