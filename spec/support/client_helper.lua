-- Shared by the client specs: starts the fake Sinch server in its own
-- process under the same Lua that runs busted, and makes clients for it.
local sinchnumbers = require "sinchnumbers"
local fake = require "sinchnumbers.fake"
local addresses = require "support.addresses"

local helper = {}

helper.PROJECT_ID = "test-project"
helper.KEY_ID = "test-key-id"
helper.KEY_SECRET = "test-key-secret"

-- The interpreter running this process, by its Debian name (busted's
-- --lua=... re-runs it; a plain `busted` runs whatever `lua` is).
function helper.interpreter()
  if rawget(_G, "jit") then return "luajit" end
  return "lua" .. _VERSION:match("%d+%.%d+")
end

function helper.start_fake(options)
  options = options or {}
  options.lua = helper.interpreter()
  return fake.spawn(options)
end

-- Records the waits between retries instead of waiting.
function helper.sleep_recorder()
  local waits = {}
  return waits, function(seconds) waits[#waits + 1] = seconds end
end

-- A client of the fake; `options` adds to or overrides the defaults.
function helper.client(server, options)
  local settings = {
    project_id = helper.PROJECT_ID,
    key_id = helper.KEY_ID,
    key_secret = helper.KEY_SECRET,
    base_url = server.url,
    auth_url = server.url .. "/oauth2/token",
    timeout = 5,
    sleep = function() end,
  }
  for name, value in pairs(options or {}) do settings[name] = value end
  return assert(sinchnumbers.new(settings))
end

-- The requests the fake saw, without the ones to the token endpoint.
function helper.api_requests(server)
  local found = {}
  for _, request in ipairs(server:requests()) do
    if not request.path:find("^/oauth2/token") then found[#found + 1] = request end
  end
  return found
end

function helper.token_requests(server)
  local found = {}
  for _, request in ipairs(server:requests()) do
    if request.path:find("^/oauth2/token") then found[#found + 1] = request end
  end
  return found
end

-- Misbehaving loopback addresses (see support/addresses.lua).
helper.refused_url = addresses.refused_url
helper.unaccepting_url = addresses.unaccepting_url

-- The path of the project's resources on the fake.
function helper.path(rest)
  return "/v1/projects/" .. helper.PROJECT_ID .. rest
end

-- One phone number the fake has for rent.
function helper.available_number(client, region, number_type)
  local list = assert(client:list_available_numbers {
    regionCode = region or "US", type = number_type or "LOCAL", size = 1,
  })
  return list.availableNumbers[1].phoneNumber
end

return helper
