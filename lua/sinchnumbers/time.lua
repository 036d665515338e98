-- Times the client reads from the wire, all of them UTC: HTTP dates
-- (Retry-After) and ISO 8601 timestamps (webhook events). os.time would read
-- them in the local time zone, so the calendar arithmetic is our own.

local floor = math.floor

local time = {}

-- Days since 1970-01-01 of a date in the proleptic Gregorian calendar
-- (Howard Hinnant's days_from_civil); month 1-12, day 1-31, any year.
local function days_from_civil(year, month, day)
  if month <= 2 then year = year - 1 end
  local era = floor(year / 400)
  local year_of_era = year - era * 400
  local day_of_year = floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1
  local day_of_era = year_of_era * 365 + floor(year_of_era / 4) - floor(year_of_era / 100) + day_of_year
  return era * 146097 + day_of_era - 719468
end

-- Seconds since the epoch of a UTC date and time.
function time.unix_time(year, month, day, hour, minute, second)
  return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
end

local function is_leap_year(year)
  return year % 4 == 0 and (year % 100 ~= 0 or year % 400 == 0)
end

local DAYS_IN_MONTH = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function is_date_and_time(year, month, day, hour, minute, second)
  return month >= 1 and month <= 12 and day >= 1 and day <= DAYS_IN_MONTH[month] and hour <= 23 and minute <= 59
    and second <= 60 and not (month == 2 and day == 29 and not is_leap_year(year))
end

local MONTHS = {
  jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
  jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12,
}

-- Seconds since the epoch of an HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT",
-- RFC 9110's IMF-fixdate), or nil.
function time.parse_http_date(value)
  local day, month, year, hour, minute, second =
    value:match("^%s*%a+,%s*(%d%d?)%s+(%a%a%a)%s+(%d%d%d%d)%s+(%d%d):(%d%d):(%d%d)%s+GMT%s*$")
  month = month and MONTHS[month:lower()]
  if not month then return nil end
  year, day, hour, minute, second = tonumber(year), tonumber(day), tonumber(hour), tonumber(minute), tonumber(second)
  if not is_date_and_time(year, month, day, hour, minute, second) then return nil end
  return time.unix_time(year, month, day, hour, minute, second)
end

-- Seconds since the epoch of an ISO 8601 timestamp, with its fraction, or
-- nil. Without a zone it is UTC; an explicit `Z` or offset is honoured.
function time.parse_iso8601(timestamp)
  if type(timestamp) ~= "string" then return nil end
  local year, month, day, hour, minute, second, rest =
    timestamp:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):(%d%d)(.*)$")
  if not year then return nil end
  -- A fraction needs its dot: "10:15:305" is not 10:15:30 plus 5 seconds.
  local fraction, zone = rest:match("^(%.%d+)(.*)$")
  if not fraction then fraction, zone = "", rest end
  year, month, day = tonumber(year), tonumber(month), tonumber(day)
  hour, minute, second = tonumber(hour), tonumber(minute), tonumber(second)
  if not is_date_and_time(year, month, day, hour, minute, second) then return nil end
  local offset = 0
  if zone ~= "" and zone ~= "Z" then
    local sign, zone_hours, zone_minutes = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(zone_hours) * 60 + tonumber(zone_minutes)) * 60
    if sign == "-" then offset = -offset end
  end
  return time.unix_time(year, month, day, hour, minute, second) + (tonumber("0" .. fraction) or 0) - offset
end

return time
