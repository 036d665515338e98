-- The control paths under /_fake/ that tests use to drive the fake: reset, the
-- request log, scripted faults, token expiry, bulk active numbers, webhook
-- events, the clock and number orders' decisions. No authentication; JSON in
-- and out. They are not logged or scripted.
local errors = require "sinchnumbers.fake.errors"
local faults = require "sinchnumbers.fake.faults"
local json = require "sinchnumbers.fake.json"
local orders = require "sinchnumbers.fake.orders"
local project = require "sinchnumbers.fake.project"
local validate = require "sinchnumbers.fake.validate"
local webhook = require "sinchnumbers.fake.webhook"

local control = {}

local ACTIVE_NUMBERS = { kind = "object", fields = {
  count = { kind = "number", integer = true, min = 1, max = 100000 },
  regionCode = { kind = "string", length = 2 },
  type = { kind = "string", values = validate.NUMBER_TYPES },
} }

local CLOCK = { kind = "object", required = { "advance" }, fields = {
  advance = { kind = "number", min = 0, max = 10 * 365 * 24 * 3600 },
} }

local function ok(value)
  return errors.json_response(200, value)
end

-- Each handler: function(app, request, body, reply, id); `body` is checked
-- against the route's schema first (an empty body counts as {}); `id` is the
-- path segment that stands for "{id}" in the route's name.
local ROUTES = {}

ROUTES["POST /_fake/reset"] = function(app, _, _, reply)
  app:reset()
  reply(ok({ reset = true }))
end

ROUTES["GET /_fake/requests"] = function(app, _, _, reply)
  reply(ok({ requests = json.array(app.log) }))
end

ROUTES["DELETE /_fake/requests"] = function(app, _, _, reply)
  app.log = {}
  reply(ok({ cleared = true }))
end

ROUTES["POST /_fake/script"] = { faults.SCRIPT, function(app, _, body, reply)
  faults.add(app.scripts, body)
  reply(ok({ scripts = faults.describe(app.scripts) }))
end }

ROUTES["GET /_fake/script"] = function(app, _, _, reply)
  reply(ok({ scripts = faults.describe(app.scripts) }))
end

ROUTES["DELETE /_fake/script"] = function(app, _, _, reply)
  app.scripts = {}
  reply(ok({ scripts = json.array() }))
end

ROUTES["POST /_fake/expire_tokens"] = function(app, _, _, reply)
  reply(ok({ expired = app.auth:expire_all() }))
end

ROUTES["POST /_fake/active_numbers"] = { ACTIVE_NUMBERS, function(app, _, body, reply)
  local entries, err = app.inventory:take_many(body.regionCode or "US", body.type or "LOCAL", body.count or 1)
  if not entries then
    reply(errors.invalid_argument({ { field = "count", description = err } }))
    return
  end
  local phones = json.array()
  for _, entry in ipairs(entries) do
    app.project:activate(entry, {}, app:now())
    phones[#phones + 1] = entry.phoneNumber
  end
  reply(ok({ phoneNumbers = phones }))
end }

-- Delivery runs on the server loop, so the callback may itself call the fake
-- (a webhook handler that looks the number up) without a deadlock.
ROUTES["POST /_fake/events"] = { webhook.EVENT, function(app, _, body, reply)
  local number = app.project:get(body.phoneNumber)
  if not number then
    reply(errors.not_found("ActiveNumber", body.phoneNumber))
    return
  end
  if number.callbackUrl == "" then
    reply(errors.invalid_argument({ {
      field = "phoneNumber",
      description = "the number has no callbackUrl; set one with PATCH .../activeNumbers/{phone}",
    } }))
    return
  end
  local payload = webhook.payload(app.project.id, webhook.number_event(body), app:now())
  webhook.deliver(app.server, app.project.hmac_secret, number.callbackUrl, payload, function(result)
    reply(ok(result))
  end)
end }

ROUTES["POST /_fake/clock"] = { CLOCK, function(app, _, body, reply)
  app.clock_offset = app.clock_offset + body.advance
  reply(ok({ now = project.timestamp(app:now()), advanced = app.clock_offset }))
end }

ROUTES["POST /_fake/number_orders/{id}"] = { orders.CONTROL, function(app, _, body, reply, id)
  orders.decide(app, id, body.state, reply)
end }

-- The route for a request, and the "{id}" segment of its path if its route has one.
local function find_route(request)
  local name = request.method .. " " .. request.path
  if ROUTES[name] then return ROUTES[name] end
  local prefix, id = name:match("^(.*/)([^/]+)$")
  local route = ROUTES[prefix .. "{id}"]
  if route then return route, validate.decode_path_segment(id) end
end

local function route_list()
  local names = {}
  for name in pairs(ROUTES) do names[#names + 1] = name end
  table.sort(names)
  return table.concat(names, ", ")
end

function control.handle(app, request, reply)
  local route, id = find_route(request)
  if not route then
    reply(errors.response(404, "Unknown control path; these exist: " .. route_list()))
    return
  end
  local schema, handler = { kind = "object", fields = {} }, route
  if type(route) == "table" then schema, handler = route[1], route[2] end
  local body, violations = validate.body(schema, request.body, true)
  if not body then
    reply(errors.invalid_argument(violations))
    return
  end
  handler(app, request, body, reply, id)
end

return control
