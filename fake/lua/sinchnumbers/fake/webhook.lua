-- Number events as Sinch sends them to a number's callbackUrl, signed with the
-- project's hmacSecret (X-Sinch-Signature: lowercase hex HMAC-SHA1 of the body).
local socket = require "socket"
local json = require "sinchnumbers.fake.json"

local webhook = {}

webhook.EVENT = { kind = "object", required = { "phoneNumber" }, fields = {
  phoneNumber = { kind = "string", format = "e164" },
  -- Any text is accepted, so users can test how they handle event types and
  -- statuses Sinch adds later; the defaults are the commonest ones.
  eventType = { kind = "string" },
  status = { kind = "string" },
  failureCode = { kind = "string" },
  internalFailureCode = { kind = "string" },
} }

local function shell_quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

-- The C codec (sinchnumbers.codec) does HMAC-SHA1 when it is built. Without it: plain Lua 5.1 has no
-- bit operations, so SHA-1 in Lua would be slow emulation; the openssl command,
-- present wherever this project builds, does it instead. The body goes through a
-- temporary file so any bytes and any size are signed exactly.
local has_codec, codec = pcall(require, "sinchnumbers.codec")

function webhook.hmac_sha1_hex(key, data)
  if has_codec and type(codec) == "table" and codec.hmac_sha1_hex then
    return codec.hmac_sha1_hex(key, data)
  end
  local path = os.tmpname()
  local file = assert(io.open(path, "wb"))
  file:write(data)
  file:close()
  local command = io.popen("openssl dgst -sha1 -hmac " .. shell_quote(key) .. " " .. shell_quote(path) .. " 2>&1")
  local output = command:read("*a")
  command:close()
  os.remove(path)
  local digest = output:match("= (%x+)%s*$")
  if not digest then error("sinchnumbers.fake: openssl could not compute the HMAC: " .. output) end
  return digest:lower()
end

local event_count = 0

local function given(value)
  if value ~= nil and value ~= json.null then return value end
end

-- The raw JSON body of an event. `event` has resourceId, resourceType,
-- eventType, status, and optionally failureCode and internalFailureCode;
-- `now` is the fake's clock.
function webhook.payload(project_id, event, now)
  event_count = event_count + 1
  local seconds = math.floor(now)
  return json.encode({
    eventId = string.format("fake-event-%x-%d", math.floor(socket.gettime() * 1000), event_count),
    -- Sinch writes UTC without a zone designator.
    timestamp = os.date("!%Y-%m-%dT%H:%M:%S", seconds) .. string.format(".%06d", math.floor((now - seconds) * 1e6)),
    projectId = project_id,
    resourceId = event.resourceId,
    resourceType = event.resourceType,
    eventType = event.eventType,
    status = event.status,
    failureCode = given(event.failureCode) or json.null,
    internalFailureCode = given(event.internalFailureCode) or json.null,
  })
end

-- The event about an active number that POST /_fake/events asks for (`spec`
-- is a checked webhook.EVENT object).
function webhook.number_event(spec)
  return {
    resourceId = spec.phoneNumber,
    resourceType = "ACTIVE_NUMBER",
    eventType = given(spec.eventType) or "PROVISIONING_TO_SMS_PLATFORM",
    status = given(spec.status) or "SUCCEEDED",
    failureCode = spec.failureCode,
    internalFailureCode = spec.internalFailureCode,
  }
end

-- Signs `payload` with `hmac_secret` and POSTs it to `url` on the server's
-- loop; then done{ delivered, status, body, signature, payload }, or
-- done{ delivered = false, error, signature, payload }.
function webhook.deliver(server, hmac_secret, url, payload, done)
  local signature = webhook.hmac_sha1_hex(hmac_secret, payload)
  local headers = { ["Content-Type"] = "application/json", ["X-Sinch-Signature"] = signature }
  server:fetch(url, "POST", headers, payload, function(status, _, answer)
    if status then
      done({ delivered = true, status = status, body = answer, signature = signature, payload = payload })
    else
      done({ delivered = false, error = answer, signature = signature, payload = payload })
    end
  end)
end

return webhook
