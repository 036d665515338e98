-- Emergency (E911) addresses of active numbers: get, provision, deprovision
-- and validate under /activeNumbers/{phoneNumber}/emergencyAddress. The
-- address lives with the active number and goes when it is released.
--
-- Validation is a documented rule (doc/fake-server.md), not a postal database:
--   NO_MATCH     a street that contains the word "Nowhere", or a postalCode
--                that is not 5 digits;
--   NEAR_MATCH   an address that differs from its canonical form: street and
--                city words in lower case capitalised, the street
--                abbreviations below spelt out (with or without a dot), state
--                in upper case; correctedAddress is the canonical form;
--   EXACT_MATCH  otherwise.
-- A NO_MATCH address is refused by :provision; a NEAR_MATCH one is kept as sent.
local errors = require "sinchnumbers.fake.errors"
local json = require "sinchnumbers.fake.json"
local validate = require "sinchnumbers.fake.validate"

local emergency = {}

local ADDRESS_FIELDS = { "streetNumber", "streetInfo", "city", "state", "postalCode", "location", "postalCodePlusFour" }
local STRING = { kind = "string" }

local EMERGENCY_ADDRESS = { kind = "object", required = { "displayName", "address" }, fields = {
  displayName = STRING,
  address = { kind = "object", required = { "streetNumber", "streetInfo", "city", "state", "postalCode" }, fields = {
    streetNumber = STRING, streetInfo = STRING, city = STRING, state = STRING, postalCode = STRING,
    location = STRING, postalCodePlusFour = STRING,
  } },
} }

local NO_FIELDS = { kind = "object", fields = {} }

local STREET_ABBREVIATIONS = {
  st = "Street", ave = "Avenue", rd = "Road", blvd = "Boulevard", dr = "Drive", ln = "Lane", ct = "Court",
}

-- Every field present, unset ones as "".
local function complete(address)
  local full = {}
  for _, field in ipairs(ADDRESS_FIELDS) do
    local value = address and address[field]
    full[field] = type(value) == "string" and value or ""
  end
  return full
end

-- A word in lower case gets a capital; "NE", "McAllister" and "5th" stay.
local function capitalised(word)
  if word:match("^%l+$") then return word:sub(1, 1):upper() .. word:sub(2) end
  return word
end

local function canonical_words(text, abbreviations)
  return (text:gsub("%w+%.?", function(word)
    local bare = word:gsub("%.$", "")
    return abbreviations[bare:lower()] or capitalised(bare) .. word:sub(#bare + 1)
  end))
end

local function canonical(address)
  local corrected = complete(address)
  corrected.streetInfo = canonical_words(corrected.streetInfo, STREET_ABBREVIATIONS)
  corrected.city = canonical_words(corrected.city, {})
  corrected.state = corrected.state:upper()
  return corrected
end

local function same(a, b)
  for _, field in ipairs(ADDRESS_FIELDS) do
    if a[field] ~= b[field] then return false end
  end
  return true
end

-- The validation result, its message and the corrected address (nil for NO_MATCH).
function emergency.check(address)
  local given = complete(address)
  if (" " .. given.streetInfo:lower() .. " "):find("%Wnowhere%W") or not given.postalCode:match("^%d%d%d%d%d$") then
    return "NO_MATCH", "No address matches; check the street and the 5-digit postalCode"
  end
  local corrected = canonical(given)
  if same(given, corrected) then return "EXACT_MATCH", "The address matches", given end
  return "NEAR_MATCH", "A near match; use the corrected address", corrected
end

local function view(phone, displayName, address)
  return { phoneNumber = phone, displayName = displayName, address = complete(address) }
end

local function not_provisioned(phone)
  return errors.not_found("EmergencyAddress", phone,
    string.format("Number %s has no emergency address; provision one with :provision", phone))
end

-- Handlers: handler(app, request, query_values, phone) -> response.
function emergency.get(app, _, _, phone)
  local record = app.project:record(phone)
  if not record then return errors.not_found("ActiveNumber", phone) end
  if not record.emergency_address then return not_provisioned(phone) end
  return errors.json_response(200, record.emergency_address)
end

function emergency.provision(app, request, _, phone)
  local body, failure = validate.read_body(request, EMERGENCY_ADDRESS)
  if not body then return failure end
  local record = app.project:record(phone)
  if not record then return errors.not_found("ActiveNumber", phone) end
  local result, message = emergency.check(body.address)
  if result == "NO_MATCH" then
    return errors.failed_precondition("The address cannot be provisioned: " .. message, { {
      type = "ADDRESS_NOT_VALIDATED", subject = "address", description = message .. " (see :validate)",
    } })
  end
  record.emergency_address = view(phone, body.displayName, body.address)
  return errors.json_response(200, record.emergency_address)
end

function emergency.deprovision(app, request, _, phone)
  local _, failure = validate.read_body(request, NO_FIELDS)
  if failure then return failure end
  local record = app.project:record(phone)
  if not record then return errors.not_found("ActiveNumber", phone) end
  if not record.emergency_address then return not_provisioned(phone) end
  record.emergency_address = nil
  return errors.json_response(200, {})
end

function emergency.validate(app, request, _, phone)
  local body, failure = validate.read_body(request, EMERGENCY_ADDRESS)
  if not body then return failure end
  if not app.project:record(phone) then return errors.not_found("ActiveNumber", phone) end
  local result, message, corrected = emergency.check(body.address)
  local candidates = json.array()
  if result == "NEAR_MATCH" then candidates[1] = corrected end
  return errors.json_response(200, {
    phoneNumber = phone,
    displayName = body.displayName,
    validatedAddress = complete(body.address),
    validationResult = result,
    validationMessage = message,
    correctedAddress = complete(corrected),
    candidateAddresses = candidates,
  })
end

return emergency
