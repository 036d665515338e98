rockspec_format = "3.0"
package = "sinchnumbers-fake"
version = "scm-1"
-- For a checkout (`luarocks make sinchnumbers-fake-scm-1.rockspec`, after the
-- library's rockspec), which never fetches the source. `make dist` writes the
-- release rockspec and .src.rock, with the library's tarball as their source.
source = {
   url = "git+file:///sinchnumbers",
}
description = {
   summary = "A stateful fake of the Sinch Numbers API on 127.0.0.1, for testing code that uses sinchnumbers",
   detailed = [[
A fake Sinch Numbers server in pure Lua on luasocket: numbers to rent, the
project's numbers and its callback configuration, OAuth2 and Basic auth,
requests checked against the API and errors answered as Sinch does, fault
injection, a request log and signed webhook events. fake.spawn() runs it in
a background process for a test suite; the sinchnumbers-fake command runs
it from the shell. See doc/fake-server.md.
]],
   license = "MIT",
   labels = { "sinch", "telephony", "testing", "mock" },
}
-- The fake speaks HTTP with luasocket (socket, socket.http, mime, ltn12) and
-- JSON with lua-cjson; it signs webhook events with the library's C codec, and
-- test suites run it next to the library.
dependencies = {
   "lua >= 5.1",
   "sinchnumbers",
   "lua-cjson",
   "luasocket",
}
-- Not the builtin type: it copies the whole lua/ folder of the source, which
-- at the top of this repository is the library's. Only these files install,
-- in the same folders as the builtin type would put them.
build = {
   type = "none",
   install = {
      lua = {
         ["sinchnumbers.fake.init"] = "fake/lua/sinchnumbers/fake/init.lua",
         ["sinchnumbers.fake.api"] = "fake/lua/sinchnumbers/fake/api.lua",
         ["sinchnumbers.fake.auth"] = "fake/lua/sinchnumbers/fake/auth.lua",
         ["sinchnumbers.fake.cli"] = "fake/lua/sinchnumbers/fake/cli.lua",
         ["sinchnumbers.fake.control"] = "fake/lua/sinchnumbers/fake/control.lua",
         ["sinchnumbers.fake.emergency"] = "fake/lua/sinchnumbers/fake/emergency.lua",
         ["sinchnumbers.fake.errors"] = "fake/lua/sinchnumbers/fake/errors.lua",
         ["sinchnumbers.fake.faults"] = "fake/lua/sinchnumbers/fake/faults.lua",
         ["sinchnumbers.fake.http"] = "fake/lua/sinchnumbers/fake/http.lua",
         ["sinchnumbers.fake.inventory"] = "fake/lua/sinchnumbers/fake/inventory.lua",
         ["sinchnumbers.fake.json"] = "fake/lua/sinchnumbers/fake/json.lua",
         ["sinchnumbers.fake.multipart"] = "fake/lua/sinchnumbers/fake/multipart.lua",
         ["sinchnumbers.fake.orders"] = "fake/lua/sinchnumbers/fake/orders.lua",
         ["sinchnumbers.fake.process"] = "fake/lua/sinchnumbers/fake/process.lua",
         ["sinchnumbers.fake.project"] = "fake/lua/sinchnumbers/fake/project.lua",
         ["sinchnumbers.fake.scenarios"] = "fake/lua/sinchnumbers/fake/scenarios.lua",
         ["sinchnumbers.fake.spawn"] = "fake/lua/sinchnumbers/fake/spawn.lua",
         ["sinchnumbers.fake.validate"] = "fake/lua/sinchnumbers/fake/validate.lua",
         ["sinchnumbers.fake.webhook"] = "fake/lua/sinchnumbers/fake/webhook.lua",
      },
      bin = { ["sinchnumbers-fake"] = "fake/bin/sinchnumbers-fake" },
   },
}
