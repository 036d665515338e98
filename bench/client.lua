-- (b) sinchnumbers itself: get_active_number and list_active_numbers{pageSize = 100}
-- against the stub, as a user calls them. Run by bench/run.sh.
local measure = require "measure"
local sinchnumbers = require "sinchnumbers"

local settings = measure.settings()
local client = assert(sinchnumbers.new {
  project_id = settings.project,
  key_id = "bench-key",
  key_secret = "bench-secret",
  base_url = settings.base_url,
  auth_url = settings.base_url .. "/oauth2/token",
})

local function get()
  return client:get_active_number("+12065550100")
end

local function page()
  return client:list_active_numbers { pageSize = 100 }
end

measure.main(settings, get, page)
