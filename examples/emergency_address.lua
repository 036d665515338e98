-- Gives a voice number an emergency (E911) address: validate the address
-- first, take Sinch's correction when it offers one, then provision it.
--
--   SINCH_PROJECT_ID=... SINCH_KEY_ID=... SINCH_KEY_SECRET=... \
--   lua5.4 examples/emergency_address.lua [+1NUMBER]
--
-- Without a number it rents a US local voice number first (which costs money
-- on the real service). SINCH_NUMBERS_URL and SINCH_AUTH_URL point it
-- elsewhere, e.g. at the fake.
local sinchnumbers = require "sinchnumbers"

local client = assert(sinchnumbers.from_env())

local phone_number = arg[1]
if not phone_number then
  local found = assert(client:list_available_numbers {
    regionCode = "US", type = "LOCAL", capabilities = { "VOICE" }, size = 1,
  })
  phone_number = assert(client:rent_number(found.availableNumbers[1].phoneNumber)).phoneNumber
  print("rented " .. phone_number)
end

local request = {
  displayName = "Front desk",
  address = { streetNumber = "1600", streetInfo = "main st", city = "seattle", state = "wa", postalCode = "98101" },
}

local check = assert(client:validate_emergency_address(phone_number, request))
local result = check.validationResult
print("validation: " .. tostring(result))
if result == "NEAR_MATCH" then
  -- Sinch knows the address under another spelling: send that one.
  request.address = check.correctedAddress
elseif result ~= "EXACT_MATCH" then
  -- NO_MATCH, or a value Sinch adds later: do not provision a guess.
  error(("the address did not validate (%s): %s"):format(tostring(result), tostring(check.validationMessage)))
end

local provisioned = assert(client:provision_emergency_address(phone_number, request))
local address = provisioned.address
print(("%s: %s %s, %s %s %s"):format(provisioned.phoneNumber, address.streetNumber, address.streetInfo,
  address.city, address.state, address.postalCode))

local stored = assert(client:get_emergency_address(phone_number))
assert(stored.address.streetInfo == address.streetInfo, "the stored address is not the one provisioned")
