-- sinchnumbers.fake: a stateful fake of the Sinch Numbers API on loopback.
--
--   local fake = require "sinchnumbers.fake"
--   local server = assert(fake.new{ port = 0 })   -- in this process
--   print(server:url()); server:run()
--
--   local h = fake.spawn{ token_ttl = 5 }          -- in a background process
--   ... h.url ..., h:script{ path = "activeNumbers", status = 503 }, h:stop()
--
-- The wire behaviour, the control paths under /_fake/ and the options are
-- described in doc/fake-server.md.
local socket = require "socket"
local api = require "sinchnumbers.fake.api"
local auth = require "sinchnumbers.fake.auth"
local control = require "sinchnumbers.fake.control"
local errors = require "sinchnumbers.fake.errors"
local faults = require "sinchnumbers.fake.faults"
local http = require "sinchnumbers.fake.http"
local inventory = require "sinchnumbers.fake.inventory"
local project = require "sinchnumbers.fake.project"

local fake = {}

fake.DEFAULTS = {
  port = 0,
  project_id = "test-project",
  key_id = "test-key-id",
  key_secret = "test-key-secret",
  token_ttl = 3600,
  seed = 1,
  hmac_secret = "test-hmac-secret",
}

local OPTION_TYPES = {
  port = "number", project_id = "string", key_id = "string", key_secret = "string",
  token_ttl = "number", seed = "number", hmac_secret = "string",
}

-- The log keeps the newest requests only, so a long benchmark run against the
-- fake does not grow its memory without bound.
local LOG_LIMIT = 20000
local LOG_KEPT_ON_TRIM = 10000

local Fake = {}
Fake.__index = Fake

-- Creates a server listening on 127.0.0.1. Returns it, or nil and a message.
function fake.new(options)
  options = options or {}
  local config = {}
  for name in pairs(options) do
    if not OPTION_TYPES[name] then return nil, "sinchnumbers.fake: unknown option " .. tostring(name) end
  end
  for name, default in pairs(fake.DEFAULTS) do
    local value = options[name]
    if value == nil then value = default end
    if type(value) ~= OPTION_TYPES[name] then
      return nil, string.format("sinchnumbers.fake: option %s must be a %s", name, OPTION_TYPES[name])
    end
    config[name] = value
  end
  local self = setmetatable({ config = config }, Fake)
  local server, err = http.new_server({
    host = "127.0.0.1",
    port = config.port,
    handler = function(request, reply) self:handle(request, reply) end,
  })
  if not server then
    return nil, string.format("sinchnumbers.fake: cannot listen on 127.0.0.1:%s: %s", tostring(config.port), err)
  end
  self.server = server
  self.auth = auth.new(config)
  self:reset()
  return self
end

-- Back to the start: the same inventory (same seed), no active numbers, no
-- scripts, an empty log; tokens issued so far answer as expired.
function Fake:reset()
  self.inventory = inventory.new(self.config.seed)
  self.project = project.new(self.config.project_id, self.config.hmac_secret)
  self.auth:expire_all()
  self.scripts = {}
  self.log = {}
end

function Fake.now()
  return socket.gettime()
end

function Fake:url()
  return string.format("http://127.0.0.1:%d", self.server.port)
end

function Fake:log_request(request)
  if #self.log >= LOG_LIMIT then
    local newer = {}
    for i = #self.log - LOG_KEPT_ON_TRIM + 1, #self.log do newer[#newer + 1] = self.log[i] end
    self.log = newer
  end
  self.log[#self.log + 1] = {
    method = request.method,
    path = request.target,
    headers = request.headers,
    body = request.body,
  }
end

function Fake:route(request, reply)
  if request.path:sub(1, 7) == "/_fake/" then
    control.handle(self, request, reply)
    return
  end
  self:log_request(request)
  local function serve() return api.handle(self, request) end
  local script = faults.take(self.scripts, request)
  if script then
    faults.respond(script, serve, function(seconds, fn) self.server:after(seconds, fn) end, reply)
  else
    reply(serve())
  end
end

-- A bug must cost one request a 500, not the whole server.
function Fake:handle(request, reply)
  local ok, err = pcall(self.route, self, request, reply)
  if not ok then
    io.stderr:write("sinchnumbers-fake: internal error: ", tostring(err), "\n")
    reply(errors.response(500, "Internal error in the fake server: " .. tostring(err)))
  end
end

-- One round of the select loop, waiting at most `timeout` seconds (nil: until
-- something happens). For embedding the fake in another loop or a test.
function Fake:step(timeout)
  self.server:step(timeout)
end

-- Serves until close() is called or the process is killed.
function Fake:run()
  while not self.closed do self.server:step() end
end

function Fake:close()
  if self.closed then return end
  self.closed = true
  self.server:close()
end

function fake.spawn(options)
  return require("sinchnumbers.fake.spawn").start(options)
end

return fake
