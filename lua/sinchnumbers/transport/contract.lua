--- The transport contract: what every transport (libcurl, cosockets, and
-- any to come) does the same way, written once. The transports' constructors
-- take their settings from `settings`, and `sinchnumbers.new` checks its own
-- transport options with the same fields, so a default or a range has one home.
--
-- **A transport** has `request(method, url, headers, body, opts)`, which
-- answers `status, headers, body` (headers by lower-case name, repeats joined
-- by `", "`) or `nil, err`, and `close()`.
--
-- **Errors** are tables `{ kind, message, sent }` (libcurl adds `curl_code`),
-- `kind` one of:
--
-- - `invalid_argument`: the request or an option was refused before anything
--   was sent (a method that is not upper-case letters, a URL with a line break
--   or a NUL or longer than `MAX_URL_BYTES`, a header name that is not a token
--   or a value with CR, LF or NUL, a bad per-request timeout or `idempotent` flag, a closed
--   transport); `sent` is false;
-- - `timeout`: a timeout or the whole request's time ran out;
-- - `too_large`: the body is over `max_body_size` or the headers over
--   `MAX_HEADER_BYTES` (the message says which);
-- - `network`: anything else on the way, a garbled answer included.
--
-- **`sent`** is false only when not a byte of the request left this process
-- (a refused connection, a connect or TLS failure, a proxy that would not
-- open the tunnel, time running out before
-- the first byte was written): that alone makes a POST safe to send again.
-- Every failure after the first byte may have reached the server: `sent` is true.
--
-- **Framing** is the transport's: a caller's `Content-Length`,
-- `Transfer-Encoding` and `Connection` headers are left out. A body goes out
-- with `Content-Length`; POST, PUT and PATCH without a body send
-- `Content-Length: 0` (some servers answer a length-less one with 411), other
-- methods without a body send none. A body without `Content-Type` is sent
-- without one (never labelled a form). `User-Agent` is `settings.user_agent`
-- (by default `USER_AGENT`, from the library's one version) unless the caller
-- gives one. With `success_headers = false` a 2xx answer comes with an empty
-- header table (the client reads headers only on failures).
--
-- **Sending again**: only a GET or HEAD, or a request whose `opts` say
-- `idempotent = true` (the pipeline says so for every call that may be
-- repeated: an update, a release; never a rent), may go out a second time
-- by the transport's own choice (on a fresh connection, when a kept-alive
-- one turns out dead before any answer), and so may ride a kept-alive
-- connection. Any other request is never re-sent behind the caller's back:
-- libcurl sends it on a fresh connection only, the cosocket transport fails
-- with `sent = true`. A transport of the caller's own may ignore the flag
-- (and never re-send): it allows, it does not oblige.
--
-- **TLS files** (`TLS_FILES`: `ca_file`, `client_cert`, `client_key`) are
-- checked here, a file that cannot be opened refused before anything is sent;
-- a transport that cannot read files refuses them naming its configuration
-- instead (`TLS_DIRECTIVE_FIELDS`).
--
-- The libcurl transport checks requests in C (where it costs nothing) by the
-- same rules as `check_request`; `spec/support/transport_cases.lua` holds every
-- transport to all of the above.
--
-- **Raise or return**, across the layers: everything that checks a caller's
-- input or talks to the network returns `nil, err`, constructors included;
-- only the iterators raise (the error object, mid-iteration, as `io.lines`
-- does), and a programmer error that cannot be reported otherwise (a method
-- called on something that is not its object, settings that did not come
-- from this module).
-- @module sinchnumbers.transport.contract

local errors = require "sinchnumbers.errors"
local validate = require "sinchnumbers.validate"
local version = require "sinchnumbers.version"

local contract = {}

--- The User-Agent a transport sends unless told otherwise.
contract.USER_AGENT = "sinchnumbers-lua/" .. version .. " (" .. _VERSION .. ")"

--- The most bytes of one answer's status line and headers.
contract.MAX_HEADER_BYTES = 256 * 1024

--- The longest URL sent. libcurl builds a request head in a buffer of 1 MiB
-- and calls a longer one "Out of memory"; servers refuse far shorter ones.
contract.MAX_URL_BYTES = 64 * 1024

--- The longest timeout, in seconds (a day).
contract.MAX_SECONDS = 86400

--- Headers the transport writes itself (lower-case names).
contract.FRAMING_HEADERS = { ["content-length"] = true, ["transfer-encoding"] = true, ["connection"] = true }

--- Methods that carry a body even without one (`Content-Length: 0`).
contract.BODY_METHODS = { POST = true, PUT = true, PATCH = true }

--- The defaults of the options every transport takes.
contract.DEFAULTS = {
  timeout = 30,
  connect_timeout = 10,
  -- Sinch's answers are kilobytes: this guards memory against a broken or hostile peer.
  max_body_size = 8 * 1024 * 1024,
  success_headers = true,
  user_agent = contract.USER_AGENT,
}

--- A field (for `validate.compile`) for an option in seconds.
function contract.seconds_field(name)
  return { name = name, type = "number", min = 0.001, max = contract.MAX_SECONDS,
           expect = "a number of seconds above 0 and at most " .. contract.MAX_SECONDS }
end

local function no_line_break(value)
  return type(value) == "string" and not value:find("[%z\r\n]")
end

--- The fields of the options every transport takes; `sinchnumbers.new`
-- checks its `timeout`, `connect_timeout` and `max_body_size` with these.
contract.FIELDS = {
  contract.seconds_field("timeout"),
  contract.seconds_field("connect_timeout"),
  { name = "max_body_size", type = "integer", min = 1, max = 1024 * 1024 * 1024,
    expect = "a number of bytes from 1 to 1 GiB" },
  { name = "success_headers", type = "boolean" },
  { name = "user_agent", check = no_line_break, expect = "a string without a line break or a NUL" },
}

local MTLS_MODULE = "lua-nginx-module 0.10.26 or later; Debian 12's 0.10.23 has none"

--- The TLS files a client may name, and the nginx.conf directive that
-- stands for each under nginx, where a cosocket reads no file of its own.
contract.TLS_FILES = {
  { name = "ca_file", what = "a CA bundle (PEM) to trust", directive = "lua_ssl_trusted_certificate" },
  { name = "client_cert", what = "a client certificate (PEM)", directive = "lua_ssl_certificate",
    needs = MTLS_MODULE },
  { name = "client_key", what = "the client certificate's private key (PEM)", directive = "lua_ssl_certificate_key",
    needs = MTLS_MODULE },
}

local function readable_file(path)
  if type(path) ~= "string" or path:find("%z") then return false end
  local file = io.open(path, "rb")
  if not file then return false end
  file:close()
  return true
end

--- The fields of the TLS files, for a transport that reads them (a file
-- that cannot be opened is refused before anything is sent).
contract.TLS_FIELDS = {}
for _, tls in ipairs(contract.TLS_FILES) do
  contract.TLS_FIELDS[#contract.TLS_FIELDS + 1] = {
    name = tls.name, check = readable_file, expect = "the path of a readable file: " .. tls.what,
  }
end

--- The same names for a transport that cannot take them: each is refused
-- with the nginx.conf directive to use instead.
contract.TLS_DIRECTIVE_FIELDS = {}
for _, tls in ipairs(contract.TLS_FILES) do
  contract.TLS_DIRECTIVE_FIELDS[#contract.TLS_DIRECTIVE_FIELDS + 1] = {
    name = tls.name, check = function() return false end,
    expect = ("left out under nginx: a cosocket takes %s from nginx.conf's %s%s")
      :format(tls.what, tls.directive, tls.needs and " (" .. tls.needs .. ")" or ""),
  }
end

--- The error of options with a `client_key` but no `client_cert`, or nil.
-- @tparam string who the constructor, for the message
-- @tparam table options checked by their fields already
function contract.unpaired_key(who, options)
  if options.client_key and not options.client_cert then
    return errors.invalid_argument(who .. ": option client_key needs client_cert (the certificate it goes with)",
      "client_key")
  end
  return nil
end

--- The proxy fields, which every transport takes. `proxy` is
-- `"http://[user:password@]host:port"`, or false for none; left out, the
-- environment's `https_proxy` (or `HTTPS_PROXY`) for https URLs and
-- `http_proxy` for http ones (never `HTTP_PROXY`, which CGI lets a request
-- header set), else `all_proxy` (or `ALL_PROXY`), as libcurl reads them. `no_proxy` (else the environment's
-- `no_proxy` or `NO_PROXY`) lists host names, comma-separated, reached
-- directly, each with its subdomains; `*` is every host.
contract.PROXY_FIELDS = {
  { name = "proxy", secret = true,
    check = function(value)
      return value == false or (type(value) == "string" and value:find("^http://[^/%s@]*@?[^/%s@]+:%d+/?$") ~= nil)
    end,
    expect = 'an http:// URL with a port, "http://[user:password@]host:port", or false for no proxy' },
  { name = "no_proxy", check = function(value) return no_line_break(value) and not value:find("[/@]") end,
    expect = 'host names separated by commas, or "*"' },
}

--- The options a client passes through to the transport it makes.
contract.CLIENT_FIELDS = {}
for _, group in ipairs { contract.TLS_FIELDS, contract.PROXY_FIELDS } do
  for _, field in ipairs(group) do contract.CLIENT_FIELDS[#contract.CLIENT_FIELDS + 1] = field end
end

-- "%41" -> "A": credentials in a URL are percent-encoded.
local function percent_decoded(text)
  return (text:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

--- A proxy URL taken apart: `{ host, port, credentials, label }`, the
-- credentials (`"user:password"`, decoded) or nil, the label its URL without
-- them; or nil when it is not `http://[user:password@]host:port`.
function contract.parse_proxy(url)
  local userinfo, host, port = url:match("^http://([^/%s@]*)@([^/%s@]+):(%d+)/?$")
  if not userinfo then host, port = url:match("^http://([^/%s@]+):(%d+)/?$") end
  port = tonumber(port)
  if not host or port < 1 or port > 65535 then return nil end
  return { host = host, port = port, credentials = userinfo and percent_decoded(userinfo),
           label = ("http://%s:%d"):format(host, port) }
end

--- The proxies a transport uses, from its settings, else the environment
-- (as libcurl reads it): `{ http = proxy, https = proxy, no_proxy = { names } }`,
-- each proxy from `parse_proxy` or false; or nil and an `invalid_argument`
-- error naming the variable (never its value, which may hold a password).
-- @tparam table settings from `settings`
-- @tparam function getenv `os.getenv`
function contract.proxies(settings, getenv)
  local chosen = { no_proxy = {} }
  local sources = {
    https = { settings.proxy, "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" },
    http = { settings.proxy, "http_proxy", "all_proxy", "ALL_PROXY" },
  }
  for scheme, source in pairs(sources) do
    local url, from = source[1], "option proxy"
    for i = 2, #source do
      if url == nil then url, from = getenv(source[i]), "environment variable " .. source[i] end
    end
    if url == nil or url == false or url == "" then
      chosen[scheme] = false
    else
      chosen[scheme] = contract.parse_proxy(url)
      if not chosen[scheme] then
        return nil, errors.invalid_argument(from .. ' must be a proxy URL "http://[user:password@]host:port"')
      end
    end
  end
  local no_proxy = settings.no_proxy or getenv("no_proxy") or getenv("NO_PROXY") or ""
  for name in no_proxy:gmatch("[^,%s]+") do
    chosen.no_proxy[#chosen.no_proxy + 1] = name:gsub("^%.", ""):lower()
  end
  return chosen
end

--- Whether `host` is reached directly, by a `no_proxy` list from `proxies`:
-- `*`, the host itself, or a domain it is in.
function contract.bypasses(no_proxy, host)
  host = host:gsub("^%[(.*)%]$", "%1"):lower()
  for _, name in ipairs(no_proxy) do
    if name == "*" or host == name or host:sub(-#name - 1) == "." .. name then return true end
  end
  return false
end

contract.FIELD = {}
for _, field in ipairs(contract.FIELDS) do contract.FIELD[field.name] = field end
for _, field in ipairs(contract.CLIENT_FIELDS) do contract.FIELD[field.name] = field end

--- The schema of one transport's options: the common fields and its own.
-- @tparam[opt] {table,...} own fields of that transport only
function contract.options(own)
  local fields = {}
  for _, field in ipairs(contract.FIELDS) do fields[#fields + 1] = field end
  for _, field in ipairs(contract.PROXY_FIELDS) do fields[#fields + 1] = field end
  for _, field in ipairs(own or {}) do fields[#fields + 1] = field end
  return validate.compile { type = "object", fields = fields }
end

--- Checks a transport's options against its schema (from `options`) and
-- fills in the defaults, `own_defaults` over the common ones. Returns the
-- complete settings (with `max_header_bytes`, `max_url_bytes` and `max_seconds`), or nil
-- and an `invalid_argument` error; never raises.
-- @tparam string who the constructor, for the message
-- @tparam table schema from `options`
-- @tparam[opt] table options the caller's
-- @tparam[opt] table own_defaults the transport's own defaults
function contract.settings(who, schema, options, own_defaults)
  if options == nil then options = {} end
  if type(options) ~= "table" then
    return nil, errors.invalid_argument(who .. ": options must be a table with " .. table.concat(schema.names, ", "))
  end
  local given = {}
  for name, value in next, options do given[name] = value end
  local message, field = validate.fields(schema, given, "option")
  if message then return nil, errors.invalid_argument(who .. ": " .. message, field) end
  local settings = {
    max_header_bytes = contract.MAX_HEADER_BYTES,
    max_url_bytes = contract.MAX_URL_BYTES,
    max_seconds = contract.MAX_SECONDS,
  }
  for name, value in pairs(contract.DEFAULTS) do settings[name] = value end
  for name, value in pairs(own_defaults or {}) do settings[name] = value end
  for name, value in pairs(given) do settings[name] = value end
  local unpaired = contract.unpaired_key(who, settings)
  if unpaired then return nil, unpaired end
  return settings
end

--- The error of a request refused before anything was sent.
function contract.refused(message)
  return { kind = "invalid_argument", message = message, sent = false }
end

-- A header name is an RFC 9110 token; a value holds no CR, LF or NUL.
local function bad_header(name, value)
  return type(name) ~= "string" or type(value) ~= "string"
    or not name:find("^[!#$%%&'*+%-.^_`|~%w]+$") or value:find("[%z\r\n]")
end

--- Checks a request's arguments (the libcurl transport checks the same in
-- C, where it costs nothing). Returns nil, or the error to return.
function contract.check_request(method, url, headers, body, opts, settings)
  if type(method) ~= "string" or not method:find("^%u+$") then
    return contract.refused("the HTTP method must be upper-case letters")
  end
  if type(url) ~= "string" then return contract.refused("the URL must be a string") end
  if url:find("[%z\r\n]") then return contract.refused("the URL holds a line break or a NUL") end
  if #url > settings.max_url_bytes then
    return contract.refused(("the URL is %d bytes long, above the limit of %d"):format(#url, settings.max_url_bytes))
  end
  if headers ~= nil then
    if type(headers) ~= "table" then return contract.refused("headers must be a table of names to values") end
    for name, value in pairs(headers) do
      if bad_header(name, value) then
        if type(name) ~= "string" or type(value) ~= "string" then
          return contract.refused("header names and values must be strings")
        end
        return contract.refused("a header name must be a token (letters, digits, !#$%&'*+-.^_`|~) "
          .. "and a value must hold no line break or NUL")
      end
    end
  end
  if body ~= nil and type(body) ~= "string" then return contract.refused("the body must be a string or nil") end
  if opts ~= nil then
    if type(opts) ~= "table" then return contract.refused("the request options must be a table") end
    for _, name in ipairs { "timeout", "connect_timeout" } do
      local value = opts[name]
      if value ~= nil and (type(value) ~= "number" or value ~= value or value <= 0
                              or value > contract.MAX_SECONDS) then
        return contract.refused(("%s must be a number of seconds above 0 and at most %d")
          :format(name, contract.MAX_SECONDS))
      end
    end
    if opts.idempotent ~= nil and type(opts.idempotent) ~= "boolean" then
      return contract.refused("idempotent must be true, false or nil")
    end
  end
  return nil
end

--- The Content-Length a request carries: a number, or nil for none.
function contract.content_length(method, body)
  if body then return #body end
  if contract.BODY_METHODS[method] then return 0 end
  return nil
end

return contract
