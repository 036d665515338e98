-- Calendar arithmetic shared by Retry-After (pipeline.lua) and webhook
-- timestamps (webhooks.lua): both are UTC, and os.time would read them in
-- the local time zone.

local floor = math.floor

local calendar = {}

-- Days since 1970-01-01 of a date in the proleptic Gregorian calendar
-- (Howard Hinnant's days_from_civil); month 1-12, day 1-31, any year.
function calendar.days_from_civil(year, month, day)
  if month <= 2 then year = year - 1 end
  local era = floor(year / 400)
  local year_of_era = year - era * 400
  local day_of_year = floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1
  local day_of_era = year_of_era * 365 + floor(year_of_era / 4) - floor(year_of_era / 100) + day_of_year
  return era * 146097 + day_of_era - 719468
end

-- Seconds since the epoch of a UTC date and time.
function calendar.unix_time(year, month, day, hour, minute, second)
  return calendar.days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
end

return calendar
