-- The project's own state: its active numbers and its callback configuration.
local json = require "sinchnumbers.fake.json"
local inventory = require "sinchnumbers.fake.inventory"

local project = {}

local BILLING_PERIOD = 30 * 24 * 3600

function project.timestamp(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

local Project = {}
Project.__index = Project

function project.new(project_id, hmac_secret)
  return setmetatable({
    id = project_id,
    hmac_secret = hmac_secret,
    active = {}, -- phone -> { entry = inventory entry, number = ActiveNumber JSON object }
  }, Project)
end

-- Makes a number (an inventory entry already taken from the pool) active, with
-- the settings of a rent request. Returns the ActiveNumber object.
function Project:activate(entry, settings, now)
  local number = {
    phoneNumber = entry.phoneNumber,
    projectId = self.id,
    displayName = "",
    regionCode = entry.regionCode,
    type = entry.type,
    capability = inventory.capability_list(entry),
    money = inventory.monthly_price(entry),
    paymentIntervalMonths = 1,
    nextChargeDate = project.timestamp(now + BILLING_PERIOD),
    expireAt = json.null,
    smsConfiguration = { servicePlanId = "", campaignId = "", scheduledProvisioning = json.null },
    voiceConfiguration = {
      type = "RTC", appId = "", scheduledVoiceProvisioning = json.null, lastUpdatedTime = json.null,
    },
    callbackUrl = "",
  }
  self.active[entry.phoneNumber] = { entry = entry, number = number }
  return self:update(entry.phoneNumber, settings or {}, now)
end

-- Applies the writable fields of a validated rent or update body. The
-- configuration objects are merged field by field, as a PATCH would.
-- Returns the ActiveNumber object, or nil when the number is not active.
function Project:update(phone, changes, now)
  local record = self.active[phone]
  if not record then return nil end
  local number = record.number
  for _, field in ipairs({ "displayName", "callbackUrl" }) do
    if type(changes[field]) == "string" then number[field] = changes[field] end
  end
  for _, section in ipairs({ "smsConfiguration", "voiceConfiguration" }) do
    if json.is_object(changes[section]) then
      for name, value in pairs(changes[section]) do
        if value ~= json.null then number[section][name] = value end
      end
    end
  end
  if json.is_object(changes.voiceConfiguration) then
    number.voiceConfiguration.lastUpdatedTime = project.timestamp(now)
  end
  return number
end

-- The record of an active number ({ entry, number, emergency_address }), or nil.
function Project:record(phone)
  return self.active[phone]
end

function Project:get(phone)
  local record = self.active[phone]
  return record and record.number
end

-- Removes an active number; returns its last ActiveNumber object, or nil.
function Project:release(phone)
  local record = self.active[phone]
  if not record then return nil end
  self.active[phone] = nil
  return record.number
end

local ORDERINGS = {
  phoneNumber = function(a, b) return a.phoneNumber < b.phoneNumber end,
  displayName = function(a, b)
    if a.displayName ~= b.displayName then return a.displayName < b.displayName end
    return a.phoneNumber < b.phoneNumber
  end,
}

-- All active numbers that match an inventory filter, sorted by `order_by`
-- ("phoneNumber" when nil).
function Project:list(filter, order_by)
  local found = {}
  for _, record in pairs(self.active) do
    if inventory.matches(record.entry, filter) then found[#found + 1] = record.number end
  end
  table.sort(found, ORDERINGS[order_by or "phoneNumber"])
  return found
end

return project
