-- The deterministic pool of numbers the fake can rent out.
--
-- Every region offers every number type. A type's numbers are prefix .. subscriber:
-- the i-th number takes the prefixes in turn, and its subscriber part sits in its
-- own block of `stride` numbers at an offset drawn from the seed. Blocks never
-- overlap, so numbers never collide, and a pool can grow on demand (for tests
-- that need hundreds of active numbers). Each number is a pure function of
-- (seed, pool, i), so the same seed gives the same inventory on every Lua.
local json = require "sinchnumbers.fake.json"
local scenarios = require "sinchnumbers.fake.scenarios"

local inventory = {}

local CURRENCY = "USD"
local INITIAL_PER_POOL = 60
local TYPE_ORDER = { "LOCAL", "MOBILE", "TOLL_FREE" }

-- prefixes, subscriber digits, first subscriber, block size, setup and monthly price
local function numbers(prefixes, digits, first, stride, setup, monthly)
  return { prefixes = prefixes, digits = digits, first = first, stride = stride, setup = setup, monthly = monthly }
end

local REGIONS = {
  { code = "US", name = "United States", country_code = "+1", types = {
    LOCAL = numbers({ "+1206", "+1212", "+1312", "+1415", "+1617" }, 7, 2000000, 1000, "0.00", "0.80"),
    MOBILE = numbers({ "+1332", "+1628", "+1737" }, 7, 2000000, 1000, "0.00", "1.00"),
    TOLL_FREE = numbers({ "+1800", "+1833", "+1855", "+1888" }, 7, 2000000, 1000, "0.00", "2.00"),
  } },
  -- Ofcom's ranges for drama, where they exist.
  { code = "GB", name = "United Kingdom", country_code = "+44", types = {
    LOCAL = numbers({ "+44207946", "+44161496", "+44113496" }, 4, 0, 10, "0.00", "1.20"),
    MOBILE = numbers({ "+447700" }, 6, 900000, 10, "0.00", "1.50"),
    TOLL_FREE = numbers({ "+44800" }, 7, 1000000, 1000, "10.00", "5.00"),
  } },
  { code = "SE", name = "Sweden", country_code = "+46", types = {
    LOCAL = numbers({ "+468", "+4631" }, 7, 1000000, 1000, "0.00", "2.50"),
    MOBILE = numbers({ "+4670", "+4673" }, 7, 1000000, 1000, "0.00", "3.00"),
    TOLL_FREE = numbers({ "+4620" }, 7, 1000000, 1000, "20.00", "10.00"),
  } },
  { code = "DE", name = "Germany", country_code = "+49", types = {
    LOCAL = numbers({ "+4930", "+4989" }, 8, 10000000, 10000, "0.00", "1.00"),
    MOBILE = numbers({ "+49151", "+49170" }, 8, 10000000, 10000, "0.00", "4.00"),
    TOLL_FREE = numbers({ "+49800" }, 7, 1000000, 1000, "15.00", "8.00"),
  } },
  -- Every number needs a number order (sinchnumbers.fake.scenarios). No
  -- TOLL_FREE, and last in the list, so the other pools stay as they were.
  { code = "FR", name = "France", country_code = "+33", types = {
    LOCAL = numbers({ "+331" }, 8, 40000000, 10000, "0.00", "2.00"),
    MOBILE = numbers({ "+336" }, 8, 40000000, 10000, "0.00", "3.00"),
  } },
}
local SCENARIO_REGION, SCENARIO_TYPE = "US", "LOCAL"

-- Park-Miller steps: plain arithmetic that stays below 2^53, so every Lua
-- (floats in 5.1/LuaJIT, integers in 5.3+) computes the same values.
local MODULUS = 2147483647
local function draw(seed, pool_index, i)
  local x = (seed % MODULUS + pool_index * 7919 + i * 104729) % MODULUS
  if x == 0 then x = 1 end
  for _ = 1, 3 do x = (x * 16807) % MODULUS end
  return x
end

-- Most numbers can do both; some only voice or only SMS, so filters matter.
local function capabilities_for(random)
  local roll = random % 10
  if roll < 6 then return { "SMS", "VOICE" } end
  if roll < 9 then return { "VOICE" } end
  return { "SMS" }
end

local Inventory = {}
Inventory.__index = Inventory

local function pool_key(region_code, number_type)
  return region_code .. "/" .. number_type
end

function inventory.new(seed)
  local self = setmetatable({
    seed = math.floor(seed),
    pools = {},     -- "US/LOCAL" -> { region, type, config, index, numbers (sorted), generated }
    entries = {},   -- phone -> entry; kept after rent so active numbers keep their facts
    available = {}, -- phone -> true while it can be rented
  }, Inventory)
  local index = 0
  for _, region in ipairs(REGIONS) do
    for _, number_type in ipairs(TYPE_ORDER) do
      if region.types[number_type] then
        index = index + 1
        local pool = {
          region = region, type = number_type, config = region.types[number_type],
          index = index, numbers = {}, generated = 0,
        }
        self.pools[pool_key(region.code, number_type)] = pool
        self:grow(pool, INITIAL_PER_POOL)
      end
    end
  end
  -- Available by their number only: they are in no pool's list.
  local scenario_pool = self.pools[pool_key(SCENARIO_REGION, SCENARIO_TYPE)]
  for _, row in ipairs(scenarios.TABLE) do
    if row.phoneNumber and not row.unavailable then
      self:add(scenario_pool, row.phoneNumber, { "SMS", "VOICE" })
    end
  end
  return self
end

-- Makes `phone` an available number of `pool`; returns its entry.
function Inventory:add(pool, phone, capability)
  local has = {}
  for _, name in ipairs(capability) do has[name] = true end
  local scenario = scenarios.number(phone)
  local entry = {
    phoneNumber = phone,
    regionCode = pool.region.code,
    type = pool.type,
    capability = capability,
    has = has,
    country_code = pool.region.country_code,
    setup = pool.config.setup,
    monthly = pool.config.monthly,
    documents_required = (scenario and scenario.documents_required)
      or scenarios.region_needs_documents(pool.region.code),
  }
  self.entries[phone] = entry
  self.available[phone] = true
  return entry
end

-- Adds `count` new numbers to a pool; returns false when its number space is used up.
function Inventory:grow(pool, count)
  local config = pool.config
  for _ = 1, count do
    local i = pool.generated + 1
    local random = draw(self.seed, pool.index, i)
    local block = math.floor((i - 1) / #config.prefixes)
    local subscriber = config.first + block * config.stride + math.floor(random / 10) % config.stride
    if subscriber >= 10 ^ config.digits then return false end
    pool.generated = i
    local prefix = config.prefixes[(i - 1) % #config.prefixes + 1]
    local phone = prefix .. string.format("%0" .. config.digits .. "d", subscriber)
    self:add(pool, phone, capabilities_for(random))
    pool.numbers[#pool.numbers + 1] = phone
  end
  table.sort(pool.numbers)
  return true
end

local function starts_with(text, prefix)
  return text:sub(1, #prefix) == prefix
end

-- numberPattern matching. Sinch wants START patterns in E.164 form ("+1206");
-- the bare digits ("1206") and the national number ("206") are accepted as well.
-- Without a searchPattern the pattern may be anywhere in the number.
local function matches_pattern(entry, pattern, search)
  if not pattern or pattern == "" then return true end
  local phone = entry.phoneNumber
  if search == "START" then
    return starts_with(phone, pattern) or starts_with(phone:sub(2), pattern)
      or starts_with(phone:sub(#entry.country_code + 1), pattern)
  elseif search == "END" then
    return phone:sub(-#pattern) == pattern
  end
  return phone:find(pattern, 1, true) ~= nil
end

-- filter: regionCode, type, capabilities (array; all required), pattern, searchPattern.
function inventory.matches(entry, filter)
  if filter.regionCode and filter.regionCode ~= "" and entry.regionCode ~= filter.regionCode then return false end
  if filter.type and entry.type ~= filter.type then return false end
  for _, capability in ipairs(filter.capabilities or {}) do
    if not entry.has[capability] then return false end
  end
  return matches_pattern(entry, filter.pattern, filter.searchPattern)
end

-- A fresh JSON array of the entry's capabilities (callers may keep and change it).
function inventory.capability_list(entry)
  local list = json.array()
  for i, capability in ipairs(entry.capability) do list[i] = capability end
  return list
end

-- The AvailableNumber JSON object for an entry.
function inventory.available_view(entry)
  return {
    phoneNumber = entry.phoneNumber,
    regionCode = entry.regionCode,
    type = entry.type,
    capability = inventory.capability_list(entry),
    setupPrice = inventory.setup_price(entry),
    monthlyPrice = inventory.monthly_price(entry),
    paymentIntervalMonths = 1,
    supportingDocumentationRequired = entry.documents_required,
  }
end

function inventory.monthly_price(entry)
  return { currencyCode = CURRENCY, amount = entry.monthly }
end

function inventory.setup_price(entry)
  return { currencyCode = CURRENCY, amount = entry.setup }
end

-- Up to `limit` available entries that match `filter` (which names regionCode and type).
function Inventory:find_available(filter, limit)
  local found = {}
  local pool = self.pools[pool_key(filter.regionCode, filter.type)]
  if not pool then return found end
  for _, phone in ipairs(pool.numbers) do
    if #found >= limit then break end
    local entry = self.entries[phone]
    if self.available[phone] and inventory.matches(entry, filter) then found[#found + 1] = entry end
  end
  return found
end

-- True when the region offers numbers of the type.
function Inventory:offers(region_code, number_type)
  return self.pools[pool_key(region_code, number_type)] ~= nil
end

-- The entry of an available number, or nil.
function Inventory:get_available(phone)
  return self.available[phone] and self.entries[phone]
end

-- Takes an available number out of the pool; returns its entry, or nil.
function Inventory:take(phone)
  local entry = self:get_available(phone)
  if entry then self.available[phone] = nil end
  return entry
end

-- A released number can be rented again (the real service quarantines it;
-- reusing it keeps long test runs from draining the pool).
function Inventory:give_back(phone)
  if self.entries[phone] then self.available[phone] = true end
end

-- Takes `count` numbers of one region and type, growing the pool when needed.
-- Returns the entries, or nil and a message.
function Inventory:take_many(region_code, number_type, count)
  local pool = self.pools[pool_key(region_code, number_type)]
  if not pool then
    return nil, string.format("no numbers for region %s and type %s", region_code, number_type)
  end
  local free = 0
  for _, phone in ipairs(pool.numbers) do
    if self.available[phone] then free = free + 1 end
  end
  if free < count and not self:grow(pool, count - free) then
    return nil, string.format("the %s %s pool has no room for %d more numbers",
      region_code, number_type, count - free)
  end
  local taken = {}
  for _, phone in ipairs(pool.numbers) do
    if #taken >= count then break end
    if self.available[phone] then
      self.available[phone] = nil
      taken[#taken + 1] = self.entries[phone]
    end
  end
  return taken
end

-- The availableRegions list, optionally only regions offering one of `types`.
function inventory.regions(types)
  local wanted = {}
  for _, number_type in ipairs(types or TYPE_ORDER) do wanted[number_type] = true end
  local list = json.array()
  for _, region in ipairs(REGIONS) do
    local offered = json.array()
    for _, number_type in ipairs(TYPE_ORDER) do
      if region.types[number_type] and wanted[number_type] then offered[#offered + 1] = number_type end
    end
    if offered[1] then
      list[#list + 1] = { regionCode = region.code, regionName = region.name, types = offered }
    end
  end
  return list
end

return inventory
