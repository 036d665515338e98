-- Writes the stub's canned answers into a folder (the first argument):
-- one ActiveNumber, a page of 100 of them, and a token answer, shaped like
-- Sinch's (openapi ActiveNumber: money.amount a string, unset fields "" or
-- null, RFC 3339 times with fractions).
--
--   lua5.4 bench/fixtures.lua /tmp/prefix
local cjson = require "cjson"

local folder = assert(arg[1], "usage: fixtures.lua FOLDER")
local PROJECT = "51bc3f40-f266-4ca8-8938-a1ed0ff32b9a"

-- Deterministic, so every run serves the same bytes.
local seed = 12345
local function next_random(limit)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return (seed // 65536) % limit
end

local function hex(n)
  local digits = {}
  for i = 1, n do digits[i] = ("%x"):format(next_random(16)) end
  return table.concat(digits)
end

local function uuid()
  return hex(8) .. "-" .. hex(4) .. "-" .. hex(4) .. "-" .. hex(4) .. "-" .. hex(12)
end

local CAPABILITIES = { { "SMS", "VOICE" }, { "SMS" }, { "VOICE" } }
local TYPES = { "LOCAL", "MOBILE", "TOLL_FREE" }

local function active_number(i)
  local phone = ("+1206555%04d"):format(100 + i)
  local sms = {
    servicePlanId = hex(32),
    scheduledProvisioning = cjson.null,
    campaignId = i % 3 == 0 and "C" .. hex(6):upper() or "",
  }
  if i % 4 == 1 then
    sms.scheduledProvisioning = {
      servicePlanId = hex(32),
      campaignId = "",
      status = "WAITING",
      lastUpdatedTime = "2024-03-11T09:41:27.118925Z",
      errorCodes = {},
    }
  end
  local voice = {
    appId = uuid(),
    scheduledVoiceProvisioning = cjson.null,
    lastUpdatedTime = "2024-02-28T17:03:55.370135Z",
    type = "RTC",
  }
  return {
    phoneNumber = phone,
    projectId = PROJECT,
    displayName = i % 2 == 0 and "Support line " .. i or "",
    regionCode = "US",
    type = TYPES[i % #TYPES + 1],
    capability = CAPABILITIES[i % #CAPABILITIES + 1],
    money = { currencyCode = "USD", amount = ("%d.%02d"):format(i % 3 + 1, next_random(100)) },
    paymentIntervalMonths = 1,
    nextChargeDate = ("2024-%02d-%02dT13:49:02.436416Z"):format(i % 12 + 1, i % 28 + 1),
    expireAt = ("2024-%02d-%02dT13:49:02.436416Z"):format(i % 12 + 1, i % 28 + 1),
    smsConfiguration = sms,
    voiceConfiguration = voice,
    callbackUrl = i % 5 == 0 and "https://hooks.example.com/sinch/numbers" or "",
  }
end

local function write(name, value)
  local file = assert(io.open(folder .. "/" .. name, "w"))
  -- Sinch writes "https://...", not cjson's "https:\/\/...".
  file:write((cjson.encode(value):gsub("\\/", "/")))
  file:close()
end

local page = {}
for i = 1, 100 do page[i] = active_number(i) end
write("active_number.json", active_number(0))
write("active_numbers_page.json", {
  activeNumbers = page,
  nextPageToken = "CiQ1MWJjM2Y0MC1mMjY2LTRjYTgtODkzOC1hMWVkMGZmMzJiOWESDCsxMjA2NTU1MDIwMA",
  totalSize = 250,
})
