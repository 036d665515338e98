-- The API reference (doc/api/*.luadoc, read by LDoc for `make docs`) is
-- written apart from the code it describes: the client methods are
-- generated from the endpoint table, and the C modules have no Lua source.
-- These checks catch a method, option or function added without its entry.
local sinchnumbers = require "sinchnumbers"
local codec = require "sinchnumbers.codec"
local curl = require "sinchnumbers.transport.curl"
local read = require("support.files").read

local function documents(text, tag, name)
  return text:find("%-%- @" .. tag .. " " .. name:gsub("%p", "%%%0") .. "%f[%s]") ~= nil
end

local function sorted_keys(t, wanted)
  local names = {}
  for name, value in pairs(t) do
    if type(name) == "string" and wanted(name, value) then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

local function missing(text, names, tag, prefix)
  local absent = {}
  for _, name in ipairs(names) do
    if not documents(text, tag, (prefix or "") .. name) then absent[#absent + 1] = name end
  end
  return table.concat(absent, ", ")
end

describe("doc/api/sinchnumbers.luadoc", function()
  local text = read("doc/api/sinchnumbers.luadoc")

  it("documents every module function and field", function()
    local functions = sorted_keys(sinchnumbers, function(_, value) return type(value) == "function" end)
    local fields = sorted_keys(sinchnumbers, function(_, value) return type(value) ~= "function" end)
    assert.equal("", missing(text, functions, "function"))
    assert.equal("", missing(text, fields, "field"))
  end)

  it("documents every client method, the generated ones included", function()
    local client = assert(sinchnumbers.new { project_id = "p", key_id = "k", key_secret = "s", transport = {
      request = function() return nil, "unused" end,
    } })
    local methods = sorted_keys(getmetatable(client).__index, function(name, value)
      return type(value) == "function" and name:sub(1, 1) ~= "_"
    end)
    assert.is_true(#methods >= 14)
    assert.equal("", missing(text, methods, "function", "Client:"))
  end)

  it("documents every option of new", function()
    local _, err = sinchnumbers.new { project_id = "p", key_id = "k", key_secret = "s", no_such_option = 1 }
    local allowed = assert(err.message:match("%(allowed: (.-)%)$"), err.message)
    local options = {}
    for name in allowed:gmatch('"([%w_]+)"') do options[#options + 1] = name end
    assert.is_true(#options >= 3)
    local absent = {}
    for _, name in ipairs(options) do
      if not text:find("@tfield%[?[^%]\n]*%]? [%w_|]+ " .. name .. "%f[%s]") then absent[#absent + 1] = name end
    end
    assert.equal("", table.concat(absent, ", "))
  end)
end)

describe("doc/api/codec.luadoc", function()
  local text = read("doc/api/codec.luadoc")

  it("documents every function and field of sinchnumbers.codec", function()
    local functions = sorted_keys(codec, function(_, value) return type(value) == "function" end)
    local fields = sorted_keys(codec, function(_, value) return type(value) ~= "function" end)
    assert.equal("", missing(text, functions, "function"))
    assert.equal("", missing(text, fields, "field"))
  end)
end)

describe("lua/sinchnumbers/cache/redis.lua", function()
  it("documents every function of the module", function()
    local text = read("lua/sinchnumbers/cache/redis.lua")
    local absent = {}
    for name in pairs(require "sinchnumbers.cache.redis") do
      if not text:find("\n%-%-[^\n]*\n[^\n]*redis_cache%." .. name .. "%f[^%w_]") then absent[#absent + 1] = name end
    end
    assert.equal("", table.concat(absent, ", "))
  end)
end)

describe("lua/sinchnumbers/transport/curl.lua", function()
  local text = read("lua/sinchnumbers/transport/curl.lua")

  it("documents every function and field of the module", function()
    local absent = {}
    for name in pairs(curl) do
      -- A doc comment ends on the line above its definition.
      if not text:find("\n%-%-[^\n]*\n[^\n]*curl%." .. name .. "%f[^%w_]") then absent[#absent + 1] = name end
    end
    table.sort(absent)
    assert.equal("", table.concat(absent, ", "))
  end)

  it("documents every method of a transport, which the C module gives it", function()
    local transport = assert(curl.new())
    local methods = sorted_keys(getmetatable(transport).__index, function(_, value)
      return type(value) == "function"
    end)
    transport:close()
    assert.equal("", missing(text, methods, "function", "Transport:"))
  end)

  it("documents every method of a Multi", function()
    local transport = assert(curl.new())
    local multi = assert(transport:multi(1))
    local methods = sorted_keys(getmetatable(multi).__index, function(_, value) return type(value) == "function" end)
    multi:close()
    transport:close()
    assert.is_true(#methods >= 4)
    assert.equal("", missing(text, methods, "function", "Multi:"))
  end)
end)
