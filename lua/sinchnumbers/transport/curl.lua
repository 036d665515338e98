--- HTTP over libcurl: the transport outside nginx (and in nginx phases
-- without cosockets). One libcurl easy handle per transport, kept for every
-- request, so the connection stays alive between calls. TLS peer and host
-- verification are always on; redirects are not followed; only `http` and
-- `https` URLs work. It keeps the rules of `sinchnumbers.transport.contract`.
--
-- This module checks the options (`sinchnumbers.transport.contract`) and
-- hands complete settings to the C module `sinchnumbers.transport.libcurl`
-- (csrc/transport.c, csrc/multi.c, csrc/request.c); requests go straight to C.
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

--- Frees the libcurl handle and the `Multi` it keeps. Safe to call twice; a
-- request afterwards is refused (`invalid_argument`). A `Multi` lent out at
-- the time goes on working until it is closed.
-- @function Transport:close

--- Lends a `Multi` with this transport's settings (timeouts, caps, TLS
-- files, proxy, user agent), for many requests at once: what `client:map`
-- runs on outside nginx (through `sinchnumbers.tasks.curl`). The transport
-- keeps one Multi: made on the first call, it comes back when closed, with
-- its handles and its connections (and TLS sessions), for the next call, so
-- that one map after another connects once, as the sequential requests do.
-- A call that asks for more handles than it has replaces it with a bigger
-- one; a call while it is lent out (a map inside a map) gets a Multi of its
-- own, freed when closed. Not there on a libcurl older than 7.80.
-- @function Transport:multi
-- @tparam int size easy handles (transfers at once), 1 to 100, made as needed and kept (at least `size`)
-- @treturn[1] Multi
-- @treturn[2] nil
-- @treturn[2] table an `invalid_argument` error (a bad size, a closed transport)

--- Many transfers at once on one libcurl multi handle (CURLM), each on an
-- easy handle of its pool, answered exactly as `Transport:request` answers
-- (the contract's cases run through it too). The handles share the
-- connections: with `CURLPIPE_MULTIPLEX`, and `CURLOPT_PIPEWAIT` over TLS,
-- transfers to a server that offers HTTP/2 (ALPN) are streams of one
-- connection. Its settings are its own copy: it outlives the transport it
-- was lent by. `close`, garbage collection and `__close` may come in any
-- order and any number of times; `tostring` names libcurl, the size and the
-- transfers pending.
-- @type Multi

--- Starts a transfer and returns at once. The arguments are `Transport:request`'s,
-- checked the same way; a body is copied.
-- @function Multi:start
-- @tparam string method
-- @tparam string url
-- @tparam[opt] table headers
-- @tparam[opt] string body
-- @tparam[opt] table opts `timeout` and `connect_timeout` for this transfer
-- @treturn[1] int the transfer's id, for `wait`
-- @treturn[2] nil
-- @treturn[2] table an `invalid_argument` error, before anything is sent (also when
-- every handle is busy, or the Multi is closed)

--- Waits until a transfer ends, or `seconds` pass, sleeping in
-- `curl_multi_poll` meanwhile (with no transfer pending, it is a sleep of
-- `seconds`). Ended transfers come back one per call, oldest first.
-- @function Multi:wait
-- @tparam[opt] number seconds at most this long; nil: until one ends (at
-- once, with nothing, when none is pending)
-- @treturn[1] int the id of an ended transfer
-- @treturn[1] int status
-- @treturn[1] table headers
-- @treturn[1] string body
-- @treturn[2] int the id of a failed transfer
-- @treturn[2] nil
-- @treturn[2] table `{ kind, message, curl_code, sent }`, as `Transport:request`'s
-- @return[3] nothing, when the time passed with none ended

--- How many transfers were started and not yet returned by `wait`.
-- @function Multi:pending
-- @treturn int

--- Aborts the transfers in flight and ends this use of the Multi: the one
-- its transport keeps goes back to it with its handles and idle
-- connections, any other is freed. Safe twice; through this object `start`
-- afterwards is refused (`invalid_argument`) and `wait` returns nothing,
-- whoever is lent the kept one next.
-- @function Multi:close

return curl
