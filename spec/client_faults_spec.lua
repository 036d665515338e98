-- The fault matrix: every failure the client must survive, against the fake
-- over loopback and the real libcurl transport. Each case counts the
-- requests the fake saw, so "retried" and "not retried" are facts about the
-- wire, not only about the client's own bookkeeping. Waits are recorded by
-- the `sleep` option instead of slept; attempts by the `on_request` hook.
local helper = require "support.client_helper"

-- How many requests the fake logged with this method and a path containing `fragment`.
local function count(server, method, fragment)
  return #helper.requests_to(server, method, fragment)
end

local function http_date(seconds_from_now)
  return os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + seconds_from_now)
end

describe("fault matrix", function()
  local server, fake_client = helper.with_fake()
  local client, waits, records, sleep

  -- on_request records of the API calls, without those of the token endpoint.
  local function api_records()
    local found = {}
    for _, record in ipairs(records) do
      if not record.url:find("/oauth2/token", 1, true) then found[#found + 1] = record end
    end
    return found
  end

  -- One field of every API record, nil written as "nil", for assert.same.
  local function api_field(name)
    local values = {}
    for i, record in ipairs(api_records()) do
      local value = record[name]
      if value == nil then value = "nil" end
      values[i] = value
    end
    return values
  end

  -- A client of the fake that records waits and attempts; `options` on top.
  local function new_client(options)
    local settings = { sleep = sleep, on_request = function(record) records[#records + 1] = record end }
    for name, value in pairs(options or {}) do settings[name] = value end
    return fake_client(settings)
  end

  -- Forget the requests and records so far (a token fetch, a setup call).
  local function clear_logs()
    server:clear_requests()
    records = {}
    for i = #waits, 1, -1 do waits[i] = nil end
  end

  before_each(function()
    waits, sleep = helper.sleep_recorder()
    records = {}
    client = new_client()
  end)

  -- A number in the project, with the logs cleared afterwards.
  local function rented_number()
    local phone_number = helper.available_number(client)
    assert(client:rent_number(phone_number))
    clear_logs()
    return phone_number
  end

  -- A number the fake has for rent, with a token fetched and the logs cleared.
  local function number_to_rent()
    local phone_number = helper.available_number(client)
    clear_logs()
    return phone_number
  end

  describe("connection refused", function()
    it("is retried for a GET up to max_retries, then network with sent == false", function()
      local nowhere = new_client { auth = "basic", base_url = helper.refused_url() }
      local _, err = nowhere:list_available_regions()
      assert.equal("network", err.kind)
      assert.is_false(err.sent)
      assert.equal(3, err.attempts)
      assert.equal(2, #waits)
      assert.same({ 1, 2, 3 }, api_field("attempt"))
      assert.same({ "nil", "nil", "nil" }, api_field("status"))
      assert.equal(0, #server:requests())
    end)

    it("at the token endpoint is retried too, and the error names the token endpoint", function()
      local url = helper.refused_url() .. "/oauth2/token"
      local _, err = new_client({ auth_url = url }):list_available_regions()
      assert.equal("network", err.kind)
      assert.equal("POST", err.method)
      assert.equal(url, err.url)
      assert.equal(3, err.attempts)
      assert.equal(0, #server:requests())
    end)

    it("max_retries = 0 turns retries off", function()
      local once = new_client { auth = "basic", base_url = helper.refused_url(), max_retries = 0 }
      local _, err = once:list_available_regions()
      assert.equal(1, err.attempts)
      assert.same({}, waits)
    end)

    it("rent_number is tried again: the request never left", function()
      local nowhere = new_client { auth = "basic", base_url = helper.refused_url() }
      local _, err = nowhere:rent_number("+12065550100")
      assert.equal("network", err.kind)
      assert.equal(3, err.attempts)
      assert.is_nil(err.rented) -- nothing to check: it cannot have been rented
    end)

    it("rent_any_number is tried again: the request never left", function()
      local nowhere = new_client { auth = "basic", base_url = helper.refused_url() }
      local _, err = nowhere:rent_any_number { regionCode = "US", type = "LOCAL" }
      assert.equal("network", err.kind)
      assert.equal(3, err.attempts)
      assert.equal(2, #waits)
    end)
  end)

  describe("connect timeout", function()
    local url, close_listener

    before_each(function()
      url, close_listener = helper.unaccepting_url()
    end)

    after_each(function()
      close_listener()
    end)

    it("on the numbers call is timeout with sent == false, and retried", function()
      local stuck = new_client { auth = "basic", base_url = url, connect_timeout = 0.1, max_retries = 1 }
      local _, err = stuck:list_available_regions()
      assert.equal("timeout", err.kind)
      assert.is_false(err.sent)
      assert.equal(2, err.attempts)
      assert.equal(1, #waits)
    end)

    it("on the token call is timeout, at the token endpoint", function()
      local stuck = new_client { auth_url = url .. "/oauth2/token", connect_timeout = 0.1, max_retries = 0 }
      local _, err = stuck:list_available_regions()
      assert.equal("timeout", err.kind)
      assert.equal("POST", err.method)
      assert.equal(url .. "/oauth2/token", err.url)
      assert.equal(0, #server:requests())
    end)

    it("lets a rent be tried again: it cannot have reached the server", function()
      local stuck = new_client { auth = "basic", base_url = url, connect_timeout = 0.1, max_retries = 1 }
      local _, err = stuck:rent_number("+12065550100")
      assert.equal("timeout", err.kind)
      assert.is_false(err.sent)
      assert.equal(2, err.attempts)
      assert.is_nil(err.rented)
    end)
  end)

  describe("total timeout", function()
    it("is retried for a GET: three slow answers, three GETs, then timeout", function()
      local impatient = new_client { timeout = 0.2 }
      assert(impatient:list_available_regions()) -- the token first, so only GETs are slow
      clear_logs()
      server:script { path = "availableRegions", delay = 1, count = 3 }
      local _, err = impatient:list_available_regions()
      assert.equal("timeout", err.kind)
      assert.is_true(err.sent)
      assert.equal(3, err.attempts)
      assert.equal(3, count(server, "GET", "availableRegions"))
      assert.equal(2, #waits)
    end)
  end)

  describe("reset mid-body", function()
    it("is retried for a GET, which then succeeds", function()
      assert(client:list_available_regions())
      clear_logs()
      server:script { path = "availableRegions", fault = "reset_mid_body" }
      assert(client:list_available_regions())
      assert.equal(2, count(server, "GET", "availableRegions"))
      assert.same({ "nil", 200 }, api_field("status"))
      assert.equal("network", api_records()[1].error.kind)
      assert.is_true(api_records()[1].error.sent)
    end)
  end)

  describe("dropped connection", function()
    it("is retried for a GET", function()
      assert(client:list_available_regions())
      clear_logs()
      server:script { path = "availableRegions", fault = "drop" }
      assert(client:list_available_regions())
      -- libcurl itself re-sends a GET once on a dropped kept-alive connection;
      -- either way the GET succeeds in the end.
      assert.is_true(count(server, "GET", "availableRegions") >= 2)
    end)
  end)

  describe("429 with Retry-After", function()
    it("waits the seconds it says, then succeeds", function()
      server:script { path = "availableRegions", status = 429, headers = { ["Retry-After"] = "2" } }
      assert(client:list_available_regions())
      assert.same({ 2 }, waits)
      assert.equal(2, count(server, "GET", "availableRegions"))
      assert.same({ 429, 200 }, api_field("status"))
    end)

    it("reads an HTTP date", function()
      server:script { path = "availableRegions", status = 429, headers = { ["Retry-After"] = http_date(3) } }
      assert(client:list_available_regions())
      assert.equal(1, #waits)
      -- The date has whole seconds; the clock that reads it has fractions.
      assert.is_true(waits[1] > 1.5 and waits[1] <= 3, "waited " .. tostring(waits[1]))
      assert.equal(2, count(server, "GET", "availableRegions"))
    end)

    it("does not wait for one above the ceiling (seconds or a date): the caller decides", function()
      for _, value in ipairs { "31", http_date(600) } do
        clear_logs()
        -- A client of its own: the 429 pauses every later call of the one before.
        client = new_client()
        server:script { path = "availableRegions", status = 429, headers = { ["Retry-After"] = value } }
        local _, err = client:list_available_regions()
        assert.equal("rate_limited", err.kind)
        assert.is_true(err.retry_after > 30, value)
        assert.is_true(err.retryable)
        assert.equal(1, err.attempts)
        assert.same({}, waits)
        assert.equal(1, count(server, "GET", "availableRegions"))
      end
    end)

    it("above the ceiling still pauses the client's next call, for the ceiling", function()
      server:script { path = "availableRegions", status = 429, headers = { ["Retry-After"] = "31" } }
      assert.equal("rate_limited", select(2, client:list_available_regions()).kind)
      assert.same({}, waits)
      assert(client:list_available_regions())
      assert.equal(1, #waits)
      assert.is_true(waits[1] > 29 and waits[1] <= 30, "waited " .. tostring(waits[1]))
    end)

    it("within the ceiling but past max_retries gives rate_limited with retry_after", function()
      server:script { path = "availableRegions", status = 429, count = 3, headers = { ["Retry-After"] = "1" } }
      local _, err = client:list_available_regions()
      assert.equal("rate_limited", err.kind)
      assert.equal(1, err.retry_after)
      assert.equal(3, err.attempts)
      assert.same({ 1, 1 }, waits)
    end)
  end)

  describe("5xx", function()
    it("two 503s then 200: three GETs, three attempts, two jittered waits", function()
      server:script { path = "availableRegions", status = 503, count = 2 }
      assert(client:list_available_regions())
      assert.equal(3, count(server, "GET", "availableRegions"))
      assert.same({ 1, 2, 3 }, api_field("attempt"))
      assert.same({ 503, 503, 200 }, api_field("status"))
      assert.equal(2, #waits)
      assert.is_true(waits[1] >= 0 and waits[1] <= 0.5, "first wait " .. waits[1])
      assert.is_true(waits[2] >= 0 and waits[2] <= 1, "second wait " .. waits[2])
    end)

    it("two 503s with max_retries = 1: err.attempts == 2", function()
      server:script { path = "availableRegions", status = 503, count = 2 }
      local _, err = new_client({ max_retries = 1 }):list_available_regions()
      assert.equal(503, err.status)
      assert.equal(2, err.attempts)
      assert.equal(2, count(server, "GET", "availableRegions"))
    end)

    it("502 and 504 are retried, 500 and 501 are not", function()
      for status, expected in pairs { [502] = 2, [504] = 2, [500] = 1, [501] = 1 } do
        clear_logs()
        server:script { path = "availableRegions", status = status }
        local result, err = client:list_available_regions()
        assert.equal(expected, count(server, "GET", "availableRegions"), "status " .. status)
        if expected == 1 then assert.equal(status, err.status) else assert.is_table(result) end
      end
    end)

    it("backs off exponentially with full jitter: each wait up to 0.5 * 2^n, spread over that range", function()
      local calls, retries = 40, 3
      server:script { path = "availableRegions", status = 503, count = calls * (retries + 1) }
      local many = new_client { auth = "basic", max_retries = retries }
      local by_retry = { {}, {}, {} }
      for _ = 1, calls do
        clear_logs()
        local _, err = many:list_available_regions()
        assert.equal(retries + 1, err.attempts)
        assert.equal(retries, #waits)
        for n = 1, retries do by_retry[n][#by_retry[n] + 1] = waits[n] end
      end
      for n, list in ipairs(by_retry) do
        local cap, sum, smallest, largest = 0.5 * 2 ^ (n - 1), 0, math.huge, 0
        for _, wait in ipairs(list) do
          assert.is_true(wait >= 0 and wait <= cap, "wait " .. wait .. " above " .. cap)
          sum = sum + wait
          smallest, largest = math.min(smallest, wait), math.max(largest, wait)
        end
        -- Uniform on [0, cap]: the mean near cap / 2, and the range covered.
        local mean = sum / #list
        assert.is_true(mean > cap * 0.3 and mean < cap * 0.7, ("mean %.3f for cap %.1f"):format(mean, cap))
        assert.is_true(smallest < cap * 0.25 and largest > cap * 0.75,
          ("range %.3f..%.3f for cap %.1f"):format(smallest, largest, cap))
      end
    end)
  end)

  describe("jitter", function()
    -- Three waits of a call that is answered 503 four times, in a new process.
    local function waits_in_a_new_process()
      server:script { path = "availableRegions", status = 503, count = 4 }
      local code = ([[
        local waits = {}
        local client = assert(require("sinchnumbers").new{ project_id = "test-project", key_id = "test-key-id",
          key_secret = "test-key-secret", auth = "basic", base_url = %q, max_retries = 3,
          sleep = function(seconds) waits[#waits + 1] = ("%%.6f"):format(seconds) end })
        client:list_available_regions()
        print(table.concat(waits, " "))
      ]]):format(server.url)
      local pipe = assert(io.popen(helper.lua_command(code) .. " 2>&1"))
      local output = pipe:read("*a")
      pipe:close()
      return output
    end

    it("differs between processes, so clients started together do not retry in step", function()
      local first, second = waits_in_a_new_process(), waits_in_a_new_process()
      assert.matches("^[%d.]+ [%d.]+ [%d.]+\n$", first)
      assert.are_not.equal(first, second)
    end)

    it("leaves math.random alone: a program that seeds it gets its own sequence", function()
      math.randomseed(12345)
      local expected = { math.random(), math.random(), math.random() }
      math.randomseed(12345)
      local got = { math.random() }
      server:script { path = "availableRegions", status = 503, count = 2 }
      assert(client:list_available_regions())
      assert.equal(2, #waits)
      got[2] = math.random()
      assert(new_client({ auth = "basic" }):list_available_regions())
      got[3] = math.random()
      assert.same(expected, got)
    end)
  end)

  describe("an expired token", function()
    it("is refreshed once and the call succeeds, with no wait", function()
      assert(client:list_available_regions())
      server:expire_tokens()
      clear_logs()
      assert(client:list_available_regions())
      assert.equal(2, count(server, "GET", "availableRegions"))
      assert.equal(1, count(server, "POST", "/oauth2/token"))
      assert.same({ 401, 200 }, api_field("status"))
      assert.same({}, waits)
      local requests = server:requests()
      assert.are_not.equal(requests[1].headers.authorization, requests[3].headers.authorization)
    end)

    it("a 401 that is not about expiry is not refreshed", function()
      assert(client:list_available_regions())
      clear_logs()
      server:script { path = "availableRegions", status = 401 }
      local _, err = client:list_available_regions()
      assert.equal("auth", err.kind)
      assert.equal(1, err.attempts)
      assert.equal(0, count(server, "POST", "/oauth2/token"))
    end)
  end)

  describe("answers the client cannot use", function()
    it("broken JSON is decode, not retried", function()
      server:script { path = "availableRegions", fault = "broken_json" }
      local _, err = client:list_available_regions()
      assert.equal("decode", err.kind)
      assert.is_false(err.retryable)
      assert.equal(1, err.attempts)
      assert.equal(1, count(server, "GET", "availableRegions"))
    end)

    for _, chunked in ipairs { false, true } do
      local framing = chunked and "chunked" or "with Content-Length"
      it("a 64 MiB body " .. framing .. " is too_large, at once, not retried; the next call works", function()
        assert(client:list_available_regions())
        clear_logs()
        server:script { path = "availableRegions", fault = "huge", chunked = chunked }
        local started = os.time()
        local _, err = client:list_available_regions()
        assert.equal("too_large", err.kind)
        assert.matches("8388608 bytes", err.message)
        assert.equal(1, err.attempts)
        assert.is_true(os.time() - started <= 10)
        assert.equal(1, count(server, "GET", "availableRegions"))
        assert(client:list_available_regions())
      end)
    end

    it("max_body_size sets the cap", function()
      local small = new_client { max_body_size = 200 }
      local _, err = small:list_available_numbers { regionCode = "US", type = "LOCAL", size = 10 }
      assert.equal("too_large", err.kind)
      assert.matches("200 bytes", err.message)
      assert(new_client({ max_body_size = 64 * 1024 }):list_available_numbers { regionCode = "US", type = "LOCAL" })
      for _, bad in ipairs { 0, 1.5, "8M", 2 * 1024 * 1024 * 1024 } do
        local none, problem = require("sinchnumbers").new { project_id = "p", key_id = "k", key_secret = "s",
          max_body_size = bad }
        assert.is_nil(none)
        assert.matches("max_body_size must be", problem.message)
      end
    end)

    it("JSON nested 10,000 deep is decode, no crash; the next call works", function()
      local deep = string.rep("[", 10000) .. string.rep("]", 10000)
      server:script { path = "availableRegions", status = 200, body = deep }
      local _, err = client:list_available_regions()
      assert.equal("decode", err.kind)
      assert.equal(1, err.attempts)
      -- The same in an error answer, and as an object.
      server:script { path = "availableRegions", status = 500, body = string.rep('{"a":', 10000) .. "1"
        .. string.rep("}", 10000) }
      _, err = client:list_available_regions()
      assert.equal("http", err.kind)
      assert.equal(500, err.status)
      assert(client:list_available_regions())
    end)
  end)

  describe("PATCH and release", function()
    it("are retried on 503", function()
      local phone_number = rented_number()
      server:script { path = "activeNumbers/", method = "PATCH", status = 503 }
      assert(client:update_active_number(phone_number, { displayName = "after a 503" }))
      assert.equal(2, count(server, "PATCH", "activeNumbers/"))
      server:script { path = ":release", status = 503 }
      assert(client:release_number(phone_number))
      assert.equal(2, count(server, "POST", ":release"))
      assert.equal(2, #waits)
    end)

    it("a release whose answer was lost, tried again, is not_found and says an attempt may have done it", function()
      local phone_number = rented_number()
      server:script { path = ":release", fault = "reset_mid_body" }
      local _, err = client:release_number(phone_number)
      assert.equal("not_found", err.kind)
      assert.equal(2, err.attempts)
      assert.equal(2, count(server, "POST", ":release"))
      assert.matches("an earlier attempt ended without a clear answer and may have taken effect", err.hint)
      local _, gone = client:get_active_number(phone_number)
      assert.equal("not_found", gone.kind)
      assert.is_nil(gone.message:find("earlier attempt", 1, true))
    end)
  end)

  describe("renting is never repeated blindly", function()
    it("rent answered 503: one rent, one check, rented == false", function()
      local phone_number = number_to_rent()
      server:script { path = ":rent", status = 503 }
      local _, err = client:rent_number(phone_number)
      assert.equal(503, err.status)
      assert.equal(1, err.attempts)
      assert.is_false(err.retryable)
      assert.is_false(err.rented)
      assert.matches("not rented, and trying again is safe", err.hint)
      assert.equal(1, count(server, "POST", ":rent"))
      assert.equal(1, count(server, "GET", "/activeNumbers/"))
      assert.same({}, waits)
    end)

    it("rent whose answer was lost mid-body after the service rented: one rent, rented == true", function()
      local phone_number = number_to_rent()
      server:script { path = ":rent", fault = "reset_mid_body" }
      local _, err = client:rent_number(phone_number)
      assert.equal("network", err.kind)
      assert.is_true(err.sent)
      assert.equal(1, err.attempts)
      assert.is_true(err.rented)
      assert.matches("it was rented", err.hint)
      assert.equal(1, count(server, "POST", ":rent"))
      assert.equal(1, count(server, "GET", "/activeNumbers/"))
      assert(client:get_active_number(phone_number))
    end)

    it("rent dropped on a kept-alive connection: still exactly one rent (libcurl must not re-send it)", function()
      local phone_number = number_to_rent() -- this client's connection is open and idle now
      server:script { path = ":rent", fault = "drop" }
      local result, err = client:rent_number(phone_number)
      assert.is_nil(result, "the rent went out a second time")
      assert.equal("network", err.kind)
      assert.equal(1, err.attempts)
      assert.is_false(err.rented) -- a dropped request never reached the fake's state
      assert.equal(1, count(server, "POST", ":rent"))
      assert.equal(1, count(server, "GET", "/activeNumbers/"))
    end)

    it("rent timing out after the service rented: one rent, rented == true", function()
      local impatient = new_client { timeout = 0.3 }
      local phone_number = helper.available_number(impatient)
      clear_logs()
      server:script { path = ":rent", delay = 1 }
      local _, err = impatient:rent_number(phone_number)
      assert.equal("timeout", err.kind)
      assert.equal(1, err.attempts)
      assert.is_true(err.rented)
      assert.equal(1, count(server, "POST", ":rent"))
    end)

    it("when the check fails too, rented is absent and the message says how to check", function()
      local phone_number = number_to_rent()
      server:script { path = ":rent", status = 502 }
      server:script { path = "/activeNumbers/", status = 500 }
      local _, err = client:rent_number(phone_number)
      assert.equal(502, err.status)
      assert.is_nil(err.rented)
      assert.matches("whether " .. phone_number:gsub("%+", "%%+") .. " was rented is unknown", err.hint)
      assert.matches("call get_active_number before renting it again", err.hint)
      -- The check's own failure with its status, as its line would give it.
      assert.matches("get_active_number failed too: HTTP 500 ", err.hint, 1, true)
      assert.equal(1, count(server, "POST", ":rent"))
    end)

    it("a token endpoint failing during a rent: no rent, no check, and the error says nothing was sent", function()
      local phone_number = number_to_rent()
      local fresh = new_client() -- no token yet
      server:script { path = "/oauth2/token", status = 500, count = 5 }
      local _, err = fresh:rent_number(phone_number)
      assert.equal("auth", err.kind)
      assert.is_false(err.sent)
      assert.is_nil(err.rented)
      assert.equal("could not get an access token; nothing was sent", err.hint)
      assert.equal(500, err.status)
      assert.equal(1, #helper.token_requests(server), "one token request: none for a confirmation")
      assert.equal(0, count(server, "POST", ":rent"))
      assert.equal(0, count(server, "GET", "/activeNumbers/"))
    end)

    it("rent_any_number answered 503 or timing out is not retried", function()
      assert(client:list_available_regions())
      clear_logs()
      server:script { path = ":rentAny", status = 503 }
      local _, err = client:rent_any_number { regionCode = "US", type = "LOCAL" }
      assert.equal(1, err.attempts)
      assert.is_nil(err.rented)
      assert.matches("may or may not have taken effect: look with list_active_numbers", err.hint)
      assert.equal(1, count(server, "POST", ":rentAny"))

      local impatient = new_client { timeout = 0.3 }
      assert(impatient:list_available_regions())
      clear_logs()
      server:script { path = ":rentAny", delay = 1 }
      _, err = impatient:rent_any_number { regionCode = "US", type = "LOCAL" }
      assert.equal("timeout", err.kind)
      assert.equal(1, err.attempts)
      assert.equal(1, count(server, "POST", ":rentAny"))
      assert.same({}, waits)
    end)
  end)
end)
