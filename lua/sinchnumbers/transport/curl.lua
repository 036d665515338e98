--- HTTP over libcurl: the transport outside nginx (and in nginx phases
-- without cosockets). One libcurl easy handle per transport, kept for every
-- request, so the connection stays alive between calls. TLS peer and host
-- verification are always on; redirects are not followed; only `http` and
-- `https` URLs work. It keeps the rules of `sinchnumbers.transport.contract`.
--
-- This module checks the options (`sinchnumbers.transport.contract`) and
-- hands complete settings to the C module `sinchnumbers.transport.libcurl`
-- (csrc/transport.c); requests go straight to C.
-- @module sinchnumbers.transport.curl
-- @usage
-- local curl = require "sinchnumbers.transport.curl"
-- local http = assert(curl.new{ timeout = 30, connect_timeout = 10 })
-- local status, headers, body = http:request("GET", "https://numbers.api.sinch.com/...",
--   { Accept = "application/json" })
-- if not status then
--   local err = headers -- { kind = "timeout" | "network" | "too_large" | ..., message, curl_code, sent }
-- end
-- http:close()

local contract = require "sinchnumbers.transport.contract"
local libcurl = require "sinchnumbers.transport.libcurl"

local curl = {}

--- The version of the libcurl it runs on, such as `"7.88.1"`.
curl.curl_version = libcurl.curl_version

local OPTIONS = contract.options(contract.TLS_FIELDS)

--- Makes a libcurl transport.
-- @tparam[opt] table options
-- @tparam[opt=30] number options.timeout seconds for a whole request (fractions allowed)
-- @tparam[opt=10] number options.connect_timeout seconds to connect
-- @tparam[opt=8388608] int options.max_body_size bytes (1 to 1 GiB); a longer
-- answer is a `too_large` error, whether it announced a Content-Length or came chunked
-- @tparam[opt] string options.ca_file a CA bundle (PEM) to trust instead of the system's
-- @tparam[opt] string options.client_cert a client certificate (PEM) for servers that
-- ask for one (mutual TLS)
-- @tparam[opt] string options.client_key the client certificate's private key (PEM,
-- not encrypted); left out, libcurl reads it from `client_cert`
-- @tparam[opt] string|boolean options.proxy `"http://[user:password@]host:port"`, or
-- false for none; not given, libcurl reads `https_proxy`, `HTTPS_PROXY` and
-- `http_proxy` (see `sinchnumbers.transport.contract.PROXY_FIELDS`)
-- @tparam[opt] string options.no_proxy hosts reached directly, comma-separated
-- (not given: the environment's `no_proxy`)
-- @tparam[opt] string options.user_agent default `contract.USER_AGENT`
-- @tparam[opt=true] boolean options.success_headers false: a 2xx answer gets
-- an empty header table instead of a parsed one (the client reads headers
-- only on failures, and parsing them is a tenth of a call's cost)
-- @treturn[1] Transport
-- @treturn[2] nil
-- @treturn[2] table an `invalid_argument` error naming the bad option (a TLS
-- file that cannot be opened included)
function curl.new(options)
  local settings, err = contract.settings("sinchnumbers.transport.curl.new", OPTIONS, options)
  if not settings then return nil, err end
  return libcurl.new(settings)
end

--- A transport made by `new`. `tostring` names libcurl's version.
-- Closing frees the libcurl handle; `close`, garbage collection and
-- `__close` (a `<close>` variable on Lua 5.4) may come in any order and any
-- number of times.
-- @type Transport

--- Sends one request and reads the whole answer, as the contract says.
-- @function Transport:request
-- @tparam string method upper-case letters: `"GET"`, `"POST"`, `"PATCH"`, ...
-- @tparam string url
-- @tparam[opt] table headers names to values (strings)
-- @tparam[opt] string body
-- @tparam[opt] table opts `timeout` and `connect_timeout` for this request only
-- @treturn[1] int status
-- @treturn[1] table headers with lower-case names; a repeated header's values
-- joined by `", "`
-- @treturn[1] string body
-- @treturn[2] nil
-- @treturn[2] table `{ kind, message, curl_code, sent }` (see the contract)

--- Frees the libcurl handle. Safe to call twice; a request afterwards is
-- refused (`invalid_argument`).
-- @function Transport:close

return curl
