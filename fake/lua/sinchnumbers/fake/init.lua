--- sinchnumbers.fake: a stateful fake of the Sinch Numbers API on loopback.
--
-- It keeps an inventory of numbers to rent, the project's active numbers,
-- their emergency addresses, its number orders and its callback
-- configuration, on a clock that tests can move forward; checks credentials
-- (Basic, or Bearer tokens from its `/oauth2/token`) and every request
-- against the API; answers errors the way Sinch does; and can be told to
-- misbehave through its control paths under `/_fake/`. It listens on 127.0.0.1 only and speaks
-- plain HTTP. The wire behaviour and the control paths are described in
-- doc/fake-server.md; the `sinchnumbers-fake` command (`sinchnumbers.fake.cli`)
-- runs it from the shell.
-- @module sinchnumbers.fake
-- @usage
-- local fake = require "sinchnumbers.fake"
-- local server = assert(fake.new{ port = 0 })   -- in this process
-- print(server:url()); server:run()
--
-- local h = fake.spawn{ token_ttl = 5 }          -- in a background process
-- -- ... h.url ..., h:script{ path = "activeNumbers", status = 503 }, h:stop()
local socket = require "socket"
local api = require "sinchnumbers.fake.api"
local auth = require "sinchnumbers.fake.auth"
local control = require "sinchnumbers.fake.control"
local errors = require "sinchnumbers.fake.errors"
local faults = require "sinchnumbers.fake.faults"
local http = require "sinchnumbers.fake.http"
local inventory = require "sinchnumbers.fake.inventory"
local orders = require "sinchnumbers.fake.orders"
local project = require "sinchnumbers.fake.project"

local fake = {}

--- The options of `new` and `spawn`, with their defaults.
-- @table DEFAULTS
-- @tfield[opt=0] int port the port on 127.0.0.1; 0 picks a free one
-- @tfield[opt="test-project"] string project_id the one project it serves
-- @tfield[opt="test-key-id"] string key_id the key id it accepts
-- @tfield[opt="test-key-secret"] string key_secret the key secret it accepts
-- @tfield[opt=3600] number token_ttl lifetime in seconds of the OAuth2 tokens it issues
-- @tfield[opt=1] int seed the inventory: same seed, same numbers
-- @tfield[opt="test-hmac-secret"] string hmac_secret the project's callback `hmacSecret` at start
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

-- Credentials never go into the request log: people point real ones at the
-- fake by mistake. The log keeps the scheme and a fingerprint, so a test can
-- still tell one credential from another: 8 hex digits of a polynomial hash
-- modulo the largest prime below 2^32 (exact in doubles and integers alike),
-- seeded anew by every server, so the log alone cannot confirm a guess.
local MASKED_HEADERS = { authorization = true, ["proxy-authorization"] = true }
local FINGERPRINT_MODULUS = 4294967291

local function fingerprint(seed, text)
  local hash = seed
  for i = 1, #text do hash = (hash * 257 + text:byte(i)) % FINGERPRINT_MODULUS end
  return ("%08x"):format(hash)
end

-- Four bytes of /dev/urandom where there is one, on top of the time.
local function fingerprint_seed()
  local seed = math.floor(socket.gettime() * 1e6)
  local source = io.open("/dev/urandom", "rb")
  if source then
    local a, b, c, d = (source:read(4) or ""):byte(1, 4)
    source:close()
    if d then seed = seed + ((a * 256 + b) * 256 + c) * 256 + d end
  end
  return seed % FINGERPRINT_MODULUS
end

-- "Bearer abc" -> "Bearer masked:1a2b3c4d"; a value without a scheme -> "masked:...".
local function masked(seed, value)
  local scheme, credential = value:match("^(%S+)%s+(.*)$")
  if not scheme then scheme, credential = nil, value end
  return (scheme and scheme .. " " or "") .. "masked:" .. fingerprint(seed, credential)
end

local Fake = {}
Fake.__index = Fake

--- Creates a server listening on 127.0.0.1, in this process. It serves
-- only while `Fake:run` or `Fake:step` runs.
-- @tparam[opt] table options as `DEFAULTS`; an unknown name is an error
-- @treturn[1] Fake the server
-- @treturn[2] nil
-- @treturn[2] string a message
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
  self.fingerprint_seed = fingerprint_seed()
  self:reset()
  return self
end

--- A server made by `new`.
-- @type Fake

--- Back to the start: the same inventory (same seed), no active numbers, no
-- number orders, no scripts, an empty log, the clock at the real time;
-- tokens issued so far answer as expired.
function Fake:reset()
  self.inventory = inventory.new(self.config.seed)
  self.project = project.new(self.config.project_id, self.config.hmac_secret)
  self.orders = orders.new()
  self.clock_offset = 0
  self.auth:expire_all()
  self.scripts = {}
  self.log = {}
end

-- The fake's clock: the real time, plus what POST /_fake/clock advanced it by.
-- Tokens, number orders, timestamps and events all follow it.
function Fake:now()
  return socket.gettime() + self.clock_offset
end

--- The base URL, such as `"http://127.0.0.1:40123"`. The token endpoint is
-- this plus `"/oauth2/token"`.
-- @treturn string
function Fake:url()
  return string.format("http://127.0.0.1:%d", self.server.port)
end

function Fake:log_request(request)
  if #self.log >= LOG_LIMIT then
    local newer = {}
    for i = #self.log - LOG_KEPT_ON_TRIM + 1, #self.log do newer[#newer + 1] = self.log[i] end
    self.log = newer
  end
  local headers = {}
  for name, value in pairs(request.headers) do
    headers[name] = MASKED_HEADERS[name] and masked(self.fingerprint_seed, value) or value
  end
  self.log[#self.log + 1] = {
    method = request.method,
    path = request.target,
    headers = headers,
    body = request.body,
    -- The real time, not the fake's clock (which a test may move on).
    received_at = socket.gettime(),
  }
end

function Fake:route(request, reply)
  orders.expire_due(self)
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

--- One round of the select loop, waiting at most `timeout` seconds (nil: until
-- something happens). For embedding the fake in another loop or a test.
-- @tparam[opt] number timeout seconds
function Fake:step(timeout)
  self.server:step(timeout)
end

--- Serves until close() is called or the process is killed.
function Fake:run()
  while not self.closed do self.server:step() end
end

--- Stops listening and closes every connection. Safe to call twice.
function Fake:close()
  if self.closed then return end
  self.closed = true
  self.server:close()
end

--- (the end of class Fake)
-- @section end

--- Starts a fake in a background process under the same Lua (by default),
-- waits until it listens (at most 5 s) and returns a `Handle` that drives it.
-- Stop it with `Handle:stop` (in a busted `teardown`, say); if this process
-- ends first (an error before `stop`, say), the server notices within half a
-- second and exits too. It runs the module `sinchnumbers.fake.cli` from the
-- tree this module was loaded from (a checkout, a LuaRocks tree, `make
-- install`), with this process's `package.path` and `package.cpath`; never a
-- script from `PATH`.
-- @tparam[opt] table options as `DEFAULTS`, and `lua`: the interpreter to run it
-- (default: the one running this code)
-- @treturn Handle
-- @raise when an option is unknown or the server does not start
-- @usage local h = fake.spawn{ token_ttl = 60 }
-- local client = assert(sinchnumbers.new{
--   base_url = h.url, auth_url = h.url .. "/oauth2/token",
--   project_id = "test-project", key_id = "test-key-id", key_secret = "test-key-secret",
-- })
-- -- ...
-- h:stop()
function fake.spawn(options)
  return require("sinchnumbers.fake.spawn").start(options)
end

return fake
