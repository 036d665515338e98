-- Shared by the client specs: the fake Sinch server (support/fake_helper.lua)
-- and clients for it, the misbehaving addresses (support/addresses.lua), and
-- child processes that load this tree's client.
local assert = require "luassert"
local sinchnumbers = require "sinchnumbers"
local fake_helper = require "support.fake_helper"
local addresses = require "support.addresses"
local shell = require "support.shell"

local helper = {}

helper.PROJECT_ID = "test-project"
helper.KEY_ID = "test-key-id"
helper.KEY_SECRET = "test-key-secret"

helper.interpreter = shell.interpreter
helper.start_fake = fake_helper.start
helper.requests_where = fake_helper.requests_where
helper.api_requests = fake_helper.api_requests
helper.token_requests = fake_helper.token_requests
helper.requests_to = fake_helper.requests_to
helper.refused_url = addresses.refused_url
helper.unaccepting_url = addresses.unaccepting_url

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

--- The fake for the enclosing describe (fake_helper.with_fake: started in
-- setup, reset before each test, stopped in teardown) and a maker of its
-- clients: new_client(options) is helper.client(server, options).
function helper.with_fake(options)
  local server = fake_helper.with_fake(options)
  return server, function(client_options) return helper.client(server, client_options) end
end

-- The shell command that runs `code` in a new process of this Lua, with this
-- tree's modules and core; the caller adds redirections and environment.
function helper.lua_command(code)
  local paths = ("package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path; package.cpath = %q"):format(package.cpath)
  return shell.interpreter() .. " -e " .. shell.quote(paths) .. " -e " .. shell.quote(code)
end

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

-- Calls fn and returns its result and the one API request it made (the
-- fake's log, token requests left out); fails the test on an error.
function helper.one_request(server, fn)
  server:clear_requests()
  local result, err = fn()
  assert.is_nil(err, err and tostring(err))
  assert.is_table(result)
  local requests = helper.api_requests(server)
  assert.equal(1, #requests)
  return result, requests[1]
end

-- Rents one of the fake's available numbers and returns it.
function helper.rented_number(client)
  local phone_number = helper.available_number(client)
  assert(client:rent_number(phone_number))
  return phone_number
end

--- Whether the curl engine of client:map runs here (not on PUC Lua 5.1).
function helper.curl_engine_runs()
  local probe = assert(require("sinchnumbers.transport.curl").new())
  local usable = require("sinchnumbers.tasks.curl").usable { transport = probe }
  probe:close()
  return usable
end

return helper
