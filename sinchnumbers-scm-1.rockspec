rockspec_format = "3.0"
package = "sinchnumbers"
version = "scm-1"
source = {
   url = "git+file:///sinchnumbers",
}
description = {
   summary = "Lua client for the Sinch Numbers API: search, rent, configure and release phone numbers",
   detailed = [[
A C core on libcurl (kept-alive connections, timeouts, TLS verification, body
caps) under a Lua layer with one method per endpoint, OAuth2 or Basic auth,
validation before anything is sent, retries that never double-charge a rent,
pagination iterators, webhook signature checks, a non-blocking cosocket
transport for OpenResty, and a stateful fake server for tests.
]],
   license = "MIT",
   labels = { "sinch", "telephony", "api", "openresty" },
}
dependencies = {
   "lua >= 5.1",
   "lua-cjson",
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
      ["sinchnumbers.core"] = {
         sources = { "csrc/core.c", "csrc/transport.c", "csrc/codec.c" },
         libraries = { "curl", "crypto" },
         libdirs = { "$(CURL_LIBDIR)", "$(CRYPTO_LIBDIR)" },
      },
   },
   install = {
      bin = { ["sinchnumbers-fake"] = "bin/sinchnumbers-fake" },
   },
}
