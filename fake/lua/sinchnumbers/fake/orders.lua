-- Number orders, for numbers that need registration data and documents
-- (supportingDocumentationRequired): the requirements of a region, orders
-- that reserve numbers for 48 hours of the fake's clock, their registration
-- data and attachments, and the states
--   CREATED --submit--> IN_REVIEW --control call--> COMPLETED (numbers rented) | REJECTED
--   CREATED --48 h of fake time--> EXPIRED (numbers back in the inventory)
-- Only the control call (POST /_fake/number_orders/{id}) sends an event.
local errors = require "sinchnumbers.fake.errors"
local inventory = require "sinchnumbers.fake.inventory"
local json = require "sinchnumbers.fake.json"
local multipart = require "sinchnumbers.fake.multipart"
local project = require "sinchnumbers.fake.project"
local scenarios = require "sinchnumbers.fake.scenarios"
local validate = require "sinchnumbers.fake.validate"
local webhook = require "sinchnumbers.fake.webhook"

local orders = {}

local RESERVATION_SECONDS = 48 * 3600
-- The multipart part that carries an attachment's file. Sinch's public
-- material does not name it; the client uses the same name.
orders.ATTACHMENT_PART = "file"

-- What a region asks for. Where every number needs documents (see
-- sinchnumbers.fake.scenarios) a registration and a proof of address; elsewhere nothing.
local REGULATED_REQUIREMENTS = {
  quantityOrdersSupported = true,
  fields = {
    type = "object",
    required = json.array({ "businessName", "businessAddress", "contactEmail" }),
    properties = {
      businessName = { type = "string" },
      businessAddress = { type = "string" },
      contactEmail = { type = "string", format = "email" },
      vatNumber = { type = "string" },
    },
  },
  attachments = json.array({
    { id = "proof-of-address", mandatory = true,
      allowedMimeTypes = json.array({ "application/pdf", "image/jpeg", "image/png" }),
      allowedDocumentTypes = json.array({ "UTILITY_BILL", "BANK_STATEMENT" }) },
    { id = "identity-document", mandatory = false,
      allowedMimeTypes = json.array({ "application/pdf", "image/jpeg" }),
      allowedDocumentTypes = json.array({ "PASSPORT", "NATIONAL_ID" }) },
  }),
}

local PLAIN_REQUIREMENTS = {
  quantityOrdersSupported = true,
  fields = { type = "object", required = json.array(), properties = {} },
  attachments = json.array(),
}

local function requirements_of(region_code)
  return scenarios.region_needs_documents(region_code) and REGULATED_REQUIREMENTS or PLAIN_REQUIREMENTS
end

local REGION_AND_TYPE = {
  regionCode = { kind = "string", length = 2 },
  numberType = { kind = "string", values = validate.NUMBER_TYPES },
}

local LOOKUP_REQUIREMENTS = { kind = "object", required = { "regionCode", "numberType" }, fields = REGION_AND_TYPE }

local CREATE_ORDER = { kind = "object", required = { "regionCode", "numberType" }, fields = {
  regionCode = REGION_AND_TYPE.regionCode,
  numberType = REGION_AND_TYPE.numberType,
  smsConfiguration = validate.SMS_CONFIGURATION,
  voiceConfiguration = validate.VOICE_CONFIGURATION,
  callbackUrl = validate.CALLBACK_URL,
  numberOrderOption = { kind = "object", required = { "phoneNumbers" }, fields = {
    phoneNumbers = { kind = "array", items = { kind = "string", format = "e164" } },
  } },
  quantityOrderOption = { kind = "object", required = { "requestedQuantity" }, fields = {
    numberPattern = { kind = "object", fields = {
      pattern = { kind = "string", format = "digits" },
      searchPattern = { kind = "string", values = validate.SEARCH_PATTERNS },
    } },
    requestedQuantity = { kind = "number", integer = true, min = 1, max = 100 },
    sequential = { kind = "boolean" },
    capabilities = { kind = "array", items = { kind = "string", values = validate.CAPABILITIES } },
  } },
} }

local UPDATE_REGISTRATION = { kind = "object", required = { "data" }, fields = {
  data = { kind = "map", values = { kind = "any" } },
} }

local NO_FIELDS = { kind = "object", fields = {} }

orders.CONTROL = { kind = "object", required = { "state" }, fields = {
  state = { kind = "string", values = { "COMPLETED", "REJECTED" } },
} }

local function given(value)
  if value ~= nil and value ~= json.null then return value end
end

local function ok(value)
  return errors.json_response(200, value)
end

-- The project's orders: id -> record { order (the NumberOrder object), entries,
-- settings (the rent settings for COMPLETED), callback_url, expire_at,
-- requirements, registration, attachments (id -> upload) }.
function orders.new()
  return { by_id = {}, count = 0 }
end

local function touch(record, now)
  record.order.updateTime = project.timestamp(now)
end

local function set_state(record, state, now)
  record.order.state = state
  touch(record, now)
end

-- Expires the CREATED orders whose 48 hours have passed; runs before every request.
function orders.expire_due(app)
  local now = app:now()
  for _, record in pairs(app.orders.by_id) do
    if record.order.state == "CREATED" and now >= record.expire_at then
      -- It expired at its expireTime, not when a request happened to notice
      -- (which may be a second later).
      set_state(record, "EXPIRED", record.expire_at)
      for _, entry in ipairs(record.entries) do app.inventory:give_back(entry.phoneNumber) end
    end
  end
end

local function copy_settings(section)
  local copy = {}
  for name, value in pairs(given(section) or {}) do
    if value ~= json.null then copy[name] = value end
  end
  return copy
end

local function order_number(entry)
  return {
    phoneNumber = entry.phoneNumber,
    numberPrice = {
      setupPrice = inventory.setup_price(entry),
      monthlyPrice = inventory.monthly_price(entry),
      paymentIntervalMonths = 1,
    },
    capability = inventory.capability_list(entry),
  }
end

local function invalid(field, description)
  return errors.invalid_argument({ { field = field, description = description } })
end

local function offered(app, region_code, number_type)
  if app.inventory:offers(region_code, number_type) then return nil end
  return invalid("regionCode", string.format("no %s numbers are offered in region %s", number_type, region_code))
end

-- The entries a create request names, still available; or nil and the 400.
local function chosen_numbers(app, body)
  local by_number, by_quantity = given(body.numberOrderOption), given(body.quantityOrderOption)
  if (by_number == nil) == (by_quantity == nil) then
    return nil, invalid("numberOrderOption", "exactly one of numberOrderOption and quantityOrderOption is required")
  end
  local entries = {}
  if by_number then
    if not by_number.phoneNumbers[1] then
      return nil, invalid("numberOrderOption.phoneNumbers", "must name at least one number")
    end
    local seen = {}
    for i, phone in ipairs(by_number.phoneNumbers) do
      local entry = app.inventory:get_available(phone)
      local field = string.format("numberOrderOption.phoneNumbers[%d]", i - 1)
      if not entry or entry.regionCode ~= body.regionCode or entry.type ~= body.numberType or seen[phone] then
        return nil, invalid(field, string.format("%s is not an available %s %s number%s", phone,
          body.regionCode, body.numberType, seen[phone] and " (named twice)" or ""))
      end
      seen[phone] = true
      entries[#entries + 1] = entry
    end
    return entries
  end
  local pattern = given(by_quantity.numberPattern) or {}
  local wanted = by_quantity.requestedQuantity
  -- The first matching numbers in ascending order, `sequential` or not.
  entries = app.inventory:find_available({
    regionCode = body.regionCode, type = body.numberType,
    capabilities = given(by_quantity.capabilities),
    pattern = given(pattern.pattern), searchPattern = given(pattern.searchPattern),
  }, wanted)
  if #entries < wanted then
    return nil, errors.failed_precondition(
      string.format("Only %d available numbers match; %d requested", #entries, wanted), { {
        type = "NOT_ENOUGH_NUMBERS", subject = "quantityOrderOption.requestedQuantity",
        description = string.format("at most %d", #entries),
      } })
  end
  return entries
end

local function find(app, order_id)
  local record = app.orders.by_id[order_id]
  if not record then return nil, errors.not_found("NumberOrder", order_id) end
  return record
end

local function must_be_created(record, doing)
  if record.order.state == "CREATED" then return nil end
  return errors.failed_precondition(string.format("Number order %s is %s; only a CREATED order can be %s",
    record.order.idNumberOrder, record.order.state, doing), { {
      type = "ORDER_STATE", subject = record.order.idNumberOrder, description = "state is " .. record.order.state,
    } })
end

------------------------------------------------------------------------------
-- Handlers: handler(app, request, query_values, ...path captures) -> response
------------------------------------------------------------------------------
function orders.lookup_requirements(app, request)
  local body, failure = validate.read_body(request, LOOKUP_REQUIREMENTS)
  if not body then return failure end
  failure = offered(app, body.regionCode, body.numberType)
  if failure then return failure end
  return ok(requirements_of(body.regionCode))
end

function orders.create(app, request)
  local body, failure = validate.read_body(request, CREATE_ORDER)
  if not body then return failure end
  failure = offered(app, body.regionCode, body.numberType)
  if failure then return failure end
  local entries
  entries, failure = chosen_numbers(app, body)
  if not entries then return failure end
  local now = app:now()
  app.orders.count = app.orders.count + 1
  local id = string.format("fake-order-%06d", app.orders.count)
  local numbers = json.array()
  for i, entry in ipairs(entries) do
    app.inventory:take(entry.phoneNumber)
    numbers[i] = order_number(entry)
  end
  local settings = {
    smsConfiguration = copy_settings(body.smsConfiguration),
    voiceConfiguration = copy_settings(body.voiceConfiguration),
  }
  local record = {
    entries = entries,
    settings = settings,
    callback_url = given(body.callbackUrl) or "",
    expire_at = now + RESERVATION_SECONDS,
    requirements = requirements_of(body.regionCode),
    registration = {},
    attachments = {},
    order = {
      projectId = app.project.id,
      idNumberOrder = id,
      regionCode = body.regionCode,
      state = "CREATED",
      numberType = body.numberType,
      orderNumbers = numbers,
      smsConfiguration = settings.smsConfiguration,
      voiceConfiguration = settings.voiceConfiguration,
      expireTime = project.timestamp(now + RESERVATION_SECONDS),
      createTime = project.timestamp(now),
      updateTime = project.timestamp(now),
    },
  }
  app.orders.by_id[id] = record
  return ok(record.order)
end

function orders.get(app, _, _, order_id)
  local record, failure = find(app, order_id)
  if not record then return failure end
  return ok(record.order)
end

function orders.get_registration(app, _, _, order_id)
  local record, failure = find(app, order_id)
  if not record then return failure end
  return ok({ data = record.registration })
end

function orders.update_registration(app, request, _, order_id)
  local body, failure = validate.read_body(request, UPDATE_REGISTRATION)
  if not body then return failure end
  local record
  record, failure = find(app, order_id)
  if not record then return failure end
  failure = must_be_created(record, "changed")
  if failure then return failure end
  record.registration = body.data
  touch(record, app:now())
  return ok({ data = record.registration })
end

local function attachment_requirement(record, attachment_id)
  local ids = {}
  for _, attachment in ipairs(record.requirements.attachments) do
    if attachment.id == attachment_id then return attachment end
    ids[#ids + 1] = attachment.id
  end
  return nil, invalid("attachmentId", string.format('unknown attachment "%s"; this order takes: %s',
    attachment_id, ids[1] and table.concat(ids, ", ") or "none"))
end

-- The one `file` part of a multipart body, checked against the requirement;
-- or nil and the 400.
local function uploaded_file(request, requirement)
  local boundary, problem = multipart.boundary(request.headers["content-type"])
  if not boundary then return nil, invalid("Content-Type", problem) end
  local parts
  parts, problem = multipart.parse(request.body, boundary)
  if not parts then return nil, invalid("body", "malformed multipart/form-data: " .. problem) end
  local file
  for _, part in ipairs(parts) do
    if part.name ~= orders.ATTACHMENT_PART then
      return nil, invalid(part.name, string.format('unknown part "%s"; send the file in one part named "%s"',
        part.name, orders.ATTACHMENT_PART))
    elseif file then
      return nil, invalid(orders.ATTACHMENT_PART, "must be sent once")
    end
    file = part
  end
  if not file then return nil, invalid(orders.ATTACHMENT_PART, "the part is missing") end
  if not file.filename or file.filename == "" then
    return nil, invalid(orders.ATTACHMENT_PART, "needs a filename in its Content-Disposition")
  end
  for _, allowed in ipairs(requirement.allowedMimeTypes) do
    if file.content_type == allowed then return file end
  end
  return nil, invalid(orders.ATTACHMENT_PART, string.format('Content-Type "%s" is not allowed for %s; allowed: %s',
    tostring(file.content_type), requirement.id, table.concat(requirement.allowedMimeTypes, ", ")))
end

function orders.upload_attachment(app, request, _, order_id, attachment_id)
  local record, failure = find(app, order_id)
  if not record then return failure end
  local requirement
  requirement, failure = attachment_requirement(record, attachment_id)
  if not requirement then return failure end
  local file
  file, failure = uploaded_file(request, requirement)
  if not file then return failure end
  failure = must_be_created(record, "changed")
  if failure then return failure end
  record.attachments[attachment_id] = {
    attachmentId = attachment_id, fileName = file.filename, contentType = file.content_type, size = #file.data,
  }
  touch(record, app:now())
  return ok(record.attachments[attachment_id])
end

-- What a submit still lacks: the PreconditionFailure violations.
local function missing(record)
  local violations = {}
  for _, attachment in ipairs(record.requirements.attachments) do
    if attachment.mandatory and not record.attachments[attachment.id] then
      violations[#violations + 1] = { type = "MISSING_ATTACHMENT", subject = attachment.id,
        description = string.format("upload it with POST .../numberOrders/%s/attachments/%s",
          record.order.idNumberOrder, attachment.id) }
    end
  end
  for _, field in ipairs(record.requirements.fields.required) do
    local value = record.registration[field]
    if value == nil or value == json.null or value == "" then
      violations[#violations + 1] = { type = "MISSING_REGISTRATION_DATA", subject = "data." .. field,
        description = "set it with PUT .../numberOrders/" .. record.order.idNumberOrder .. "/registration" }
    end
  end
  return violations
end

function orders.submit(app, request, _, order_id)
  local _, failure = validate.read_body(request, NO_FIELDS)
  if failure then return failure end
  local record
  record, failure = find(app, order_id)
  if not record then return failure end
  failure = must_be_created(record, "submitted")
  if failure then return failure end
  local violations = missing(record)
  if violations[1] then
    local message = string.format("Number order %s cannot be submitted: %s %s", order_id,
      violations[1].type, violations[1].subject)
    if violations[2] then message = message .. string.format(" (and %d more)", #violations - 1) end
    return errors.failed_precondition(message, violations)
  end
  set_state(record, "IN_REVIEW", app:now())
  return ok(record.order)
end

-- The control call: an IN_REVIEW order to COMPLETED (its numbers rented into
-- the project) or REJECTED (its numbers back in the inventory), then a signed
-- NUMBER_ORDER_PROCESSING event to its callbackUrl. reply(response).
function orders.decide(app, order_id, state, reply)
  local record, failure = find(app, order_id)
  if not record then return reply(failure) end
  if record.order.state ~= "IN_REVIEW" then
    return reply(errors.failed_precondition(string.format("Number order %s is %s; only an IN_REVIEW order can be %s",
      order_id, record.order.state, state), { { type = "ORDER_STATE", subject = order_id,
      description = "state is " .. record.order.state } }))
  end
  local now = app:now()
  for _, entry in ipairs(record.entries) do
    if state == "COMPLETED" then
      app.project:activate(entry, record.settings, now)
    else
      app.inventory:give_back(entry.phoneNumber)
    end
  end
  set_state(record, state, now)
  if record.callback_url == "" then
    return reply(ok({ order = record.order, delivered = false, error = "the order has no callbackUrl" }))
  end
  local payload = webhook.payload(app.project.id, {
    resourceId = order_id, resourceType = "NUMBER_ORDER", eventType = "NUMBER_ORDER_PROCESSING", status = state,
  }, now)
  webhook.deliver(app.server, app.project.hmac_secret, record.callback_url, payload, function(result)
    result.order = record.order
    reply(ok(result))
  end)
end

return orders
