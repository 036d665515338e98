-- The version has one home, `_VERSION` in lua/sinchnumbers/init.lua; the C
-- core, the User-Agent sent on the wire, the changelog and the rockspecs
-- (make dist writes the release one from it) must say the same.
local helper = require "support.client_helper"
local sinchnumbers = require "sinchnumbers"
local core = require "sinchnumbers.core"

local function read(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

describe("the version", function()
  local version = sinchnumbers._VERSION

  it("is a semantic version", function()
    assert.matches("^%d+%.%d+%.%d+$", version)
  end)

  it("is the C core's version", function()
    assert.equal(version, core.version)
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

  it("is the version of every release rockspec, and the scm rockspec is scm", function()
    assert.matches('\nversion = "scm%-1"\n', read("sinchnumbers-scm-1.rockspec"))
    local listing = io.popen("ls sinchnumbers-*.rockspec build/dist/sinchnumbers-*.rockspec 2>/dev/null")
    for path in listing:lines() do
      local declared = read(path):match('\nversion = "([^"]+)"')
      assert.equal(path:match("sinchnumbers%-(.+)%.rockspec$"), declared)
      if declared ~= "scm-1" then assert.equal(version, declared:match("^(.-)%-%d+$")) end
    end
    listing:close()
  end)
end)
