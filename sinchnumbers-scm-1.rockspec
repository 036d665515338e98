rockspec_format = "3.0"
package = "sinchnumbers"
version = "scm-1"
-- For a checkout (`luarocks make`), which never fetches the source. `make dist`
-- writes the release rockspec and .src.rock, with the tarball as their source.
source = {
   url = "git+file:///sinchnumbers",
}
description = {
   summary = "Lua client for the Sinch Numbers API: search, rent, configure and release phone numbers",
   detailed = [[
A C core on libcurl (kept-alive connections, timeouts, TLS verification, body
caps) under a Lua layer with one method per endpoint, OAuth2 or Basic auth,
validation before anything is sent, retries that never send a rent twice
blindly, pagination iterators, webhook signature checks, a non-blocking
cosocket transport for OpenResty. Runs on Lua 5.1 to 5.4 and LuaJIT.
The stateful fake server for tests is its own rock, sinchnumbers-fake.
See README.md.
]],
   -- No homepage: the project has no public site or repository URL yet, and
   -- a made-up one would send people to the wrong place. README.md is the
   -- documentation; add the URL here once there is one.
   license = "MIT",
   labels = { "sinch", "telephony", "api", "openresty" },
}
-- The fake server, which needs luasocket, is the sinchnumbers-fake rock.
dependencies = {
   "lua >= 5.1",
   "lua-cjson",
   -- The sinchnumbers command's parser (Debian: lua-argparse).
   "argparse",
}
-- Only the libraries are declared: LuaRocks 3.8 does not search Debian's
-- multiarch include folder, where curl/curl.h lives, but the compiler does.
external_dependencies = {
   CURL = { library = "curl" },
   CRYPTO = { library = "crypto" },
}
build = {
   type = "builtin",
   modules = {
      ["sinchnumbers"] = "lua/sinchnumbers/init.lua",
      ["sinchnumbers.auth"] = "lua/sinchnumbers/auth.lua",
      ["sinchnumbers.budget"] = "lua/sinchnumbers/budget.lua",
      ["sinchnumbers.cli"] = "lua/sinchnumbers/cli/init.lua",
      ["sinchnumbers.cli.commands"] = "lua/sinchnumbers/cli/commands.lua",
      ["sinchnumbers.cli.output"] = "lua/sinchnumbers/cli/output.lua",
      ["sinchnumbers.cli.profiles"] = "lua/sinchnumbers/cli/profiles.lua",
      ["sinchnumbers.cli.terminal"] = "lua/sinchnumbers/cli/terminal.lua",
      ["sinchnumbers.cli.wire"] = "lua/sinchnumbers/cli/wire.lua",
      -- Needs a Redis client, not declared: see its documentation.
      ["sinchnumbers.cache.redis"] = "lua/sinchnumbers/cache/redis.lua",
      ["sinchnumbers.endpoints"] = "lua/sinchnumbers/endpoints.lua",
      ["sinchnumbers.errors"] = "lua/sinchnumbers/errors.lua",
      ["sinchnumbers.json"] = "lua/sinchnumbers/json.lua",
      ["sinchnumbers.log"] = "lua/sinchnumbers/log.lua",
      ["sinchnumbers.map"] = "lua/sinchnumbers/map.lua",
      ["sinchnumbers.multipart"] = "lua/sinchnumbers/multipart.lua",
      ["sinchnumbers.pager"] = "lua/sinchnumbers/pager.lua",
      ["sinchnumbers.pipeline"] = "lua/sinchnumbers/pipeline.lua",
      ["sinchnumbers.request"] = "lua/sinchnumbers/request.lua",
      ["sinchnumbers.tasks.curl"] = "lua/sinchnumbers/tasks/curl.lua",
      ["sinchnumbers.tasks.ngx"] = "lua/sinchnumbers/tasks/ngx.lua",
      ["sinchnumbers.tasks.sequential"] = "lua/sinchnumbers/tasks/sequential.lua",
      ["sinchnumbers.time"] = "lua/sinchnumbers/time.lua",
      ["sinchnumbers.transport.contract"] = "lua/sinchnumbers/transport/contract.lua",
      ["sinchnumbers.transport.curl"] = "lua/sinchnumbers/transport/curl.lua",
      ["sinchnumbers.transport.ngx"] = "lua/sinchnumbers/transport/ngx.lua",
      ["sinchnumbers.validate"] = "lua/sinchnumbers/validate.lua",
      ["sinchnumbers.version"] = "lua/sinchnumbers/version.lua",
      ["sinchnumbers.webhooks"] = "lua/sinchnumbers/webhooks.lua",
      -- The byte codecs link libcrypto only; the libcurl transport is apart,
      -- so that a process that uses cosockets never loads libcurl.
      ["sinchnumbers.codec"] = {
         sources = { "csrc/codec_lua.c", "csrc/codec.c" },
         libraries = { "crypto" },
         libdirs = { "$(CRYPTO_LIBDIR)" },
      },
      ["sinchnumbers.transport.libcurl"] = {
         sources = { "csrc/transport.c", "csrc/multi.c", "csrc/request.c" },
         libraries = { "curl", "m" },
         libdirs = { "$(CURL_LIBDIR)" },
      },
   },
   -- The command line; its man page is doc/sinchnumbers.1 (make install puts it in man1).
   install = { bin = { sinchnumbers = "bin/sinchnumbers" } },
}
-- `luarocks test` runs busted with the "luarocks" run of .busted: the core that
-- `luarocks make` installed, under the Lua that LuaRocks runs busted with.
test = {
   type = "busted",
   flags = { "--run=luarocks" },
}
