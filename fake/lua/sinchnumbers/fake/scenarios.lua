-- Scenario numbers: fixed numbers whose answers test a caller's error handling
-- without scripting faults (as Twilio's test credentials do). This table is
-- their one home; doc/fake-server.md's "Scenario numbers" table describes it.
--
-- They are US LOCAL numbers outside every seeded range (+1500 is no pool's
-- prefix), so they never appear in a list of available numbers, never come
-- out of :rentAny or POST /_fake/active_numbers, and leave the seeded
-- inventory as it was; they are reached by their number only. Each starts
-- afresh on reset.
local errors = require "sinchnumbers.fake.errors"

local scenarios = {}

-- A row names a `phoneNumber` or a `regionCode`, says what it `does`, and how:
--   unavailable = true        no such available number: 404 on get and rent
--   documents_required = true supportingDocumentationRequired, rent refused (number orders only)
--   rent(entry, rent)         answers a rent in place of the service; rent() rents and answers
scenarios.TABLE = {
  { phoneNumber = "+15005550001", does = "never available: 404 NOT_FOUND on get and rent", unavailable = true },
  { phoneNumber = "+15005550002", does = "rent answers 403 PERMISSION_DENIED (a trial account)",
    rent = function()
      return errors.response(403, "Trial accounts cannot rent numbers; upgrade the account to rent this number")
    end },
  { phoneNumber = "+15005550003",
    does = "rent takes effect, then the connection drops without an answer (the unclear path)",
    rent = function(_, rent)
      rent()
      return { drop = true }
    end },
  { phoneNumber = "+15005550004", does = "the first rent after a reset answers 429 with Retry-After: 1; the next rents",
    rent = function(entry, rent)
      if entry.rate_limited then return rent() end
      entry.rate_limited = true
      return errors.response(429, "Too many requests; retry after 1 second", nil, { ["Retry-After"] = "1" })
    end },
  { phoneNumber = "+15005550005",
    does = "supportingDocumentationRequired = true; rent refused with 400 FAILED_PRECONDITION (use a number order)",
    documents_required = true },
  { phoneNumber = "+15005550006",
    does = "rent takes effect, then answers 503 UNAVAILABLE (the unclear path, with an answer)",
    rent = function(_, rent)
      rent()
      return errors.response(503, "The service is unavailable; try again later")
    end },
  { regionCode = "FR",
    does = "every number (LOCAL, MOBILE) needs documents: as +15005550005, orderable with a number order",
    documents_required = true },
}

local by_number, by_region = {}, {}
for _, row in ipairs(scenarios.TABLE) do
  if row.phoneNumber then by_number[row.phoneNumber] = row else by_region[row.regionCode] = row end
end

-- The scenario of a phone number, or nil.
function scenarios.number(phone)
  return by_number[phone]
end

-- True when every number of the region needs a number order.
function scenarios.region_needs_documents(region_code)
  local row = by_region[region_code]
  return row ~= nil and row.documents_required == true
end

return scenarios
