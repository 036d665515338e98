-- The version has one home, lua/sinchnumbers/version.lua: `_VERSION`, the
-- User-Agent sent on the wire (transport/contract.lua), the changelog and the
-- rockspecs of the library and of the fake (make dist writes the release ones
-- from it) must say the same, and no other file may hold it.
local helper = require "support.client_helper"
local sinchnumbers = require "sinchnumbers"
local read = require("support.files").read

describe("the version", function()
  local version = sinchnumbers._VERSION

  it("is a semantic version", function()
    assert.matches("^%d+%.%d+%.%d+$", version)
  end)

  it("is written in lua/sinchnumbers/version.lua alone: not in the C modules, the transports or init.lua", function()
    assert.equal(version, require "sinchnumbers.version")
    local listing = io.popen("ls csrc/*.c csrc/*.h lua/sinchnumbers/*.lua lua/sinchnumbers/transport/*.lua")
    local holders = {}
    for path in listing:lines() do
      if path ~= "lua/sinchnumbers/version.lua" and read(path):find('"' .. version .. '"', 1, true) then
        holders[#holders + 1] = path
      end
    end
    listing:close()
    assert.equal("", table.concat(holders, ", "))
  end)

  it("is in the User-Agent the client sends", function()
    local server = helper.start_fake()
    finally(function() server:stop() end)
    assert(helper.client(server):list_available_regions())
    local request = helper.api_requests(server)[1]
    assert.equal("sinchnumbers-lua/" .. version, request.headers["user-agent"]:match("^%S+"))
  end)

  it("is the newest version in the changelog", function()
    local newest = read("CHANGELOG.md"):match("\n## (%d+%.%d+%.%d+)")
    assert.equal(version, newest)
  end)

  it("is the version of every release rockspec, the library's and the fake's, and the scm ones are scm", function()
    for _, package in ipairs { "sinchnumbers", "sinchnumbers-fake" } do
      assert.matches('\nversion = "scm%-1"\n', read(package .. "-scm-1.rockspec"))
    end
    local listing = io.popen("ls sinchnumbers-*.rockspec build/dist/sinchnumbers-*.rockspec 2>/dev/null")
    local seen = 0
    for path in listing:lines() do
      local text = read(path)
      local package, declared = text:match('\npackage = "([^"]+)"'), text:match('\nversion = "([^"]+)"')
      assert.equal(package .. "-" .. declared .. ".rockspec", path:match("[^/]+$"))
      if declared ~= "scm-1" then assert.equal(version, declared:match("^(.-)%-%d+$")) end
      seen = seen + 1
    end
    listing:close()
    assert.is_true(seen >= 2, "found " .. seen .. " rockspecs")
  end)
end)
