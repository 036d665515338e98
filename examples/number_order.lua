-- Orders numbers in a regulated region through a number order: look up what
-- the region requires, create the order (it holds the numbers for 48 hours),
-- fill in the registration, upload the documents, submit it for review.
--
--   SINCH_PROJECT_ID=... SINCH_KEY_ID=... SINCH_KEY_SECRET=... \
--   lua5.4 examples/number_order.lua [REGION] [DOCUMENT.pdf]
--
-- REGION defaults to FR; DOCUMENT is uploaded for every mandatory attachment
-- (without one, a tiny stand-in PDF is sent, fine for the fake only).
-- SINCH_NUMBERS_URL and SINCH_AUTH_URL point it elsewhere, e.g. at the fake,
-- which then decides the order at once (the real review takes days).
local sinchnumbers = require "sinchnumbers"

local REGION, DOCUMENT = arg[1] or "FR", arg[2]
local STAND_IN = { name = "proof.pdf", content_type = "application/pdf", data = "%PDF-1.4\n%stand-in\n" }

-- Your business's registration data, by the field names the requirements list.
local REGISTRATION = {
  businessName = "Example Ltd", businessAddress = "1 Rue de Rivoli, 75001 Paris", contactEmail = "ops@example.com",
}

local client = assert(sinchnumbers.from_env())

local requirements = assert(client:lookup_number_requirements { regionCode = REGION, numberType = "LOCAL" })
local required = type(requirements.fields) == "table" and requirements.fields.required or {}

-- Not sent twice blindly: after an unclear failure err.hint says what to look at.
local order, err = client:create_number_order {
  regionCode = REGION, numberType = "LOCAL", quantityOrderOption = { requestedQuantity = 1 },
}
if not order then error(err) end
local id = order.idNumberOrder
print(("order %s: %s, holding %s until %s"):format(id, order.state, order.orderNumbers[1].phoneNumber,
  tostring(order.expireTime)))

local data = {}
for _, name in ipairs(required) do
  data[name] = assert(REGISTRATION[name], "no registration value for " .. name)
end
assert(client:update_number_order_registration(id, { data = data }))

for _, attachment in ipairs(requirements.attachments or {}) do
  if attachment.mandatory then
    assert(client:upload_number_order_attachment(id, attachment.id, DOCUMENT or STAND_IN))
    print("uploaded " .. attachment.id)
  end
end

order, err = client:submit_number_order(id)
if not order then error(err) end
print(("order %s: %s"):format(id, order.state))

-- A fake on this machine only: its control call stands in for Sinch's review.
local base_url = os.getenv("SINCH_NUMBERS_URL")
if base_url and base_url:find("^http://127%.0%.0%.1[:/]") then
  local decision = '{"state":"COMPLETED"}'
  local _, status = require("socket.http").request {
    url = base_url .. "/_fake/number_orders/" .. id, method = "POST",
    headers = { ["Content-Type"] = "application/json", ["Content-Length"] = #decision },
    source = require("ltn12").source.string(decision),
  }
  assert(status == 200, "the fake did not decide the order: " .. tostring(status))
  order = assert(client:get_number_order(id))
  print(("order %s: %s"):format(id, order.state))
  for _, number in ipairs(order.orderNumbers) do
    print("active: " .. assert(client:get_active_number(number.phoneNumber)).phoneNumber)
  end
end
