-- HTTP/2 through the curl engine: a real nginx with `http2` over TLS (a CA
-- and a certificate made here with the openssl command), 20 GETs at once,
-- and nginx's access log showing that they shared one connection and spoke
-- HTTP/2 (libcurl's CURLPIPE_MULTIPLEX and CURLOPT_PIPEWAIT).
local helper = require "support.client_helper"
local nginx = require "support.nginx"
local files = require "support.files"
local socket = require "socket"
local curl = require "sinchnumbers.transport.curl"
local pipeline = require "sinchnumbers.pipeline"
local tasks = require "sinchnumbers.tasks.curl"

if not nginx.available() or not helper.curl_engine_runs() then
  describe("HTTP/2 through the curl engine", function()
    pending("needs nginx (make deps), and LuaJIT or Lua 5.2 or later")
  end)
  return
end

-- ca.pem, and server.pem (with server-key.pem) that it signed for 127.0.0.1.
local function make_certificates()
  local dir = assert(io.popen("mktemp -d /tmp/sinchnumbers-h2.XXXXXX")):read("*l")
  files.openssl(dir, "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca-key.pem -out ca.pem")
  files.openssl(dir, "req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server-key.pem -out server.csr")
  files.write(dir .. "/server.ext", "subjectAltName=DNS:127.0.0.1,IP:127.0.0.1\n")
  files.openssl(dir, "x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1"
    .. " -extfile server.ext -out server.pem")
  return dir
end

describe("HTTP/2 through the curl engine", function()
  local server, certs

  setup(function()
    certs = make_certificates()
    server = nginx.start { http = ([[
      log_format streams '$connection $connection_requests $server_protocol $request_uri';
      server {
        listen 127.0.0.1:${tls} ssl http2;
        ssl_certificate %s/server.pem;
        ssl_certificate_key %s/server-key.pem;
        access_log ${prefix}/streams.log streams;
        location / {
          add_header X-Protocol $server_protocol;
          return 200 "stream of connection $connection";
        }
      }
    ]]):format(certs, certs) }
  end)

  teardown(function()
    if server then server.stop() end
    if certs then os.execute("rm -rf " .. certs) end
  end)

  it("sends 20 GETs at once over one TLS connection, as HTTP/2 streams", function()
    local transport = assert(curl.new { ca_file = certs .. "/ca.pem", timeout = 60, connect_timeout = 60 })
    local client_pipeline = pipeline.new { transport = transport, sleep = socket.sleep, precise_clock = socket.gettime }
    local engine = assert(tasks.new(client_pipeline, 20))
    local answers = {}
    engine:run(20, function()
      local i = #answers + 1
      answers[i] = false
      local url = server.url("/get?task=" .. i, "https", "tls")
      local status, headers, body = engine.pipeline.transport:request("GET", url)
      answers[i] = { status = status, headers = headers, body = body }
    end)
    engine:close()
    transport:close()
    for i, answer in ipairs(answers) do
      assert.equals(200, answer.status, i)
      assert.equals("HTTP/2.0", answer.headers["x-protocol"])
      assert.equals(answers[1].body, answer.body, "one connection")
    end
    -- nginx logs a stream just after its answer went out: give the last lines a moment.
    local log, lines
    local give_up_at = socket.gettime() + 5
    repeat
      log = files.read_so_far(server.prefix .. "/streams.log")
      lines = select(2, log:gsub("\n", "\n"))
      if lines < 20 then socket.sleep(0.05) end
    until lines >= 20 or socket.gettime() > give_up_at
    local connections = {}
    for connection, protocol in log:gmatch("(%d+) %d+ (%S+) /get") do
      connections[connection] = true
      assert.equals("HTTP/2.0", protocol)
    end
    assert.equals(20, lines)
    local count = 0
    for _ in pairs(connections) do count = count + 1 end
    assert.equals(1, count, "every stream on one connection")
  end)
end)
