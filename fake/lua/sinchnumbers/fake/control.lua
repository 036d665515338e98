-- The control paths under /_fake/ that tests use to drive the fake: reset, the
-- request log, scripted faults, token expiry, bulk active numbers and webhook
-- events. No authentication; JSON in and out. They are not logged or scripted.
local errors = require "sinchnumbers.fake.errors"
local faults = require "sinchnumbers.fake.faults"
local json = require "sinchnumbers.fake.json"
local validate = require "sinchnumbers.fake.validate"
local webhook = require "sinchnumbers.fake.webhook"

local control = {}

local ACTIVE_NUMBERS = { kind = "object", fields = {
  count = { kind = "number", integer = true, min = 1, max = 100000 },
  regionCode = { kind = "string", length = 2 },
  type = { kind = "string", values = validate.NUMBER_TYPES },
} }

local function ok(value)
  return errors.json_response(200, value)
end

-- Each handler: function(app, request, body, reply); `body` is checked against
-- the route's schema first (an empty body counts as {}).
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
  local payload = webhook.payload(app.project.id, body, app:now())
  local signature = webhook.hmac_sha1_hex(app.project.hmac_secret, payload)
  local headers = { ["Content-Type"] = "application/json", ["X-Sinch-Signature"] = signature }
  app.server:fetch(number.callbackUrl, "POST", headers, payload, function(status, _, answer)
    if status then
      reply(ok({ delivered = true, status = status, body = answer, signature = signature, payload = payload }))
    else
      reply(ok({ delivered = false, error = answer, signature = signature, payload = payload }))
    end
  end)
end }

local function route_list()
  local names = {}
  for name in pairs(ROUTES) do names[#names + 1] = name end
  table.sort(names)
  return table.concat(names, ", ")
end

function control.handle(app, request, reply)
  local route = ROUTES[request.method .. " " .. request.path]
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
  handler(app, request, body, reply)
end

return control
