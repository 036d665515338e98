-- The client under OpenResty: the cosocket transport under the client and
-- the shared token, inside a real nginx (Debian's, with its Lua module) that
-- this spec starts on loopback (the transport itself:
-- spec/transport_contract_spec.lua). Busted only drives: it posts a plan to a
-- location of the test nginx, a handler in spec/openresty/cases.lua carries
-- it out with cosockets, and the answer says what happened.
local nginx = require "support.nginx"
local hostile = require "support.hostile"
local shell = require "support.shell"
local socket = require "socket"
local cjson = require "cjson"

-- Posts every plan at once, each on its own connection, then reads every
-- answer: as many requests in flight in nginx as there are plans.
local function drive_concurrently(server, path, plans)
  local connections = {}
  for i, plan in ipairs(plans) do
    connections[i] = server.send("POST", path, cjson.encode(plan))
  end
  local answers = {}
  for i, connection in ipairs(connections) do answers[i] = server.answer(connection, path) end
  return answers
end

local function drive(server, path, plan)
  return server.drive(path, plan)
end

local function count_keys(set)
  local count = 0
  for _ in pairs(set) do count = count + 1 end
  return count
end

if not nginx.available() then
  describe("OpenResty", function()
    pending("needs nginx and libnginx-mod-http-lua (make deps)")
  end)
  return
end

local CLIENT_SERVER = [[
  lua_socket_log_errors off;
  # Plans with long arguments stay in memory, where the handler reads them.
  client_body_buffer_size 1m;
  lua_shared_dict sinch_tokens 1m;
  ${early}
  server {
    # reuseport: the kernel spreads connections over the workers.
    listen 127.0.0.1:${port} reuseport;
    location = /client { content_by_lua_block { require("openresty.cases").client() } }
    location = /client/map { content_by_lua_block { require("openresty.cases").map() } }
    location = /client/threads { content_by_lua_block { require("openresty.cases").threads() } }
    location = /transport/threads { content_by_lua_block { require("openresty.cases").transport_threads() } }
    location = /pieces { content_by_lua_block { require("openresty.cases").pieces() } }
    location = /client/early { content_by_lua_block { require("openresty.cases").early() } }
  }
]]

describe("the client inside nginx", function()
  local fake_server, one_worker, two_workers

  local function client_options(extra)
    local options = {
      project_id = "test-project", key_id = "test-key-id", key_secret = "test-key-secret",
      base_url = fake_server.url, auth_url = fake_server.url .. "/oauth2/token",
    }
    for name, value in pairs(extra or {}) do options[name] = value end
    return options
  end

  local function requests_to(path_part)
    local found = {}
    for _, request in ipairs(fake_server:requests()) do
      if request.path:find(path_part, 1, true) then found[#found + 1] = request end
    end
    return found
  end

  -- What the clients made in init_by_lua and in init_worker's timer found.
  local function early_results()
    return one_worker.answer(one_worker.send("GET", "/client/early"), "/client/early")
  end

  setup(function()
    fake_server = require("sinchnumbers.fake").spawn{ lua = "lua5.4" }
    local early_hooks = ([[
      init_by_lua_block { require("openresty.early").init("%s") }
      init_worker_by_lua_block { require("openresty.early").init_worker() }
    ]]):format(fake_server.url)
    one_worker = nginx.start{ http = CLIENT_SERVER:gsub("%${early}", early_hooks) }
    two_workers = nginx.start{ http = CLIENT_SERVER:gsub("%${early}", ""), workers = 2 }
    -- The timer's requests must be over before the tests count requests.
    for _ = 1, 100 do
      if early_results().timer then break end
      socket.sleep(0.05)
    end
  end)

  teardown(function()
    if one_worker then one_worker.stop() end
    if two_workers then two_workers.stop() end
    if fake_server then fake_server:stop() end
  end)

  before_each(function()
    fake_server:reset()
  end)

  it("runs every operation through the cosocket transport", function()
    local options = client_options{ transport = "ngx" }
    local found = drive(one_worker, "/client", { name = "every-operation", options = options, calls = {
      { method = "list_available_numbers", args = { { regionCode = "US", type = "LOCAL" } } },
    } }).calls[1]
    assert.is_nil(found.err)
    local first = found.result.availableNumbers[1].phoneNumber

    local calls = drive(one_worker, "/client", { name = "every-operation", options = options, calls = {
      { method = "list_available_regions", args = { { types = { "LOCAL" } } } },
      { method = "get_available_number", args = { first } },
      { method = "rent_number", args = { first, { callbackUrl = "https://example.com/hook" } } },
      { method = "rent_any_number", args = { { regionCode = "US", type = "LOCAL" } } },
      { method = "get_active_number", args = { first } },
      { method = "update_active_number", args = { first, { displayName = "from nginx" } } },
      { method = "list_active_numbers", args = { { regionCode = "US", pageSize = 1 } } },
      { method = "all_active_numbers", args = { { regionCode = "US", pageSize = 1 } } },
      { method = "each_active_number", args = { { pageSize = 1 } }, iterate = true },
      { method = "active_number_pages", args = { { pageSize = 1 } }, iterate = true },
      { method = "update_callback_configuration", args = { { hmacSecret = "from-nginx" } } },
      { method = "get_callback_configuration" },
      { method = "release_number", args = { first } },
      { method = "get_active_number", args = { first } },
      { method = "get_active_number", args = { "not a number" } },
    } }).calls
    for i = 1, 13 do
      assert.is_nil(calls[i].err, ("call %d: %s"):format(i, tostring(calls[i].err and calls[i].err.message)))
    end
    assert.is_true(#calls[1].result.availableRegions > 0)
    assert.equals(first, calls[2].result.phoneNumber)
    assert.equals(first, calls[3].result.phoneNumber)
    assert.equals("US", calls[4].result.regionCode)
    assert.equals(first, calls[5].result.phoneNumber)
    assert.equals("from nginx", calls[6].result.displayName)
    assert.equals(1, #calls[7].result.activeNumbers)
    assert.equals(2, #calls[8].result)
    assert.equals(2, #calls[9].result)
    assert.equals(2, #calls[10].result, "two pages of one number")
    assert.equals("from-nginx", calls[12].result.hmacSecret)
    assert.equals(first, calls[13].result.phoneNumber)
    assert.equals("not_found", calls[14].err.kind)
    assert.equals("invalid_argument", calls[15].err.kind)

    -- One token for the whole run, and the fake saw every kind of call.
    assert.equals(1, #requests_to("/oauth2/token"))
    local seen = {}
    for _, request in ipairs(fake_server:requests()) do
      local shape = request.path:gsub("^/v1/projects/test%-project", ""):gsub("%?.*", ""):gsub("%%2B%d+", "{phone}")
      seen[request.method .. " " .. shape] = true
    end
    for _, expected in ipairs{
      "GET /availableRegions", "GET /availableNumbers", "GET /availableNumbers/{phone}",
      "POST /availableNumbers/{phone}:rent", "POST /availableNumbers:rentAny", "GET /activeNumbers",
      "GET /activeNumbers/{phone}", "PATCH /activeNumbers/{phone}", "POST /activeNumbers/{phone}:release",
      "GET /callbackConfiguration", "PATCH /callbackConfiguration",
    } do
      assert.is_true(seen[expected], expected)
    end
  end)

  it("serves 20 requests at once from one worker, each waiting 300 ms for Sinch", function()
    -- No transport option: the client picks cosockets in a content handler.
    local plan = { name = "automatic", options = client_options(), calls = {
      { method = "list_active_numbers", args = { { regionCode = "US" } } },
    } }
    assert.is_nil(drive(one_worker, "/client", plan).calls[1].err) -- the token, ahead of time
    fake_server:script{ path = "activeNumbers", delay = 0.3, count = 20 }
    local plans = {}
    for i = 1, 20 do plans[i] = plan end

    local started = socket.gettime()
    local answers = drive_concurrently(one_worker, "/client", plans)
    local elapsed = socket.gettime() - started

    for _, answer in ipairs(answers) do
      assert.is_nil(answer.calls[1].err)
      assert.is_true(answer.calls[1].elapsed >= 0.29, "the fake held each answer 300 ms")
      assert.equals(answers[1].worker, answer.worker)
    end
    -- One after another they would take 6 s; together, about one delay.
    assert.is_true(elapsed < 2, "20 requests took " .. elapsed .. " s")
  end)

  it("gives each of 50 light threads on one client its own answer, through a pool smaller than the crowd", function()
    local phones = fake_server:add_active_numbers{ count = 50 }.phoneNumbers
    -- The first threads wait longest for their answers, so the answers come
    -- back in about the reverse order of the requests, on 50 connections at
    -- once, of which the pool keeps 5 for the second round.
    for i, phone in ipairs(phones) do
      fake_server:script{ path = phone:gsub("^%+", "%%2B"), delay = (50 - i) * 0.004 }
    end
    local answer = drive(one_worker, "/client/threads", { phones = phones, rounds = 2,
      options = client_options(), transport_options = { pool_size = 5 } })
    for i, thread in ipairs(answer.answers) do
      assert.equals(phones[i], thread.asked)
      assert.same({ phones[i], phones[i] }, thread.got, "thread " .. i)
    end
    assert.equals(100, #requests_to("/activeNumbers/"))
    assert.equals(1, #requests_to("/oauth2/token"))
  end)

  it("reads 50 answers at once on one transport, each arriving in pieces between the others' reads", function()
    -- Two crowds in a row: the second takes its connections from the pool the first filled.
    for crowd = 0, 1 do
      local urls = {}
      for i = 1, 50 do
        urls[i] = one_worker.url(("/pieces?id=%d&chunked=%d"):format(crowd * 50 + i, i % 2))
      end
      local answers = drive(one_worker, "/transport/threads", { options = { pool_size = 20 }, urls = urls })
      for i, answer in ipairs(answers) do
        assert.equals(200, answer.status, answer.raised or (answer.err and answer.err.message))
        assert.equals(('{"id":"%d"}'):format(crowd * 50 + i), answer.body)
      end
    end
  end)

  it("leaves libcurl out of a worker that serves every call through cosockets", function()
    local fresh = nginx.start{ http = CLIENT_SERVER:gsub("%${early}", "") }
    finally(function() fresh.stop() end)
    local answer = drive(fresh, "/client", { options = client_options(), calls = {
      { method = "list_available_regions" }, { method = "get_callback_configuration" },
    } })
    assert.is_nil(answer.calls[1].err)
    assert.is_nil(answer.calls[2].err)
    local maps = assert(io.open(("/proc/%d/maps"):format(answer.worker))):read("*a")
    assert.matches("sinchnumbers/codec%.so", maps, nil, "the worker maps the codecs")
    assert.is_nil(maps:find("libcurl", 1, true), "the worker maps libcurl")
    assert.is_nil(maps:find("transport/libcurl.so", 1, true))
  end)

  it("takes the transport it is given: libcurl (the C core loads in nginx) or the caller's", function()
    local calls = { { method = "list_available_regions" }, { method = "get_callback_configuration" } }
    local curl = drive(one_worker, "/client", { options = client_options{ transport = "curl" }, calls = calls })
    assert.is_nil(curl.calls[1].err)
    assert.is_nil(curl.calls[2].err)
    local own = drive(one_worker, "/client", { options = client_options{ transport = "counting" }, calls = calls })
    assert.is_nil(own.calls[2].err)
    assert.equals(3, own.transport_requests, "a token and two calls")
  end)

  it("takes a rent whose answer has headers over the cap as unclear, and refuses an overlong URL", function()
    local phone = "+12065550100"
    local active_number = ('{"phoneNumber":"%s"}'):format(phone)
    local server = hostile.start {
      { method = "GET", path = "/activeNumbers/",
        answer = ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"):format(#active_number, active_number) },
      { answer = "HTTP/1.1 200 OK\r\n" .. ("X-Filler: " .. ("f"):rep(1000) .. "\r\n"):rep(300)
        .. "Content-Length: 2\r\n\r\n{}", close = true },
    }
    local options = { project_id = "test-project", key_id = "k", key_secret = "s", auth = "basic",
      base_url = server.url, transport = "ngx" }
    local ok, answer = pcall(drive, one_worker, "/client", { options = options, calls = {
      { method = "rent_number", args = { phone } },
      { method = "list_active_numbers", args = { { pageToken = ("t"):rep(100 * 1024) } } },
    } })
    local requests = server:requests()
    server:stop()
    assert(ok, answer)
    local rent, listing = answer.calls[1].err, answer.calls[2].err
    assert.equals("too_large", rent.kind)
    assert.matches("response headers larger than the limit of 262144 bytes", rent.message)
    assert.matches("it was rented", rent.message)
    assert.equals("invalid_argument", listing.kind)
    assert.matches("above the limit of 65536", listing.message)
    assert.equals(2, #requests, "a rent and its check, and no listing")
  end)

  it("picks libcurl in init_by_lua and cosockets in a timer", function()
    local early = early_results()
    assert.same({ phase = "init", cosockets = false, regions = 5 }, early.init)
    assert.same({ phase = "timer", cosockets = true, regions = 5 }, early.timer)
  end)

  it("runs examples/openresty as written from a folder only root can read, against the fake", function()
    local file = assert(io.open("examples/openresty/nginx.conf"))
    local config = file:read("*a")
    file:close()
    -- The example runs with -p <the checkout>: here the checkout is copied
    -- into the prefix, a folder of mode 0700, and started as the user of the
    -- spec with no `user` line of the spec's. As root, the workers then run
    -- as nobody, who cannot read a single file of it. Only the port and
    -- where nginx keeps its pid and log change.
    config = config:gsub("build/openresty/", "${prefix}/"):gsub("127%.0%.0%.1:8080", "127.0.0.1:${port}")
    local example = nginx.start{ config = config, user = false,
      copy = { "lua", "build/luajit", "examples/openresty" }, env = {
        SINCH_PROJECT_ID = "test-project", SINCH_KEY_ID = "test-key-id", SINCH_KEY_SECRET = "test-key-secret",
        SINCH_NUMBERS_URL = fake_server.url, SINCH_AUTH_URL = fake_server.url .. "/oauth2/token",
      } }
    finally(example.stop)
    local _, mode = shell.run("stat -c %a " .. example.prefix)
    assert.equals("700", mode:match("%d+"))
    local me = select(2, shell.run("id -un")):match("%S+")
    local workers = select(2, shell.run("ps -o user= --ppid " .. example.pid))
    assert.matches("%S", workers, 1, false, "nginx has workers")
    for worker in workers:gmatch("%S+") do
      if me == "root" then assert.are_not.equal("root", worker) else assert.equals(me, worker) end
    end

    local function search(query)
      return example.answer(example.send("GET", "/numbers?" .. query), "/numbers")
    end
    local found = search("region=US&starts_with=%2B1206")
    assert.is_true(#found.numbers > 0)
    for _, number in ipairs(found.numbers) do
      assert.matches("^%+1206", number.phoneNumber)
      assert.equals("USD", number.currency)
      assert.is_string(number.monthlyPrice)
    end
    local _, none = search("region=US&starts_with=%2B1999")
    assert.matches('"numbers":%[%]', none)
  end)

  it("makes one token request for 50 calls at once on one client without a token cache, and one at expiry", function()
    fake_server:script{ path = "/oauth2/token", delay = 0.3 }
    local plans = {}
    for i = 1, 50 do
      plans[i] = { name = "one-client-50-calls", options = client_options{ transport = "ngx" },
                   calls = { { method = "list_active_numbers" } } }
    end
    for _, answer in ipairs(drive_concurrently(one_worker, "/client", plans)) do
      assert.is_nil(answer.calls[1].err)
    end
    assert.equals(1, #requests_to("/oauth2/token"))
    assert.equals(50, #requests_to("/activeNumbers"))

    fake_server:expire_tokens()
    fake_server:script{ path = "/oauth2/token", delay = 0.3 }
    for _, answer in ipairs(drive_concurrently(one_worker, "/client", plans)) do
      assert.is_nil(answer.calls[1].err)
    end
    assert.equals(2, #requests_to("/oauth2/token"))
  end)

  describe("client:map on light threads", function()
    local function map(plan)
      plan.options = plan.options or client_options()
      return drive(one_worker, "/client/map", plan)
    end

    -- When the fake read each request whose path has `part`, in order.
    local function arrivals(part)
      local times = {}
      for _, request in ipairs(requests_to(part)) do times[#times + 1] = request.received_at end
      table.sort(times)
      return times
    end

    local function active_numbers(count)
      return fake_server:add_active_numbers{ count = count }.phoneNumbers
    end

    it("gives the results in the order of the items, each item's from its own call", function()
      local phones = active_numbers(30)
      -- The first items wait longest, so they end last.
      for i, phone in ipairs(phones) do
        fake_server:script{ path = phone:gsub("^%+", "%%2B"), delay = (30 - i) * 0.01 }
      end
      local answer = map{ items = phones, fn = "get", map_options = { concurrency = 10 } }
      assert.is_nil(answer.err)
      for i, result in ipairs(answer.results) do
        assert.equals(phones[i], result.item)
        assert.equals(phones[i], result.value, "item " .. i)
        assert.is_nil(result.err)
      end
      assert.same({ 30, 30, 0 }, { answer.summary.total, answer.summary.succeeded, answer.summary.failed })
      -- One after another the delays add up to 4.35 s; ten at a time, to well under 2.
      assert.is_true(answer.elapsed < 2, "took " .. answer.elapsed .. " s")
    end)

    it("gives each item its own error, and a raise in one fn to that item alone", function()
      local phones = active_numbers(4)
      local items = { phones[1], "+12025550199", phones[2], phones[3], "+12025550198", phones[4] }
      local answer = map{ items = items, fn = "get", map_options = { concurrency = 3 } }
      for i, result in ipairs(answer.results) do
        if i == 2 or i == 5 then
          assert.equals("not_found", result.err.kind, "item " .. i)
          assert.is_nil(result.value)
        else
          assert.equals(items[i], result.value, "item " .. i)
        end
      end
      assert.same({ 6, 4, 2 }, { answer.summary.total, answer.summary.succeeded, answer.summary.failed })

      for _, raised in ipairs { { "boom at two", "raised", "boom at two" },
                                { "error object", "network", "raised on purpose" } } do
        answer = map{ items = phones, fn = "raise", raise_at = 2, raise = raised[1], map_options = { concurrency = 2 } }
        assert.equals(raised[2], answer.results[2].err.kind)
        assert.matches(raised[3], answer.results[2].err.message, 1, true)
        for _, i in ipairs { 1, 3, 4 } do assert.equals(phones[i], answer.results[i].value) end
        assert.equals(1, answer.summary.failed)
      end
    end)

    it("starts no item after the first failure with stop_on_error, and says so in the others", function()
      local phones = active_numbers(12)
      table.insert(phones, 3, "+12025550199")
      fake_server:clear_requests()
      local answer = map{ items = phones, fn = "get", map_options = { concurrency = 2, stop_on_error = true } }
      assert.equals("not_found", answer.results[3].err.kind)
      local cancelled = 0
      for i, result in ipairs(answer.results) do
        if result.err and result.err.kind == "cancelled" then
          cancelled = cancelled + 1
          assert.is_true(i > 3)
          assert.matches("3", result.err.message, 1, true)
        end
      end
      assert.is_true(cancelled >= 8, cancelled .. " items cancelled")
      assert.equals(13 - cancelled, #requests_to("/activeNumbers/"), "a request for each item that started")
    end)

    it("pauses every light thread for a 429's Retry-After, then finishes every item", function()
      local phones = active_numbers(30)
      fake_server:clear_requests()
      -- Every get is answered after 200 ms, but the 11th is a 429 with
      -- Retry-After: 1 at once. Without a pause of every thread, the threads
      -- whose gets were on their way with it would send the next ones 200 ms later.
      fake_server:script{ path = "/activeNumbers/", count = 10, delay = 0.2 }
      fake_server:script{ path = "/activeNumbers/", status = 429, headers = { ["Retry-After"] = "1" } }
      fake_server:script{ path = "/activeNumbers/", count = 20, delay = 0.2 }
      local answer = map{ items = phones, fn = "get", map_options = { concurrency = 10 } }
      assert.same({ 30, 0 }, { answer.summary.succeeded, answer.summary.failed })
      local times = arrivals("/activeNumbers/")
      assert.equals(31, #times)
      local limited = times[11]
      -- Requests already on their way when the 429 came back arrive just after it; then none for the second.
      for _, at in ipairs(times) do
        assert.is_false(at > limited + 0.1 and at < limited + 0.9,
          ("a request %.3f s after the 429"):format(at - limited))
      end
      assert.is_true(times[#times] >= limited + 0.9, "the items went on after the pause")
    end)

    it("gives a rent answered 503 after it took effect err.rented = true, and rents the others", function()
      local numbers = {}
      local available = drive(one_worker, "/client", { options = client_options(), calls = {
        { method = "list_available_numbers", args = { { regionCode = "US", type = "LOCAL", size = 4 } } },
      } }).calls[1].result.availableNumbers
      for i = 1, 4 do numbers[i] = available[i].phoneNumber end
      table.insert(numbers, 3, "+15005550006") -- the fake rents it, then answers 503
      local answer = map{ items = numbers, fn = "rent", map_options = { concurrency = 5 } }
      local unclear = answer.results[3].err
      assert.equals(503, unclear.status)
      assert.is_true(unclear.rented)
      assert.matches("it was rented", unclear.message, 1, true)
      for _, i in ipairs { 1, 2, 4, 5 } do
        assert.equals(numbers[i], answer.results[i].value, "item " .. i)
      end
      assert.equals(5, #requests_to(":rent"), "each rent sent once")
    end)

    it("fetches one token for 50 light threads of a new client", function()
      local phones = active_numbers(50)
      fake_server:clear_requests()
      fake_server:script{ path = "/oauth2/token", delay = 0.3 }
      local answer = map{ items = phones, fn = "get", map_options = { concurrency = 50 } }
      assert.same({ 50, 0 }, { answer.summary.succeeded, answer.summary.failed })
      assert.equals(1, #requests_to("/oauth2/token"))
      assert.equals(50, #requests_to("/activeNumbers/"))
    end)

    it("lets the calls in flight finish and starts no other item when the client is closed", function()
      local phones = active_numbers(20)
      fake_server:clear_requests()
      fake_server:script{ path = "/activeNumbers/", count = 20, delay = 0.3 }
      local answer = map{ items = phones, fn = "close", close_at = 3, map_options = { concurrency = 5 } }
      for _, i in ipairs { 1, 2, 4, 5 } do
        assert.equals(phones[i], answer.results[i].value, "item " .. i .. " was in flight")
      end
      assert.equals("closed it", answer.results[3].value)
      for i = 6, 20 do
        assert.equals("cancelled", answer.results[i].err.kind, "item " .. i)
        assert.matches("the client was closed", answer.results[i].err.message, 1, true)
      end
      assert.equals(4, #requests_to("/activeNumbers/"))
    end)

    it("keeps one rate budget for a client's map and its other calls in a worker", function()
      local phones = active_numbers(8)
      fake_server:clear_requests()
      local options = client_options{ rate_limit = 5 }
      -- The worker makes the client first, so that both requests below find it.
      drive(one_worker, "/client", { name = "rate-limited", options = options, calls = {} })
      local mapping = one_worker.send("POST", "/client/map", cjson.encode{ name = "rate-limited", options = options,
        items = phones, fn = "get", map_options = { concurrency = 8 } })
      local calls = {}
      for i = 1, 4 do calls[i] = { method = "get_active_number", args = { phones[i] } } end
      local sequential = one_worker.send("POST", "/client", cjson.encode{ name = "rate-limited", options = options,
        calls = calls })
      local mapped, called = one_worker.answer(mapping, "/client/map"), one_worker.answer(sequential, "/client")
      assert.equals(8, mapped.summary.succeeded)
      for i = 1, 4 do assert.is_nil(called.calls[i].err) end
      assert.equals(mapped.worker, called.worker)
      -- 13 requests (the token too) at 5 a second: no 0.9 s holds more than
      -- 5 arrivals (a window a little short of a second, as a request reaches
      -- the fake some milliseconds after it started, the first one, which
      -- connected, more than the others).
      local times = {}
      for _, part in ipairs { "/oauth2/token", "/activeNumbers/" } do
        for _, at in ipairs(arrivals(part)) do times[#times + 1] = at end
      end
      table.sort(times)
      assert.equals(13, #times)
      for from = 1, #times do
        local inside = 0
        for to = from, #times do
          if times[to] < times[from] + 0.9 then inside = inside + 1 end
        end
        assert.is_true(inside <= 5, ("%d requests within 0.9 s of request %d"):format(inside, from))
      end
      assert.is_true(times[#times] - times[1] >= 1.9, "13 requests at 5 a second take 2 s at least")
    end)
  end)

  -- Leaves the shared dict without the tokens and locks a test put there.
  local function flush_token_cache()
    drive(two_workers, "/client", { flush = "sinch_tokens", options = client_options(), calls = {} })
  end

  it("frees the shared token lock when the token request raises: the next call does not wait", function()
    finally(flush_token_cache)
    local answer = drive(two_workers, "/client", { flush = "sinch_tokens", calls = {
      { method = "list_active_numbers" }, { method = "list_active_numbers" },
    }, options = client_options{ token_cache = "sinch_tokens", transport = "raising_once" } })
    assert.equals("raised", answer.calls[1].err.kind)
    assert.matches("the transport broke", answer.calls[1].err.message)
    assert.is_nil(answer.calls[2].err)
    assert.is_true(answer.calls[2].elapsed < 5, "waited " .. answer.calls[2].elapsed .. " s for the lock")
  end)

  it("waits for a leftover lock in real time, with libcurl's sleep that does not yield, then fetches", function()
    finally(flush_token_cache)
    -- A worker died holding the lock, which frees itself after 1 s. socket.sleep
    -- stops nginx's clock (and the dict's expiry) unless the wait reads it anew.
    local answer = drive(two_workers, "/client", { flush = "sinch_tokens", leftover_lock = 1, calls = {
      { method = "list_active_numbers" },
    }, options = client_options{ token_cache = "sinch_tokens", transport = "curl" } })
    assert.is_nil(answer.calls[1].err)
    assert.is_true(answer.calls[1].elapsed >= 0.9 and answer.calls[1].elapsed < 5,
      "took " .. answer.calls[1].elapsed .. " s")
    assert.equals(1, #requests_to("/oauth2/token"))
  end)

  it("makes one token request for 40 calls on two workers sharing a token cache, and one at expiry", function()
    -- The token comes slowly, so every call arrives while it is on its way.
    fake_server:script{ path = "/oauth2/token", delay = 0.3 }
    local plans = {}
    for i = 1, 40 do
      -- A new client for every request: only the shared dict ties them together.
      plans[i] = { options = client_options{ token_cache = "sinch_tokens" }, calls = {
        { method = "list_active_numbers" },
      } }
    end
    local answers = drive_concurrently(two_workers, "/client", plans)

    local workers = {}
    for _, answer in ipairs(answers) do
      assert.is_nil(answer.calls[1].err)
      workers[answer.worker] = true
    end
    assert.equals(2, count_keys(workers), "both workers served")
    assert.equals(1, #requests_to("/oauth2/token"))
    assert.equals(40, #requests_to("/activeNumbers"))

    -- The token expires: 40 calls get a 401 that says so, and one new token
    -- serves them all.
    fake_server:expire_tokens()
    fake_server:script{ path = "/oauth2/token", delay = 0.3 }
    for _, answer in ipairs(drive_concurrently(two_workers, "/client", plans)) do
      assert.is_nil(answer.calls[1].err)
    end
    assert.equals(2, #requests_to("/oauth2/token"))
  end)
end)
