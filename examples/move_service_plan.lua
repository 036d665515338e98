-- Moves every active number of one SMS service plan to another, many at a
-- time (client:update_active_numbers, on client:map: 8 tasks at once where
-- they can run, one after the other on PUC Lua 5.1), with a progress line on
-- stderr, and lists what failed.
--
--   SINCH_PROJECT_ID=... SINCH_KEY_ID=... SINCH_KEY_SECRET=... \
--   lua5.4 examples/move_service_plan.lua FROM_PLAN TO_PLAN
--
-- FROM_PLAN defaults to SINCH_SERVICE_PLAN_ID, TO_PLAN to SINCH_NEW_SERVICE_PLAN_ID.
-- SINCH_NUMBERS_URL and SINCH_AUTH_URL point it elsewhere, e.g. at the fake.
local sinchnumbers = require "sinchnumbers"

local FROM = arg[1] or os.getenv("SINCH_SERVICE_PLAN_ID")
local TO = arg[2] or os.getenv("SINCH_NEW_SERVICE_PLAN_ID")
if not (FROM and TO) then
  io.stderr:write("usage: lua5.4 examples/move_service_plan.lua FROM_PLAN TO_PLAN\n")
  os.exit(2)
end

-- No more than 20 requests a second, whatever the number of tasks; a 429
-- would pause them all.
local client = assert(sinchnumbers.from_env { rate_limit = 20 })

-- The numbers on the old plan (the API has no filter for it: every page is read).
local moving = {}
for number in client:each_active_number { pageSize = 100 } do
  local sms = number.smsConfiguration
  if type(sms) == "table" and sms.servicePlanId == FROM then moving[#moving + 1] = number.phoneNumber end
end
print(("%d numbers on service plan %s"):format(#moving, FROM))

local results, summary = assert(client:update_active_numbers(moving,
  { smsConfiguration = { servicePlanId = TO } },
  {
    on_progress = function(done, total, failed)
      io.stderr:write(("\rmoved %d of %d (%d failed)"):format(done - failed, total, failed))
      if done == total then io.stderr:write("\n") end
    end,
  }))

for _, result in ipairs(results) do
  if result.err then print(("%s: not moved: %s"):format(result.item, tostring(result.err))) end
end
print(("moved %d of %d numbers to %s in %.1f s"):format(summary.succeeded, summary.total, TO, summary.seconds))
os.exit(summary.failed == 0 and 0 or 1)
