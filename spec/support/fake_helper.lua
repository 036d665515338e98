-- The fake Sinch server for the specs: one per describe block, and filters
-- over its request log. It needs only the fake, not the client, so the fake's
-- own spec uses it too (support/client_helper.lua adds the client).
--
--   describe("...", function()
--     local server = fake_helper.with_fake { token_ttl = 61 }
--     it("...", function() server:script { path = ":rent", status = 503 } ... end)
--   end)
local busted = require "busted"
local fake = require "sinchnumbers.fake"
local shell = require "support.shell"

local fake_helper = {}

local TOKEN_PATH = "^/oauth2/token"

--- Starts a fake in its own process, under the Lua that runs busted.
-- `options` as fake.spawn's.
function fake_helper.start(options)
  local settings = { lua = shell.interpreter() }
  for name, value in pairs(options or {}) do settings[name] = value end
  return fake.spawn(settings)
end

-- What the handle is until setup has started the fake: busted reads a
-- describe block before it runs any setup.
local NOT_STARTED = { __index = function(_, key)
  error("the fake starts in setup: use its " .. tostring(key) .. " inside it, before_each or after", 2)
end }

--- Starts a fake (fake.spawn `options`) once for the enclosing describe, in
-- setup; resets it before each test (state, scripts and request log back to
-- the start: fake's reset); stops it in teardown. Returns its handle, which
-- is the started fake's from setup on.
function fake_helper.with_fake(options)
  local server = setmetatable({}, NOT_STARTED)
  busted.setup(function()
    local started = fake_helper.start(options)
    for name, value in pairs(started) do server[name] = value end
    setmetatable(server, getmetatable(started))
  end)
  busted.before_each(function()
    server:reset()
  end)
  busted.teardown(function()
    if rawget(server, "pid") then server:stop() end
  end)
  return server
end

--- The logged requests for which keep(request) is true, oldest first.
function fake_helper.requests_where(server, keep)
  local found = {}
  for _, request in ipairs(server:requests()) do
    if keep(request) then found[#found + 1] = request end
  end
  return found
end

--- The requests the fake saw, without the ones to the token endpoint.
function fake_helper.api_requests(server)
  return fake_helper.requests_where(server, function(request) return not request.path:find(TOKEN_PATH) end)
end

--- The requests to the token endpoint.
function fake_helper.token_requests(server)
  return fake_helper.requests_where(server, function(request) return request.path:find(TOKEN_PATH) ~= nil end)
end

--- The requests with this method (any, if nil) and `fragment` in the path (with its query).
function fake_helper.requests_to(server, method, fragment)
  return fake_helper.requests_where(server, function(request)
    return (method == nil or request.method == method) and request.path:find(fragment, 1, true) ~= nil
  end)
end

return fake_helper
