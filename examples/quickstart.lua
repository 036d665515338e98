-- Quickstart: search for a number, rent it, name it, list the project's
-- numbers, and release it again.
--
-- With SINCH_PROJECT_ID, SINCH_KEY_ID and SINCH_KEY_SECRET set it talks to
-- the real Sinch service (renting a number costs money; the script releases
-- it at the end). Without them it starts the bundled fake server, uses it,
-- and stops it: `make demo` runs exactly that.
--
--   lua5.4 examples/quickstart.lua     (with lua/, fake/lua/ and build/5.4/ on the paths)
local sinchnumbers = require "sinchnumbers"

local REGION, TYPE = os.getenv("SINCH_REGION") or "US", "LOCAL"

local client, fake_server
if os.getenv("SINCH_PROJECT_ID") and os.getenv("SINCH_KEY_ID") and os.getenv("SINCH_KEY_SECRET") then
  client = assert(sinchnumbers.from_env())
  -- The fake too, when SINCH_NUMBERS_URL points at it (make examples).
  print("Using the credentials and URLs from SINCH_*: " .. tostring(client))
else
  -- The fake runs in its own process, under the interpreter running us.
  fake_server = require("sinchnumbers.fake").spawn { lua = arg and arg[-1] or "lua" }
  client = assert(sinchnumbers.new {
    project_id = "test-project",
    key_id = "test-key-id",
    key_secret = "test-key-secret",
    base_url = fake_server.url,
    auth_url = fake_server.url .. "/oauth2/token",
  })
  print("Using the fake Sinch server: " .. tostring(client))
end

-- Stops the fake (if we started it) also when a step fails.
local function run(steps)
  local ok, err = pcall(steps)
  if fake_server then fake_server:stop() end
  if not ok then
    io.stderr:write(tostring(err), "\n")
    os.exit(1)
  end
end

local function price(money)
  if type(money) ~= "table" then return "?" end
  return tostring(money.amount) .. " " .. tostring(money.currencyCode)
end

run(function()
  -- 1. Search: three local US numbers that can do SMS.
  local search = assert(client:list_available_numbers {
    regionCode = REGION, type = TYPE, capabilities = { "SMS" }, size = 3,
  })
  print(("\n1. Found %d available %s %s numbers with SMS:"):format(#search.availableNumbers, REGION, TYPE))
  for _, number in ipairs(search.availableNumbers) do
    print(("   %s  setup %s, monthly %s"):format(number.phoneNumber,
      price(number.setupPrice), price(number.monthlyPrice)))
  end
  local phone_number = assert(search.availableNumbers[1], "no number available").phoneNumber

  -- 2. Rent the first one.
  local rented = assert(client:rent_number(phone_number))
  print(("\n2. Rented %s (%s), next charge %s"):format(rented.phoneNumber, price(rented.money),
    tostring(rented.nextChargeDate)))

  -- 3. Give it a name.
  local updated = assert(client:update_active_number(phone_number, { displayName = "Quickstart number" }))
  print(('\n3. Named it "%s"'):format(updated.displayName))

  -- 4. Every number in the project, page by page under the hood.
  print("\n4. Active numbers in the project:")
  local count = 0
  for number in client:each_active_number { regionCode = REGION } do
    count = count + 1
    local name = number.displayName
    if name == sinchnumbers.null or name == nil then name = "" end
    print(("   %s  %-20s %s"):format(number.phoneNumber, name, table.concat(number.capability or {}, "+")))
  end
  print(("   (%d in all)"):format(count))

  -- 5. Release it.
  local released = assert(client:release_number(phone_number))
  print(("\n5. Released %s"):format(released.phoneNumber))

  -- Asking for it now says so the Lua way: nil and an error object.
  local gone, err = client:get_active_number(phone_number)
  assert(gone == nil and err.kind == "not_found")
  print("   get_active_number now gives: " .. tostring(err))
  print("\nDone.")
end)
