-- The webhook examples, run as written against the fake: the fake delivers a
-- signed event to a rented number's callbackUrl, the example checks and
-- accepts it; a request signed with another secret, or not at all, gets 401.
--   examples/webhook_server.lua      plain Lua and luasocket, as a process
--   examples/openresty/webhook.lua   a content handler in a real nginx
local helper = require "support.client_helper"
local nginx = require "support.nginx"
local socket = require "socket"
local socket_http = require "socket.http"
local ltn12 = require "ltn12"

local HMAC_SECRET = "webhook-example-spec-secret"

local read_file = require("support.files").read_so_far
local shell_quote = require("support.shell").quote

-- POSTs a body straight to the example; returns the status and the answer.
local function post(url, body, headers)
  local chunks = {}
  headers = headers or {}
  headers["Content-Type"] = "application/json"
  headers["Content-Length"] = tostring(#body)
  local _, status = socket_http.request {
    url = url, method = "POST", headers = headers,
    source = ltn12.source.string(body), sink = ltn12.sink.table(chunks),
  }
  return status, table.concat(chunks)
end

-- The example's checks, the same for both: `url` receives events, `output()`
-- gives what the example printed or logged so far.
local function behaves_as_a_webhook_receiver(server, url, output)
  local client = helper.client(server)
  local phone_number = helper.available_number(client)
  assert(client:rent_number(phone_number, { callbackUrl = url }))
  assert(client:update_callback_configuration { hmacSecret = HMAC_SECRET })

  -- A signed event from the fake is accepted and printed.
  local delivery = server:send_event { phoneNumber = phone_number, eventType = "PROVISIONING_TO_VOICE_PLATFORM" }
  assert.is_true(delivery.delivered, tostring(delivery.error))
  assert.equal(200, delivery.status)
  local event_id = delivery.payload:match('"eventId":"([^"]+)"')
  assert.matches('"received":"' .. event_id .. '"', delivery.body, 1, true)
  local deadline = socket.gettime() + 5
  while not output():find(event_id, 1, true) and socket.gettime() < deadline do socket.sleep(0.05) end
  local line = event_id .. ": PROVISIONING_TO_VOICE_PLATFORM SUCCEEDED for " .. phone_number
  assert.is_truthy(output():find(line, 1, true), "no line with " .. line .. " in:\n" .. output())

  -- Signed with another secret: refused.
  assert(client:update_callback_configuration { hmacSecret = "not-the-example's-secret" })
  delivery = server:send_event { phoneNumber = phone_number }
  assert.is_true(delivery.delivered)
  assert.equal(401, delivery.status)

  -- Wrongly signed, unsigned, signed twice, or signed but not an event.
  local body = delivery.payload
  assert.equal(401, (post(url, body, { ["X-Sinch-Signature"] = string.rep("0", 40) })))
  assert.equal(401, (post(url, body)))
  local codec = require "sinchnumbers.codec"
  local good = codec.hmac_sha1_hex(HMAC_SECRET, body)
  assert.equal(200, (post(url, body, { ["X-Sinch-Signature"] = good })))
  assert.equal(401, (post(url, body .. " ", { ["X-Sinch-Signature"] = good })))
  assert.equal(400, (post(url, "[1]", { ["X-Sinch-Signature"] = codec.hmac_sha1_hex(HMAC_SECRET, "[1]") })))
end

describe("examples/webhook_server.lua", function()
  local server = helper.with_fake()
  local pid, output_path, url

  setup(function()
    output_path = os.tmpname()
    -- The example runs under the same Lua, with this tree's modules and C modules.
    local command = ("SINCH_HMAC_SECRET=%s LUA_PATH=%s LUA_CPATH=%s %s examples/webhook_server.lua 0"
      .. " </dev/null >%s 2>&1 & echo $!"):format(shell_quote(HMAC_SECRET),
      shell_quote("lua/?.lua;lua/?/init.lua;" .. package.path), shell_quote(package.cpath),
      helper.interpreter(), shell_quote(output_path))
    local pipe = assert(io.popen(command))
    pid = tonumber(pipe:read("*a"):match("%d+"))
    pipe:close()
    local deadline = socket.gettime() + 5
    repeat
      url = read_file(output_path):match("listening on (http://[^\n]+)\n")
      if not url then socket.sleep(0.02) end
    until url or socket.gettime() > deadline
    assert(url, "the example did not start: " .. read_file(output_path))
    url = url .. "sinch/events"
  end)

  teardown(function()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    os.remove(output_path)
  end)

  it("accepts the fake's signed events and refuses anything else with 401", function()
    behaves_as_a_webhook_receiver(server, url, function() return read_file(output_path) end)
    assert.matches("refused: X%-Sinch%-Signature does not match", read_file(output_path))
  end)

  it("refuses a GET, and a body without a Content-Length", function()
    local status = select(2, socket_http.request { url = url, method = "GET" })
    assert.equal(405, status)
    local connection = assert(socket.connect("127.0.0.1", tonumber(url:match(":(%d+)/"))))
    connection:send("POST /sinch/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert.matches("^HTTP/1.1 411 ", connection:receive("*l"))
    connection:close()
  end)
end)

describe("examples/openresty/webhook.lua", function()
  if not nginx.available() then
    pending("nginx with the Lua module is not installed")
    return
  end

  local server = helper.with_fake()
  local example

  setup(function()
    local root = os.getenv("PWD")
    example = nginx.start { env = { SINCH_HMAC_SECRET = HMAC_SECRET }, config = ([[
      worker_processes 1;
      daemon on;
      pid ${prefix}/nginx.pid;
      error_log ${prefix}/error.log notice;
      env SINCH_HMAC_SECRET;
      load_module /usr/lib/nginx/modules/ndk_http_module.so;
      load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
      events { worker_connections 64; }
      http {
        access_log off;
        client_body_temp_path ${prefix}/tmp;
        proxy_temp_path ${prefix}/tmp;
        fastcgi_temp_path ${prefix}/tmp;
        uwsgi_temp_path ${prefix}/tmp;
        scgi_temp_path ${prefix}/tmp;
        lua_package_path "ROOT/lua/?.lua;ROOT/lua/?/init.lua;ROOT/examples/openresty/?.lua;;";
        lua_package_cpath "ROOT/build/luajit/?.so;;";
        server {
          listen 127.0.0.1:${port};
          location = /sinch/events {
            client_max_body_size 64k;
            client_body_buffer_size 64k;
            content_by_lua_block { require("webhook").handle() }
          }
        }
      }
    ]]):gsub("ROOT", root) }
  end)

  teardown(function()
    if example then example.stop() end
  end)

  it("accepts the fake's signed events and refuses anything else with 401", function()
    behaves_as_a_webhook_receiver(server, example.url("/sinch/events"), example.error_log)
    assert.matches("refused a webhook: X%-Sinch%-Signature does not match", example.error_log())
  end)
end)
