-- Provisions an SMS number without webhooks: rent one, attach it to an SMS
-- service plan, then poll the number until Sinch has finished setting it up.
--
--   SINCH_PROJECT_ID=... SINCH_KEY_ID=... SINCH_KEY_SECRET=... \
--   SINCH_SERVICE_PLAN_ID=... lua5.4 examples/provision.lua [REGION]
--
-- SINCH_NUMBERS_URL and SINCH_AUTH_URL point it elsewhere, e.g. at the fake.
local sinchnumbers = require "sinchnumbers"
local socket = require "socket"

local REGION = arg[1] or "US"
local SERVICE_PLAN_ID = assert(os.getenv("SINCH_SERVICE_PLAN_ID"), "set SINCH_SERVICE_PLAN_ID")
local POLL_EVERY, GIVE_UP_AFTER = 5, 300 -- seconds

local client = assert(sinchnumbers.from_env())

-- Rents the first candidate that can be had. Renting is never retried blindly
-- by the client: when the answer is unclear it checks whether the number is
-- ours now and says so in err.rented.
local function rent_one(candidates)
  if #candidates == 0 then error("no local SMS numbers available in " .. REGION) end
  for _, candidate in ipairs(candidates) do
    local phone_number = candidate.phoneNumber
    local number, err = client:rent_number(phone_number, {
      smsConfiguration = { servicePlanId = SERVICE_PLAN_ID },
    })
    if number then return number end
    if err.rented == true then
      return assert(client:get_active_number(phone_number)) -- it went through after all
    elseif err.rented == nil and err.kind ~= "not_found" and err.kind ~= "invalid_argument" then
      -- Neither rented nor known not to be: do not rent another one blindly.
      error(err)
    end
    print(("could not rent %s (%s), trying the next one"):format(phone_number, err.message))
  end
  error("none of the candidates could be rented")
end

-- Sinch sets smsConfiguration.scheduledProvisioning while it works on the
-- number; it is gone (or null) when done, or says FAILED.
local function provisioning_status(number)
  local sms = number.smsConfiguration
  local scheduled = type(sms) == "table" and sms.scheduledProvisioning
  if type(scheduled) ~= "table" then return "DONE" end
  return scheduled.status or "WAITING"
end

local search = assert(client:list_available_numbers {
  regionCode = REGION, type = "LOCAL", capabilities = { "SMS" }, size = 5,
})
local number = rent_one(search.availableNumbers)
print(("rented %s, attaching it to service plan %s"):format(number.phoneNumber, SERVICE_PLAN_ID))

local deadline = socket.gettime() + GIVE_UP_AFTER
local status = provisioning_status(number)
while status == "WAITING" or status == "IN_PROGRESS" do
  if socket.gettime() > deadline then
    error(("still %s after %d s: check %s later with get_active_number")
      :format(status, GIVE_UP_AFTER, number.phoneNumber))
  end
  socket.sleep(POLL_EVERY)
  number = assert(client:get_active_number(number.phoneNumber))
  status = provisioning_status(number)
  print("provisioning: " .. status)
end

if status ~= "DONE" then
  error(("provisioning of %s ended as %s"):format(number.phoneNumber, status))
end
print(("%s is ready for SMS on service plan %s"):format(number.phoneNumber,
  tostring(number.smsConfiguration.servicePlanId)))
