-- tools/check-rockspec.sh runs this from outside the checkout with only an
-- installed tree on the paths (a LuaRocks tree, a `make install` prefix, the
-- .src.rocks), once for each of the two rocks as they go in:
--   lua tools/try-install.lua library TREE URL
--     the library alone: it loads from TREE, the tree has no fake, and the
--     client works without luasocket (the caller keeps it off the paths),
--     talking to the fake at URL (one the caller started from the checkout);
--   lua tools/try-install.lua fake TREE
--     the fake installed beside it: it loads from TREE, fake.spawn starts it
--     from there, and the client talks to it.
local step, tree, url = arg[1], arg[2], arg[3]
assert((step == "library" and tree and url) or (step == "fake" and tree),
  "usage: try-install.lua library TREE URL | try-install.lua fake TREE")

local function assert_loads_from_tree(name)
  local where = package.searchpath(name, package.path) or package.searchpath(name, package.cpath)
  assert(where and where:find(tree, 1, true) == 1, name .. " is not loaded from " .. tree .. ": " .. tostring(where))
end

local sinchnumbers = require "sinchnumbers"
assert_loads_from_tree("sinchnumbers")
assert_loads_from_tree("sinchnumbers.codec")
assert_loads_from_tree("sinchnumbers.transport.libcurl")

local server
if step == "library" then
  assert(not package.searchpath("sinchnumbers.fake", package.path), "the library's install holds sinchnumbers.fake")
  assert(not io.open(tree .. "/bin/sinchnumbers-fake"), "the library's install holds the sinchnumbers-fake command")
  assert(not pcall(require, "socket"), "luasocket is on the paths, so this would not show the library works without it")
  server = { url = url, stop = function() end }
else
  assert_loads_from_tree("sinchnumbers.fake")
  assert_loads_from_tree("sinchnumbers.fake.cli")
  server = require("sinchnumbers.fake").spawn()
end

local client = assert(sinchnumbers.new {
  project_id = "test-project", key_id = "test-key-id", key_secret = "test-key-secret",
  base_url = server.url, auth_url = server.url .. "/oauth2/token",
})
local regions, err = client:list_available_regions()
assert(regions, tostring(err))

-- The tree's command: its version, and a call through it.
local function command_output(command)
  local pipe = assert(io.popen(command .. " 2>&1; echo \"exit=$?\""))
  local text = pipe:read("*a")
  pipe:close()
  return text
end
local command = tree .. "/bin/sinchnumbers"
local said = command_output(command .. " --version")
assert(said == "sinchnumbers " .. sinchnumbers._VERSION .. "\nexit=0\n", command .. " --version: " .. said)
said = command_output(("SINCH_PROJECT_ID=test-project SINCH_KEY_ID=test-key-id SINCH_KEY_SECRET=test-key-secret"
  .. " SINCH_NUMBERS_URL=%s SINCH_AUTH_URL=%s/oauth2/token %s regions --csv --no-header"):format(server.url, server.url,
  command))
assert(said:find("^US,United States,") and said:find("\nexit=0\n$"), command .. " regions: " .. said)
server:stop()
local works = step == "library" and "the library alone works (and its command), without the fake or luasocket,"
  or "fake.spawn and the client work"
io.write(string.format("%s: %s under %s (%d regions)\n",
  tree, works, rawget(_G, "jit") and jit.version or _VERSION, #regions.availableRegions))
