-- Pages through every active number of the project and prints a summary
-- per region and type.
--
--   SINCH_PROJECT_ID=... SINCH_KEY_ID=... SINCH_KEY_SECRET=... lua5.4 examples/all_active_numbers.lua [REGION]
--
-- SINCH_NUMBERS_URL and SINCH_AUTH_URL point it elsewhere, e.g. at the fake
-- server (fake/bin/sinchnumbers-fake).
local sinchnumbers = require "sinchnumbers"

local client = assert(sinchnumbers.from_env())
local region = arg[1]

-- The filters go out with every page; pageSize only sets how many come at a time.
local filters = { regionCode = region, pageSize = 100 }

local totals, order, count = {}, {}, 0
-- each_active_number raises the error object if a page fails, like io.lines;
-- all_active_numbers(filters) would give the whole array or nil, err instead.
for number in client:each_active_number(filters) do
  count = count + 1
  local key = tostring(number.regionCode) .. " " .. tostring(number.type)
  if not totals[key] then
    totals[key] = 0
    order[#order + 1] = key
  end
  totals[key] = totals[key] + 1
end

table.sort(order)
print(("%d active numbers%s"):format(count, region and " in " .. region or ""))
for _, key in ipairs(order) do
  print(("  %-16s %d"):format(key, totals[key]))
end

-- The same walk one page at a time, when you want the page's own fields.
local pages = 0
for page in client:active_number_pages(filters) do
  pages = pages + 1
  if pages == 1 and type(page.totalSize) == "number" then
    print(("the service counts %d in all"):format(page.totalSize))
  end
end
print(("%d page(s) of up to %d"):format(pages, filters.pageSize))
