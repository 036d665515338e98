-- tools/check-rockspec.sh runs this from outside the checkout with only an
-- installed tree on the paths (a LuaRocks tree, a `make install` prefix, the
-- .src.rock): the library and the fake load from that tree, fake.spawn starts
-- the fake from it, and the client talks to that fake.
--   lua tools/try-install.lua TREE
local tree = assert(arg[1], "usage: try-install.lua TREE")
local sinchnumbers = require "sinchnumbers"
local fake = require "sinchnumbers.fake"

for _, name in ipairs { "sinchnumbers", "sinchnumbers.fake.cli", "sinchnumbers.core" } do
  local where = package.searchpath(name, package.path) or package.searchpath(name, package.cpath)
  assert(where and where:find(tree, 1, true) == 1, name .. " is not loaded from " .. tree .. ": " .. tostring(where))
end

local server = fake.spawn()
local client = assert(sinchnumbers.new {
  project_id = "test-project", key_id = "test-key-id", key_secret = "test-key-secret",
  base_url = server.url, auth_url = server.url .. "/oauth2/token",
})
local regions, err = client:list_available_regions()
server:stop()
assert(regions, tostring(err))
io.write(string.format("%s: fake.spawn and the client work under %s (%d regions)\n",
  tree, rawget(_G, "jit") and jit.version or _VERSION, #regions.availableRegions))
