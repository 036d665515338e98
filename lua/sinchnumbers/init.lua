-- sinchnumbers: a Lua client for the Sinch Numbers API.
--
--   local sinchnumbers = require "sinchnumbers"
--   local client = assert(sinchnumbers.new{ project_id = ..., key_id = ..., key_secret = ... })
--   local page = assert(client:list_active_numbers{ regionCode = "US" })
--
-- Every endpoint method is generated from the plan that request.lua
-- compiles from the endpoint table (sinchnumbers/endpoints.lua); policy
-- (retries, errors, confirmations) lives in the pipeline object
-- (sinchnumbers/pipeline.lua) that each client holds, with its auth
-- (sinchnumbers/auth.lua). Methods return the decoded JSON object, or
-- nil, err; only the iterators raise (see errors.lua for the rule).
--
-- JSON null in an answer is `sinchnumbers.null` (the same value as
-- `cjson.null`); in a body it is sent as null, in query parameters it means
-- "leave it out".

local auth = require "sinchnumbers.auth"
local endpoints = require "sinchnumbers.endpoints"
local errors = require "sinchnumbers.errors"
local json = require "sinchnumbers.json"
local log = require "sinchnumbers.log"
local map = require "sinchnumbers.map"
local pager = require "sinchnumbers.pager"
local pipeline = require "sinchnumbers.pipeline"
local request = require "sinchnumbers.request"
local contract = require "sinchnumbers.transport.contract"
local validate = require "sinchnumbers.validate"
local webhooks = require "sinchnumbers.webhooks"

local sinchnumbers = {
  _VERSION = require "sinchnumbers.version",
  null = json.null,
  verify_signature = webhooks.verify_signature,
  verify_request = webhooks.verify_request,
  parse_event = webhooks.parse_event,
}

-- The transport's options (timeout, connect_timeout, max_body_size) take
-- their defaults and checks from the transport contract.
local DEFAULTS = {
  auth = "oauth2",
  base_url = "https://numbers.api.sinch.com",
  auth_url = "https://auth.sinch.com/oauth2/token",
  timeout = contract.DEFAULTS.timeout,
  connect_timeout = contract.DEFAULTS.connect_timeout,
  max_retries = 2,
  max_body_size = contract.DEFAULTS.max_body_size,
}

local has_methods = validate.has_methods

local function non_empty(name, secret)
  return {
    name = name, type = "string", required = true, secret = secret,
    pattern = "%S", expect = "a non-empty string",
  }
end

local function url_option(name)
  return { name = name, type = "string", pattern = "^https?://[^%s]+$", expect = "an http:// or https:// URL" }
end

-- The project id is one path segment of every URL: "." or ".." would climb
-- out of /v1/projects/, and "/", "?" or "#" could only be a typo.
local function project_id_fits(value)
  return type(value) == "string" and value:find("%S") ~= nil and value ~= "." and value ~= ".."
    and not value:find("[/?#]")
end

-- Seconds for a whole call: token, tries, waits and confirmation.
local DEADLINE = contract.seconds_field("deadline")
local MAX_RETRIES = { name = "max_retries", type = "integer", min = 0, max = 10 }

-- What one call may set for itself, over the client's options (the last
-- argument of every endpoint method).
local CALL_OPTIONS = validate.compile {
  type = "object",
  fields = { contract.FIELD.timeout, contract.FIELD.connect_timeout, MAX_RETRIES, DEADLINE },
}

local OPTIONS = validate.compile {
  type = "object",
  fields = {
    { name = "project_id", required = true, check = project_id_fits,
      expect = 'your Sinch project id: a non-empty string other than "." or "..", without "/", "?" or "#"' },
    non_empty("key_id"),
    non_empty("key_secret", true),
    { name = "auth", type = "string", enum = { "oauth2", "basic" } },
    url_option("base_url"),
    url_option("auth_url"),
    contract.FIELD.timeout,
    contract.FIELD.connect_timeout,
    DEADLINE,
    MAX_RETRIES,
    -- Requests started per second by every call of the client (budget.lua).
    { name = "rate_limit", type = "integer", min = 1, max = 1000 },
    contract.FIELD.max_body_size,
    -- The application's own product token, sent after ours.
    { name = "user_agent", type = "string", pattern = "^[^%z\r\n]*%S[^%z\r\n]*$",
      expect = 'a product token of your application such as "myapp/1.2", without a line break' },
    {
      name = "transport",
      check = function(value)
        return value == "curl" or value == "ngx" or has_methods(value, { "request" })
      end,
      expect = '"curl", "ngx", or an object with a request(method, url, headers, body, opts) method',
    },
    {
      name = "token_cache",
      check = function(value) return has_methods(value, { "get", "set" }) end,
      expect = "an object with get(key) and set(key, value, ttl) methods, like ngx.shared.DICT",
    },
    -- sleep(seconds) waits between retries; ngx.sleep under OpenResty.
    { name = "sleep", type = "function" },
    -- on_request{ method, url, status, duration, attempt, error, headers }
    -- after every attempt (see pipeline.lua); Authorization is redacted.
    { name = "on_request", type = "function" },
    -- logger(level, message, fields), for messages at log_level and above.
    { name = "logger", type = "function" },
    { name = "log_level", type = "string", enum = log.LEVELS },
    -- false: send enum values the library does not know yet, with a warning.
    { name = "strict", type = "boolean" },
    -- The TLS files and the proxy, passed to the transport as they are (under
    -- nginx the cosocket transport refuses the TLS files, naming the directive
    -- to use); last, as only the last expression of a constructor expands.
    (table.unpack or unpack)(contract.CLIENT_FIELDS),
  },
}

-- Inside nginx, in a phase where cosockets work (the cosocket transport
-- keeps the list of phases).
local function cosockets_usable()
  return rawget(_G, "ngx") ~= nil and require("sinchnumbers.transport.ngx").usable()
end

-- Which transport to use: the caller's choice, else "ngx" where OpenResty
-- lets us use cosockets, else the libcurl one.
local function transport_kind(choice)
  if choice ~= nil then return choice end
  return cosockets_usable() and "ngx" or "curl"
end

-- The transport `kind` names, made with the client's options; or the
-- caller's own transport. Returns nil, err when it cannot be made.
local function make_transport(kind, options)
  if kind ~= "curl" and kind ~= "ngx" then return kind end
  local transport_options = {
    timeout = options.timeout, connect_timeout = options.connect_timeout, max_body_size = options.max_body_size,
    user_agent = options.user_agent and contract.USER_AGENT .. " " .. options.user_agent or nil,
    -- The pipeline reads answer headers only on failures (Retry-After,
    -- WWW-Authenticate): a 2xx gets an empty table, not a parsed one.
    success_headers = false,
  }
  for _, field in ipairs(contract.CLIENT_FIELDS) do transport_options[field.name] = options[field.name] end
  return require("sinchnumbers.transport." .. kind).new(transport_options)
end

-- How to wait between retries without busy-waiting: ngx.sleep yields to
-- nginx (also for a caller's own transport, which under OpenResty is most
-- likely built on cosockets); elsewhere luasocket's sleep, or the sleep command.
local function default_sleep(kind)
  if kind == "ngx" or (kind ~= "curl" and cosockets_usable()) then return rawget(_G, "ngx").sleep end
  local has_socket, socket = pcall(require, "socket")
  if has_socket and socket.sleep then return socket.sleep end
  return function(seconds) os.execute(string.format("sleep %.3f", seconds)) end
end

-- Seconds since the epoch, with fractions where the platform has them.
local function default_clock()
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.now then return ngx.now end
  local has_socket, socket = pcall(require, "socket")
  if has_socket and socket.gettime then return socket.gettime end
  return os.time
end

-- The same, read fresh for timing requests: ngx.now() is the time the
-- event loop last looked, which lags behind while a request waits.
local function precise_clock(clock)
  local ngx = rawget(_G, "ngx")
  if clock == (ngx and ngx.now) and ngx.update_time then
    return function()
      ngx.update_time()
      return ngx.now()
    end
  end
  return clock
end

local Client = {}
Client.__index = Client

function Client.__tostring(client)
  return "sinchnumbers client (project " .. client.project_id .. ", " .. client.base_url .. ")"
end

-- The client that client:map hands to fn: the client's methods and
-- requests, its calls through the engine's view of the client's pipeline
-- (map.lua). Not a Client by its metatable; its close() closes the client
-- it stands for.
local TaskClient = { __index = Client, __tostring = Client.__tostring }

local function task_client(client, task_pipeline)
  return setmetatable({
    project_id = client.project_id,
    base_url = client.base_url,
    _lenient = client._lenient,
    _requests = client._requests,
    _pipeline = task_pipeline,
    _stands_for = client,
  }, TaskClient)
end

-- The endpoint table stays as written; the methods and the requests of
-- each client are made from this plan.
local PLAN = request.compile(endpoints)

local function argument_names(plan)
  local names = {}
  for _, placeholder in ipairs(plan.placeholders) do names[#names + 1] = placeholder.name end
  if plan.query then names[#names + 1] = "params" end
  if plan.multipart_part then
    names[#names + 1] = "file"
  elseif plan.body then
    names[#names + 1] = "body"
  end
  return table.concat(names, ", ")
end

-- Longer __index chains than this are not followed (nor are loops).
local MAX_INHERITANCE = 100

-- The client that `value` is, or inherits from through __index tables
-- (`setmetatable({}, { __index = client })`); nil for anything else, such as
-- the phone number of `client.get_active_number(phone)`, called without the colon.
-- A task's client (TaskClient) counts as a client of its own.
local function client_behind(value)
  for _ = 1, MAX_INHERITANCE do
    if type(value) ~= "table" then return nil end
    local meta = getmetatable(value)
    if meta == Client or meta == TaskClient then return value end
    value = type(meta) == "table" and rawget(meta, "__index") or nil
  end
end

-- The n-th of a method's arguments and the one after it.
local function argument_pair(n, first, second, third, fourth, fifth)
  if n == 1 then return first, second end
  if n == 2 then return second, third end
  if n == 3 then return third, fourth end
  return fourth, fifth
end

-- A call's options, checked, as the pipeline for that call; or nil, err.
local function call_pipeline(self, name, usage, options)
  if type(options) ~= "table" then
    return nil, errors.invalid_argument(name .. ": the call options must be a table ("
      .. table.concat(CALL_OPTIONS.names, ", ") .. "), got a " .. type(options) .. "; it is " .. usage)
  end
  local copy, problem = validate.raw_copy(options, "the call options")
  if not copy then return nil, errors.invalid_argument(name .. ": " .. problem) end
  local message, field = validate.fields(CALL_OPTIONS, copy, "call option")
  if message then return nil, errors.invalid_argument(name .. ": " .. message .. "; it is " .. usage, field) end
  return self._pipeline:for_call(copy)
end

-- One client method from one endpoint plan: check the arguments, build the
-- request, run it through the pipeline. The arguments are the path
-- placeholders' values, in path order, then the params or body, then
-- the call's options (optional).
local function endpoint_method(plan)
  local name, path_values = plan.name, #plan.placeholders
  local takes_input = (plan.query or plan.body) and true or false
  local options_at = path_values + (takes_input and 1 or 0) + 1
  local named = argument_names(plan)
  local usage = name .. "(" .. named .. (named == "" and "[options]" or "[, options]") .. ")"
  -- Fixed arguments (at most request.MAX_PATH_VALUES path values, then the
  -- params or body, then the call options) rather than `...`, so that a
  -- call makes no table.
  return function(object, first, second, third, fourth, fifth)
    local self = client_behind(object)
    if not self then
      return nil, errors.invalid_argument("call it as client:" .. usage .. ", with a colon")
    end
    local input = takes_input and argument_pair(path_values + 1, first, second, third, fourth) or nil
    local options, extra = argument_pair(options_at, first, second, third, fourth, fifth)
    if extra ~= nil then
      return nil, errors.invalid_argument("too many arguments: it is " .. usage)
    end
    local prepared = self._requests[name]
    local unknown = self._lenient and {}
    local url, body, content_type = request.build(plan, prepared.url_prefix, input, first, second, unknown)
    if not url then return nil, body end
    local runner = self._pipeline
    if options ~= nil then
      local problem
      runner, problem = call_pipeline(self, name, usage, options)
      if not runner then return nil, problem end
    end
    if unknown and unknown[1] and runner.logging.warn then
      local values = table.concat(unknown, ", ")
      runner:note("warn", name .. ": sending values the library does not know (strict = false): " .. values,
        { method = plan.method, values = values })
    end
    return runner:call(prepared, url, body, content_type, path_values > 0 and first or nil)
  end
end

for _, plan in ipairs(PLAN) do
  Client[plan.name] = endpoint_method(plan)
end

-- Releases the handles of the transport the client made (a transport of
-- the caller's own is the caller's to close); every later call returns
-- nil, err. Safe to call more than once; also the client's __close (a
-- `<close>` variable on 5.4). Not its __gc: a call's pipeline outlives the
-- client table (`sinchnumbers.new{...}:get_active_number(n)` drops it before
-- the answer), and the libcurl transport's own __gc frees its handle once
-- no pipeline uses it.
function Client:close()
  local client = client_behind(self)
  if client then (client._stands_for or client)._pipeline:close() end
  return true
end
Client.__close = Client.close

-- Calls fn(client, item, index) for every item, in tasks that run at once
-- (map.lua); returns results, summary, or nil, err.
function Client:map(items, fn, options)
  local client = client_behind(self)
  if not client then
    return nil, errors.invalid_argument("call it as client:map(items, fn[, options]), with a colon")
  end
  return map.run(client._pipeline, items, fn, options, function(task_pipeline)
    return task_client(client._stands_for or client, task_pipeline)
  end)
end

-- The bulk helpers (rent_numbers, update_active_numbers, release_numbers,
-- get_active_numbers): one endpoint method over many phone numbers, on map.
for name, bulk in pairs(map.BULK) do
  local plan, usage = PLAN.by_name[bulk.method], name .. bulk.arguments
  Client[name] = function(object, phone_numbers, ...)
    local client = client_behind(object)
    if not client then return nil, errors.invalid_argument("call it as client:" .. usage .. ", with a colon") end
    local prepared = client._requests[bulk.method]
    return map.bulk(client, bulk, phone_numbers, function(phone_number, body)
      local url, problem = request.build(plan, prepared.url_prefix, body, phone_number, nil, client._lenient and {})
      return url ~= nil, problem
    end, usage, ...)
  end
end

-- Iterator over pages of list_active_numbers (each the decoded answer).
function Client:active_number_pages(params)
  return pager.pages(self, params)
end

-- Iterator over the active numbers of every page.
function Client:each_active_number(params)
  return pager.each(self, params)
end

-- Every active number (or the first `limit`) as one array, or nil, err.
function Client:all_active_numbers(params, limit)
  return pager.all(self, params, limit)
end

-- The top level of an options table, read raw: its values (a transport, a
-- token cache) are the caller's objects and stay as they are.
local function raw_options(options)
  local copy = {}
  for name, value in next, options do copy[name] = value end
  return copy
end

-- The logger and its level: the caller's (at "info" unless log_level says
-- otherwise); with SINCH_DEBUG=1 in the environment, everything from
-- "debug" on, to the caller's logger or else to stderr (nginx's error log).
local function logging(settings)
  local debugging = os.getenv("SINCH_DEBUG") == "1"
  local logger = settings.logger or (debugging and log.default) or nil
  return logger, settings.log_level or (debugging and "debug") or "info"
end

function sinchnumbers.new(options)
  if type(options) ~= "table" then
    return nil, errors.invalid_argument("sinchnumbers.new: options must be a table with "
      .. table.concat(OPTIONS.names, ", "))
  end
  options = raw_options(options)
  local message, field = validate.fields(OPTIONS, options, "option")
  if message then
    return nil, errors.invalid_argument("sinchnumbers.new: " .. message, field)
  end
  local unpaired = contract.unpaired_key("sinchnumbers.new", options)
  if unpaired then return nil, unpaired end
  local settings = {}
  for name, value in pairs(DEFAULTS) do settings[name] = value end
  for name, value in pairs(options) do settings[name] = value end

  local kind = transport_kind(settings.transport)
  if kind == "ngx" and not require("sinchnumbers.transport.ngx").inside_nginx() then
    return nil, errors.invalid_argument('sinchnumbers.new: transport "ngx" (cosockets) works only inside nginx'
      .. ' with its Lua module (OpenResty); elsewhere use "curl", or leave transport out to pick one', "transport")
  end
  local transport, problem = make_transport(kind, settings)
  if not transport then return nil, problem end
  local base_url = settings.base_url:gsub("/+$", "")
  local clock = default_clock()
  local fresh_clock = precise_clock(clock)
  local sleep = settings.sleep or default_sleep(kind)
  local ngx = rawget(_G, "ngx")
  local logger, log_level = logging(settings)
  -- Secrets stay in the closures of the auth object.
  local credentials = auth.new {
    mode = settings.auth,
    key_id = settings.key_id,
    key_secret = settings.key_secret,
    auth_url = settings.auth_url,
    token_cache = settings.token_cache,
    token_cache_locks = settings.token_cache ~= nil and has_methods(settings.token_cache, { "add" }),
    clock = clock,
    fresh_clock = fresh_clock,
  }
  return setmetatable({
    project_id = settings.project_id,
    base_url = base_url,
    _pipeline = pipeline.new {
      transport = transport,
      owns_transport = transport ~= settings.transport,
      auth = credentials,
      clock = clock,
      precise_clock = fresh_clock,
      sleep = sleep,
      -- ngx.sleep lets the rest of the worker run while a call waits.
      sleep_yields = ngx ~= nil and sleep == ngx.sleep,
      rate_limit = settings.rate_limit,
      max_retries = settings.max_retries,
      timeouts = { timeout = settings.timeout, connect_timeout = settings.connect_timeout },
      on_request = settings.on_request,
      logger = logger,
      log_level = log_level,
      deadline = settings.deadline,
    },
    -- strict = false: enum values the library does not know are sent.
    _lenient = settings.strict == false or nil,
    -- Each endpoint's plan with this client's URL prefix, made once.
    _requests = request.prepare(PLAN, base_url, settings.project_id),
  }, Client)
end

local ENVIRONMENT = {
  { option = "project_id", variable = "SINCH_PROJECT_ID", required = true },
  { option = "key_id", variable = "SINCH_KEY_ID", required = true },
  { option = "key_secret", variable = "SINCH_KEY_SECRET", required = true },
  { option = "base_url", variable = "SINCH_NUMBERS_URL" },
  { option = "auth_url", variable = "SINCH_AUTH_URL" },
}

-- A client from SINCH_PROJECT_ID, SINCH_KEY_ID, SINCH_KEY_SECRET and the
-- optional SINCH_NUMBERS_URL and SINCH_AUTH_URL; `options` (optional) adds
-- or overrides options.
function sinchnumbers.from_env(options)
  options = options or {}
  if type(options) ~= "table" then
    return nil, errors.invalid_argument("sinchnumbers.from_env: options must be a table")
  end
  options = raw_options(options)
  local settings = {}
  for _, entry in ipairs(ENVIRONMENT) do
    local value = os.getenv(entry.variable)
    if value == "" then value = nil end
    if entry.required and not value and not options[entry.option] then
      return nil, errors.invalid_argument("sinchnumbers.from_env: " .. entry.variable
        .. " is not set (it gives the " .. entry.option .. " option)", entry.option)
    end
    settings[entry.option] = value
  end
  for name, value in pairs(options) do settings[name] = value end
  return sinchnumbers.new(settings)
end

return sinchnumbers
