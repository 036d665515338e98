-- make examples: skip (needs nginx; spec/webhook_example_spec.lua runs it)
-- POST /sinch/events: receives Sinch number events (webhooks) in nginx.
--
-- The signature is checked against the raw body before anything else
-- (sinchnumbers.verify_request: 401 when it is missing or wrong), the body is
-- read as an event (sinchnumbers.parse_event: 400 when it is not one), the
-- event is logged, and the answer is 200 with {"received":"<eventId>"}.
-- Answer fast: Sinch waits for the 2xx; start slow work with ngx.timer.at.
--
-- In nginx.conf (main context, so that Lua can read the variable):
--
--   env SINCH_HMAC_SECRET;            # the project's callback hmacSecret
--
-- and in the http block, beside the paths of examples/openresty/nginx.conf
-- (with `require "webhook"` in its init_by_lua_block, so that workers that
-- cannot read the checkout have it):
--
--   server {
--     listen 8080;
--     location = /sinch/events {
--       client_max_body_size 64k;     # an event is a few hundred bytes
--       client_body_buffer_size 64k;  # so the body stays in memory
--       content_by_lua_block { require("webhook").handle() }
--     }
--   }
--
-- Against the bundled fake: rent a number with callbackUrl
-- http://127.0.0.1:8080/sinch/events, set the same hmacSecret with
-- client:update_callback_configuration, then POST /_fake/events
-- {"phoneNumber": ...} to the fake.
-- (ngx.status and ngx.header are meant to be written to.)
-- luacheck: ignore 122
local cjson = require "cjson"
local sinchnumbers = require "sinchnumbers"

local webhook = {}

local function answer(status, body)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(body)
  return ngx.exit(status)
end

-- The raw body: in memory, or in a temporary file when it outgrew
-- client_body_buffer_size.
local function raw_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then return body end
  local path = ngx.req.get_body_file()
  if not path then return "" end
  local file = io.open(path, "rb")
  if not file then return nil end
  body = file:read("*a")
  file:close()
  return body
end

function webhook.handle()
  if ngx.req.get_method() ~= "POST" then
    ngx.header["Allow"] = "POST"
    return answer(405, '{"error":"POST events here"}')
  end
  local secret = os.getenv("SINCH_HMAC_SECRET")
  if not secret or secret == "" then
    ngx.log(ngx.ERR, "SINCH_HMAC_SECRET is not set: add `env SINCH_HMAC_SECRET;` to nginx.conf")
    return answer(500, '{"error":"not configured"}')
  end
  local body = raw_body()
  if not body then return answer(500, '{"error":"cannot read the body"}') end

  -- ngx.req.get_headers() gives a header sent twice as a list, which
  -- verify_request refuses rather than guess which one counts.
  local ok, err = sinchnumbers.verify_request(ngx.req.get_headers(), body, secret)
  if not ok then
    ngx.log(ngx.WARN, "refused a webhook: ", err.message)
    return answer(401, '{"error":"bad signature"}')
  end
  local event
  event, err = sinchnumbers.parse_event(body)
  if not event then
    ngx.log(ngx.WARN, "refused a webhook: ", err.message)
    return answer(400, '{"error":"not an event"}')
  end

  -- Here: hand the event to your application (a queue, a timer, a database).
  ngx.log(ngx.NOTICE, "sinch event ", tostring(event.eventId), ": ", tostring(event.eventType), " ",
    tostring(event.status), " for ", tostring(event.resourceId))
  return answer(200, cjson.encode { received = event.eventId })
end

return webhook
