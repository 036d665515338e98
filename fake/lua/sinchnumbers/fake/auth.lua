-- Credentials: Basic auth with the key id and secret, and the OAuth2 bearer
-- tokens this fake issues at POST /oauth2/token.
local mime = require "mime"
local socket = require "socket"
local errors = require "sinchnumbers.fake.errors"
local validate = require "sinchnumbers.fake.validate"

local auth = {}

local EXPIRED_CHALLENGE = 'Bearer realm="sinch", error="invalid_token", error_description="expired"'
local INVALID_TOKEN_CHALLENGE = 'Bearer realm="sinch", error="invalid_token"'
local MISSING_CHALLENGE = 'Bearer realm="sinch"'
local BAD_CREDENTIALS = "Request had invalid authentication credentials: "

local Auth = {}
Auth.__index = Auth

-- config: key_id, key_secret, token_ttl (seconds; fractions allowed)
function auth.new(config)
  return setmetatable({
    config = config,
    tokens = {}, -- token -> { expires_at, revoked }
    issued = 0,
    -- Tokens name the moment this server started, so a token cached from an
    -- earlier run is unknown here rather than accidentally valid.
    prefix = string.format("fake-%x", math.floor(socket.gettime() * 1000)),
  }, Auth)
end

-- Tokens issued before a reset or expire_tokens answer as expired, the way an
-- old token does at Sinch, so clients that refresh on that 401 keep working.
function Auth:expire_all()
  local count = 0
  for _, token in pairs(self.tokens) do
    if not token.revoked then count = count + 1 end
    token.revoked = true
  end
  return count
end

local function basic_credentials(header)
  local encoded = header and header:match("^[Bb][Aa][Ss][Ii][Cc]%s+(%S+)%s*$")
  return encoded and mime.unb64(encoded)
end

function Auth:basic_ok(header)
  return basic_credentials(header) == self.config.key_id .. ":" .. self.config.key_secret
end

local function unauthenticated(message, challenge)
  return errors.response(401, message, nil, { ["WWW-Authenticate"] = challenge })
end

-- Checks the Authorization header of an API request.
-- Returns nil when it is accepted, else the 401 response to send.
function Auth:check(header, now)
  if self:basic_ok(header) then return nil end
  local token = header and header:match("^[Bb][Ee][Aa][Rr][Ee][Rr]%s+(%S+)%s*$")
  if token then
    local issued = self.tokens[token]
    if not issued then
      return unauthenticated(BAD_CREDENTIALS .. "unknown access token.", INVALID_TOKEN_CHALLENGE)
    end
    if issued.revoked or now >= issued.expires_at then
      return unauthenticated(BAD_CREDENTIALS .. "the access token has expired.", EXPIRED_CHALLENGE)
    end
    return nil
  end
  if basic_credentials(header) then
    return unauthenticated(BAD_CREDENTIALS .. "wrong key id or key secret.", 'Basic realm="sinch"')
  end
  return unauthenticated("Request is missing required authentication credential: send Basic or Bearer authorization.",
    MISSING_CHALLENGE)
end

local function oauth_error(status, code, description, headers)
  return errors.json_response(status, { error = code, error_description = description }, headers)
end

-- POST /oauth2/token: client credentials grant, key id and secret by Basic auth.
function Auth:token_endpoint(request, now)
  if request.method ~= "POST" then
    return oauth_error(405, "invalid_request", "use POST", { Allow = "POST" })
  end
  if not self:basic_ok(request.headers.authorization) then
    return oauth_error(401, "invalid_client",
      "client authentication failed: send the key id and key secret with Basic auth",
      { ["WWW-Authenticate"] = 'Basic realm="sinch"' })
  end
  local form = {}
  for _, pair in ipairs(validate.parse_query(request.body)) do form[pair[1]] = pair[2] end
  if not form.grant_type then
    return oauth_error(400, "invalid_request",
      "grant_type is missing; send grant_type=client_credentials as a form body")
  end
  if form.grant_type ~= "client_credentials" then
    return oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
  end
  self.issued = self.issued + 1
  local token = string.format("%s-%d", self.prefix, self.issued)
  self.tokens[token] = { expires_at = now + self.config.token_ttl }
  return errors.json_response(200, {
    access_token = token,
    expires_in = self.config.token_ttl,
    scope = "",
    token_type = "bearer",
  })
end

return auth
