-- timeout and connect_timeout hold within 10 % for the numbers call and for
-- the token call alike. The fake holds its answers back (a `delay` script)
-- or nothing accepts the connection; the margins are wide (0.45 to 0.75 s
-- for 0.5 s) because these specs also run under valgrind.
--
-- Both timeouts bound each HTTP request, that is each attempt: a call that
-- is retried can take (max_retries + 1) times as long, plus the waits.
-- `deadline` bounds the whole call: token, tries, waits and confirmation.
local helper = require "support.client_helper"
local socket = require "socket"

local LIMIT, LOW, HIGH = 0.5, 0.45, 0.75

local function timed(f, ...)
  local started = socket.gettime()
  local result, err = f(...)
  return socket.gettime() - started, result, err
end

local function assert_within(elapsed, what)
  assert.is_true(elapsed >= LOW and elapsed <= HIGH, ("%s took %.3f s, not %.2f-%.2f"):format(what, elapsed, LOW, HIGH))
end

describe("timeouts", function()
  local server = helper.with_fake()

  describe("timeout", function()
    it("holds for a numbers call", function()
      local client = helper.client(server, { timeout = LIMIT, max_retries = 0 })
      assert(client:list_available_regions()) -- the token, so only the numbers call is slow
      server:script { path = "availableRegions", delay = 2 }
      local elapsed, result, err = timed(client.list_available_regions, client)
      assert.is_nil(result)
      assert.equal("timeout", err.kind)
      assert.matches("availableRegions", err.url)
      assert_within(elapsed, "the numbers call")
    end)

    it("holds for the token call", function()
      local client = helper.client(server, { timeout = LIMIT, max_retries = 0 })
      server:script { path = "/oauth2/token", delay = 2 }
      local elapsed, result, err = timed(client.list_available_regions, client)
      assert.is_nil(result)
      assert.equal("timeout", err.kind)
      assert.equal(server.url .. "/oauth2/token", err.url)
      assert_within(elapsed, "the token call")
      assert.equal(0, #helper.api_requests(server))
    end)

    it("holds for each attempt of a retried call", function()
      local waits, sleep = helper.sleep_recorder()
      local records = {}
      local client = helper.client(server, { timeout = LIMIT, max_retries = 1, sleep = sleep,
        on_request = function(record) records[#records + 1] = record end })
      assert(client:list_available_regions())
      records = {}
      server:script { path = "availableRegions", delay = 2, count = 2 }
      local _, err = client:list_available_regions()
      assert.equal("timeout", err.kind)
      assert.equal(2, err.attempts)
      assert.equal(1, #waits)
      assert.equal(2, #records)
      for i, record in ipairs(records) do
        assert.equal("timeout", record.error.kind)
        assert_within(record.duration, "attempt " .. i)
      end
    end)
  end)

  describe("connect_timeout", function()
    local url, close_listener

    before_each(function()
      url, close_listener = helper.unaccepting_url()
    end)

    after_each(function()
      close_listener()
    end)

    it("holds for a numbers call", function()
      local client = helper.client(server, { auth = "basic", base_url = url, connect_timeout = LIMIT,
        timeout = 5, max_retries = 0 })
      local elapsed, result, err = timed(client.list_available_regions, client)
      assert.is_nil(result)
      assert.equal("timeout", err.kind)
      assert.is_false(err.sent)
      assert_within(elapsed, "connecting for the numbers call")
    end)

    it("holds for the token call", function()
      local client = helper.client(server, { auth_url = url .. "/oauth2/token", connect_timeout = LIMIT,
        timeout = 5, max_retries = 0 })
      local elapsed, result, err = timed(client.list_available_regions, client)
      assert.is_nil(result)
      assert.equal("timeout", err.kind)
      assert.equal(url .. "/oauth2/token", err.url)
      assert_within(elapsed, "connecting for the token call")
    end)
  end)

  describe("deadline", function()
    it("bounds a whole call: the token request and the try share it", function()
      local client = helper.client(server, { timeout = 5, max_retries = 0, deadline = LIMIT })
      server:script { path = "/oauth2/token", delay = 0.3 }
      server:script { path = "availableRegions", delay = 0.3 }
      local elapsed, result, err = timed(client.list_available_regions, client)
      assert.is_nil(result, "0.6 s of answers within a deadline of 0.5 s")
      assert.equal("timeout", err.kind)
      assert.matches("cut short by the call's deadline of 0.5 s", err.hint)
      assert_within(elapsed, "the call")
    end)

    it("bounds a rent and its confirmation, and the error says what is known", function()
      local client = helper.client(server, { timeout = 5, max_retries = 0, deadline = LIMIT })
      local phone_number = helper.available_number(client)
      server:clear_requests()
      server:script { path = ":rent", delay = 2 }
      local elapsed, result, err = timed(client.rent_number, client, phone_number)
      assert.is_nil(result)
      assert.equal("timeout", err.kind)
      assert.is_nil(err.rented)
      assert.matches("whether " .. phone_number:gsub("%+", "%%+") .. " was rented is unknown", err.hint)
      assert.matches("deadline of 0.5 s ran out before the request was sent%): call get_active_number", err.hint)
      assert_within(elapsed, "the rent")
      assert.equal(1, #helper.api_requests(server))
    end)

    it("does not wait past it: the error comes back at once", function()
      local waits, sleep = helper.sleep_recorder()
      local client = helper.client(server, { auth = "basic", deadline = 2, sleep = sleep })
      server:script { path = "availableRegions", status = 503, headers = { ["Retry-After"] = "5" } }
      local _, err = client:list_available_regions()
      assert.equal(503, err.status)
      assert.matches("not tried again: the call's deadline of 2 s would pass first", err.hint)
      assert.same({}, waits)
    end)

    it("is checked like timeout: seconds above 0", function()
      local sinchnumbers = require "sinchnumbers"
      local none, err = sinchnumbers.new { project_id = "p", key_id = "k", key_secret = "s", deadline = 0 }
      assert.is_nil(none)
      assert.equal("deadline", err.field)
      assert.matches("deadline must be a number of seconds above 0 and at most 86400 %(got 0%)", err.message)
      assert(sinchnumbers.new { project_id = "p", key_id = "k", key_secret = "s", deadline = 0.25 })
    end)
  end)

  describe("call options", function()
    it("a call's timeout holds for that call only", function()
      local client = helper.client(server, { timeout = 5, max_retries = 0 })
      assert(client:list_available_regions())
      server:script { path = "availableRegions", delay = 2 }
      local elapsed, result, err = timed(client.list_available_regions, client, nil, { timeout = LIMIT })
      assert.is_nil(result)
      assert.equal("timeout", err.kind)
      assert_within(elapsed, "the call with a timeout of its own")
      -- The next call has the client's 5 s again, and waits out a 1 s answer.
      server:script { path = "availableRegions", delay = 1 }
      assert(client:list_available_regions())
    end)

    it("a call's timeout works on a method without params, after its path value", function()
      local client = helper.client(server, { timeout = 5, max_retries = 0 })
      assert(client:list_available_regions())
      server:script { path = "activeNumbers/", delay = 2 }
      local elapsed, result, err = timed(client.get_active_number, client, "+12065550100", { timeout = LIMIT })
      assert.is_nil(result)
      assert.equal("timeout", err.kind)
      assert_within(elapsed, "get_active_number with a timeout of its own")
    end)

    it("max_retries = 0 sends a 503 back at once; the client's retries stay for other calls", function()
      local waits, sleep = helper.sleep_recorder()
      local client = helper.client(server, { auth = "basic", max_retries = 2, sleep = sleep })
      server:script { path = "availableRegions", status = 503, count = 3 }
      local _, err = client:list_available_regions({}, { max_retries = 0 })
      assert.equal(503, err.status)
      assert.equal(1, err.attempts)
      assert.same({}, waits)
      -- The two 503s left are retried away by the client's own max_retries.
      assert(client:list_available_regions())
      assert.equal(2, #waits)
    end)

    it("a call's deadline bounds that call", function()
      local client = helper.client(server, { timeout = 5, max_retries = 0 })
      assert(client:list_available_regions())
      server:script { path = "availableRegions", delay = 2 }
      local elapsed, result, err = timed(client.list_available_regions, client, nil, { deadline = LIMIT })
      assert.is_nil(result)
      assert.matches("cut short by the call's deadline of 0.5 s", err.hint)
      assert_within(elapsed, "the call with a deadline")
    end)
  end)
end)
