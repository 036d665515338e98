-- (c) The same calls written by hand, as a Lua user would today: Debian's
-- lua-curl (the luacurl 0.3.0 binding) and lua-cjson, one reused handle, the
-- header list set once, the body gathered in a reused table of chunks.
-- luacurl has no getinfo, so a 4xx/5xx is caught with OPT_FAILONERROR, the
-- cheapest status check it allows. Runs where luacurl loads (LuaJIT, 5.1,
-- 5.2). Run by bench/run.sh.
local measure = require "measure"
local curl = require "curl"
local cjson = require "cjson"

local concat = table.concat

local settings = measure.settings()
local api = settings.base_url .. "/v1/projects/" .. settings.project

local chunks, count = {}, 0
local function collect(chunk, length)
  count = count + 1
  chunks[count] = chunk
  return length
end

local function perform(handle, url)
  count = 0
  handle:setopt(curl.OPT_URL, url)
  local code, message = handle:perform()
  if code ~= 0 then return nil, message end
  return cjson.decode(concat(chunks, "", 1, count))
end

-- The token, once: POST with Basic auth, on a handle of its own.
local token_handle = curl.easy_init()
token_handle:setopt(curl.OPT_WRITEFUNCTION, collect)
token_handle:setopt(curl.OPT_FAILONERROR, 1)
token_handle:setopt(curl.OPT_USERPWD, "bench-key:bench-secret")
token_handle:setopt(curl.OPT_POSTFIELDS, "grant_type=client_credentials")
local token = assert(perform(token_handle, settings.base_url .. "/oauth2/token")).access_token

local handle = curl.easy_init()
handle:setopt(curl.OPT_WRITEFUNCTION, collect)
handle:setopt(curl.OPT_FAILONERROR, 1)
handle:setopt(curl.OPT_HTTPHEADER, { "Authorization: Bearer " .. token, "Accept: application/json" })

local function get_active_number(phone)
  return perform(handle, api .. "/activeNumbers/" .. curl.escape(phone))
end

local function list_active_numbers(params)
  return perform(handle, api .. "/activeNumbers?pageSize=" .. params.pageSize)
end

measure.main(settings,
  function() return get_active_number("+12065550100") end,
  function() return list_active_numbers { pageSize = 100 } end)
