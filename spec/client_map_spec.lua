-- client:map, the bulk helpers, the rate budget and the 429 pause, against
-- the fake over loopback. The specs run under whatever engine map picks
-- here (sequential on PUC Lua 5.1, tasks at once where an engine can run
-- them): `most(wanted)` asks for that many tasks where they are possible.
-- Timing comes from the fake's own log (received_at), with generous bounds.
local helper = require "support.client_helper"
local socket = require "socket"

local PUC_51 = _VERSION == "Lua 5.1" and not rawget(_G, "jit")

-- A phone number as the fake's log and scripts see it in a path ("+" is %2B there).
local function in_path(phone_number)
  return phone_number:sub(2)
end

local function received_at(requests)
  local times = {}
  for i, request in ipairs(requests) do times[i] = request.received_at end
  table.sort(times)
  return times
end

-- The fewest seconds between a request and the one `limit` requests after it.
local function tightest_window(times, limit)
  local tightest = math.huge
  for i = 1, #times - limit do tightest = math.min(tightest, times[i + limit] - times[i]) end
  return tightest
end

describe("client:map", function()
  local server, new_client = helper.with_fake()
  local client

  -- `wanted` tasks where map can run them at once here, else its default.
  local function most(wanted)
    return client:map({}, function() end, { concurrency = wanted }) and wanted or nil
  end

  local function active_numbers(count)
    return server:add_active_numbers { count = count, regionCode = "US", type = "LOCAL" }.phoneNumbers
  end

  local function get_each(task_client, phone_number)
    return task_client:get_active_number(phone_number)
  end

  before_each(function()
    client = new_client { sleep = socket.sleep }
  end)

  describe("results", function()
    it("come in the order of the items, with a summary", function()
      local numbers = active_numbers(12)
      -- The first items answer last where tasks run at once.
      server:script { path = in_path(numbers[1]), delay = 0.3 }
      server:script { path = in_path(numbers[2]), delay = 0.2 }
      local results, summary = client:map(numbers, get_each, { concurrency = most(6) })
      assert.equal(#numbers, #results)
      for i, result in ipairs(results) do
        assert.equal(numbers[i], result.item)
        assert.is_nil(result.err)
        assert.equal(numbers[i], result.value.phoneNumber)
      end
      assert.equal(12, summary.total)
      assert.equal(12, summary.succeeded)
      assert.equal(0, summary.failed)
      assert.is_true(summary.seconds >= 0.3 and summary.seconds < 10)
    end)

    if not PUC_51 then
      it("come from tasks at once on LuaJIT and Lua 5.2 and later", function()
        local numbers = active_numbers(8)
        for _, phone_number in ipairs(numbers) do server:script { path = in_path(phone_number), delay = 0.5 } end
        local _, summary = client:map(numbers, get_each, { concurrency = 8 })
        assert.equal(8, summary.succeeded)
        -- One after the other would take 4 s.
        assert.is_true(summary.seconds < 2, summary.seconds .. " s")
      end)
    end

    it("hand fn the client, the item and its index, and keep what fn returns", function()
      local results = client:map({ "a", "b" }, function(task_client, item, index)
        assert.matches("sinchnumbers client", tostring(task_client))
        return item .. index, nil
      end)
      assert.equal("a1", results[1].value)
      assert.equal("b2", results[2].value)
    end)

    it("of an empty list are empty", function()
      local results, summary = client:map({}, get_each)
      assert.same({}, results)
      assert.equal(0, summary.total)
    end)

    it("keep each item's error; the others succeed", function()
      local numbers = active_numbers(5)
      numbers[3] = "+15551230000"   -- not in the project
      local results, summary = client:map(numbers, get_each)
      assert.equal("not_found", results[3].err.kind)
      for _, i in ipairs { 1, 2, 4, 5 } do assert.equal(numbers[i], results[i].value.phoneNumber) end
      assert.equal(4, summary.succeeded)
      assert.equal(1, summary.failed)
    end)

    it("turn a raise inside fn into that item's err, without stopping the others", function()
      local numbers = active_numbers(6)
      local thrown = require("sinchnumbers.errors").new("http", "an error object of the client's")
      local results, summary = client:map(numbers, function(task_client, phone_number, index)
        if index == 2 then error("no good", 0) end
        if index == 4 then error(thrown) end
        if index == 5 then error({ code = 7 }) end
        return task_client:get_active_number(phone_number)
      end)
      assert.equal("raised", results[2].err.kind)
      assert.equal("no good", results[2].err.message)
      assert.equal(thrown, results[4].err)
      assert.equal("raised", results[5].err.kind)
      assert.equal(7, results[5].err.raised.code)
      for _, i in ipairs { 1, 3, 6 } do assert.equal(numbers[i], results[i].value.phoneNumber) end
      assert.equal(3, summary.failed)
      assert.equal(3, #helper.requests_to(server, "GET", "/activeNumbers/"))
    end)
  end)

  describe("on_progress", function()
    it("is called after each item with done, total and failed; a raise in it is ignored", function()
      local numbers = active_numbers(4)
      numbers[2] = "+15551230000"
      local calls = {}
      local results = client:map(numbers, get_each, { on_progress = function(done, total, failed)
        calls[#calls + 1] = { done, total, failed }
        error("a broken progress bar")
      end })
      assert.equal(4, #calls)
      for i, call in ipairs(calls) do
        assert.equal(i, call[1])
        assert.equal(4, call[2])
      end
      assert.equal(1, calls[4][3])
      assert.equal(numbers[4], results[4].value.phoneNumber)
    end)
  end)

  describe("stop_on_error", function()
    it("starts no item after the first failure; the items not started say why", function()
      local numbers = active_numbers(30)
      server:clear_requests()
      local failure_seen, started_after = false, 0
      local results, summary = client:map(numbers, function(task_client, phone_number, index)
        if failure_seen then started_after = started_after + 1 end
        -- Item 3 fails at once, without a request, while the others may be in flight.
        if index == 3 then return nil, "a failure of fn's own" end
        return task_client:get_active_number(phone_number)
      end, { stop_on_error = true, concurrency = most(4), on_progress = function(_, _, failed)
        failure_seen = failed > 0
      end })
      assert.equal(0, started_after)
      assert.equal("a failure of fn's own", results[3].err)
      local cancelled = 0
      for _, result in ipairs(results) do
        if type(result.err) == "table" and result.err.kind == "cancelled" then
          cancelled = cancelled + 1
          assert.matches("item 3 failed", result.err.message)
          assert.equal(0, #helper.requests_to(server, "GET", in_path(result.item)))
        end
      end
      -- Only the items already in flight when item 3 failed ran after it.
      assert.is_true(cancelled >= 30 - 3 - 3, cancelled .. " cancelled")
      assert.equal("cancelled", results[30].err.kind)
      assert.equal(1 + cancelled, summary.failed)
      assert.equal(30, summary.succeeded + summary.failed)
    end)

    it("is off by default: every item runs", function()
      local numbers = active_numbers(5)
      numbers[1] = "+15551230000"
      local _, summary = client:map(numbers, get_each)
      assert.equal(4, summary.succeeded)
    end)
  end)

  describe("closing the client", function()
    local function check_cancelled(results, summary)
      local last = results[#results]
      assert.equal("cancelled", last.err.kind)
      assert.matches("the client was closed", last.err.message)
      assert.is_true(summary.failed >= 1)
      local _, err = client:get_active_number(last.item)
      assert.matches("closed", err.message)
    end

    it("from inside fn cancels the items not started", function()
      local numbers = active_numbers(20)
      local results, summary = client:map(numbers, function(task_client, phone_number, index)
        if index == 2 then task_client:close() end
        return task_client:get_active_number(phone_number)
      end, { concurrency = most(3) })
      check_cancelled(results, summary)
    end)

    it("from on_progress cancels the items not started", function()
      local numbers = active_numbers(20)
      local results, summary = client:map(numbers, get_each, { concurrency = most(3), on_progress = function(done)
        if done == 2 then client:close() end
      end })
      check_cancelled(results, summary)
    end)

    it("is not what collecting the tasks' client does", function()
      local numbers = active_numbers(3)
      assert.equal(0, select(2, client:map(numbers, get_each)).failed)
      collectgarbage()
      collectgarbage()
      assert.equal(numbers[1], assert(client:get_active_number(numbers[1])).phoneNumber)
    end)
  end)

  describe("one token request for all tasks", function()
    it("50 tasks of a client without token_cache fetch one token", function()
      local numbers = active_numbers(50)
      server:clear_requests()
      local fresh = new_client { sleep = socket.sleep }
      local _, summary = fresh:map(numbers, get_each, { concurrency = most(50) })
      assert.equal(50, summary.succeeded)
      assert.equal(1, #helper.token_requests(server))
    end)
  end)

  describe("the 429 pause", function()
    it("after a 429 with Retry-After: 1 in the middle, every task waits", function()
      local numbers = active_numbers(16)
      server:clear_requests()
      server:script { path = in_path(numbers[8]), status = 429, headers = { ["Retry-After"] = "1" } }
      local concurrency = most(4) or 1
      local _, summary = client:map(numbers, get_each, { concurrency = concurrency })
      assert.equal(16, summary.succeeded)
      local requests = helper.api_requests(server)
      local refused_at = helper.requests_to(server, "GET", in_path(numbers[8]))[1].received_at
      local soon, during = 0, 0
      for _, request in ipairs(requests) do
        local after = request.received_at - refused_at
        -- Requests already on their way when the 429 came back may still arrive.
        if after > 0 and after <= 0.2 then soon = soon + 1 end
        if after > 0.2 and after < 0.9 then during = during + 1 end
      end
      assert.is_true(soon <= concurrency, soon .. " requests right after the 429")
      assert.equal(0, during)
      assert.equal(2, #helper.requests_to(server, "GET", in_path(numbers[8])))
    end)

    it("holds for calls one after the other too", function()
      local numbers = active_numbers(2)
      server:script { path = in_path(numbers[1]), status = 429, headers = { ["Retry-After"] = "1" } }
      -- No retry: the 429 comes back to the caller, and the next call waits.
      assert.equal("rate_limited", select(2, client:get_active_number(numbers[1], { max_retries = 0 })).kind)
      local started = socket.gettime()
      assert(client:get_active_number(numbers[2]))
      assert.is_true(socket.gettime() - started >= 0.9)
    end)

    it("without Retry-After lasts as long as the backoff", function()
      local numbers = active_numbers(2)
      local waits, sleep = helper.sleep_recorder()
      client = new_client { sleep = sleep }
      server:script { path = in_path(numbers[1]), status = 429 }
      assert.equal("rate_limited", select(2, client:get_active_number(numbers[1], { max_retries = 0 })).kind)
      assert.same({}, waits)
      assert(client:get_active_number(numbers[2]))
      -- The first backoff: a random time up to 0.5 s.
      assert.equal(1, #waits)
      assert.is_true(waits[1] > 0 and waits[1] <= 0.5, "waited " .. tostring(waits[1]))
    end)

    it("ends a call whose deadline would pass first: timeout, nothing sent", function()
      local numbers = active_numbers(2)
      server:script { path = in_path(numbers[1]), status = 429, headers = { ["Retry-After"] = "1" } }
      assert(not client:get_active_number(numbers[1], { max_retries = 0 }))
      server:clear_requests()
      local _, err = client:get_active_number(numbers[2], { deadline = 0.5 })
      assert.equal("timeout", err.kind)
      assert.is_false(err.sent)
      assert.matches("429", err.message)
      assert.equal(0, #helper.api_requests(server))
    end)
  end)

  describe("rate_limit", function()
    it("starts no more than rate_limit requests in any second, across tasks", function()
      local numbers = active_numbers(14)
      server:clear_requests()
      local limited = new_client { sleep = socket.sleep, rate_limit = 4 }
      local _, summary = limited:map(numbers, get_each, { concurrency = most(8) })
      assert.equal(14, summary.succeeded)
      -- 15 requests with the token's: at least 3 seconds' worth.
      local times = received_at(server:requests())
      assert.equal(15, #times)
      assert.is_true(tightest_window(times, 4) >= 0.95, "4 requests apart by " .. tightest_window(times, 4))
      assert.is_true(times[#times] - times[1] >= 2.9)
    end)

    it("holds for calls one after the other", function()
      local numbers = active_numbers(1)
      server:clear_requests()
      local limited = new_client { sleep = socket.sleep, rate_limit = 3 }
      for _ = 1, 6 do assert(limited:get_active_number(numbers[1])) end
      local times = received_at(server:requests())
      assert.equal(7, #times)
      assert.is_true(tightest_window(times, 3) >= 0.95)
    end)

    it("ends a call whose deadline would pass while it waits: timeout, nothing sent", function()
      local numbers = active_numbers(1)
      server:clear_requests()
      -- The token request takes this second's one start.
      local limited = new_client { sleep = socket.sleep, rate_limit = 1, deadline = 0.5 }
      local _, err = limited:get_active_number(numbers[1])
      assert.equal("timeout", err.kind)
      assert.is_false(err.sent)
      assert.matches("rate_limit = 1", err.message)
      assert.equal(0, #helper.api_requests(server))
    end)

    it("is an integer from 1 to 1000", function()
      for _, bad in ipairs { 0, 1001, 2.5, "10" } do
        local made, err = require("sinchnumbers").new {
          project_id = "p", key_id = "k", key_secret = "s", rate_limit = bad,
        }
        assert.is_nil(made)
        assert.equal("rate_limit", err.field)
        assert.matches("from 1 to 1000", err.message)
      end
    end)
  end)

  describe("refuses bad arguments before anything runs", function()
    local function refused(message, ...)
      server:clear_requests()
      local results, err = client:map(...)
      assert.is_nil(results)
      assert.equal("invalid_argument", err.kind)
      assert.matches(message, err.message, 1, true)
      assert.equal(0, #server:requests())
    end

    it("items, fn and every option", function()
      local numbers = active_numbers(2)
      refused("items must be an array", "+12065550100", get_each)
      refused("keys other than 1 to 2", { numbers[1], numbers[2], x = 1 }, get_each)
      refused("keys other than 1 to 1", { numbers[1], [3] = numbers[2] }, get_each)
      refused("fn must be a function", numbers, "get_each")
      refused("options must be a table", numbers, get_each, 8)
      refused("concurrency must be an integer from 1 to 100 (got 0)", numbers, get_each, { concurrency = 0 })
      refused("(got 101)", numbers, get_each, { concurrency = 101 })
      refused("(got 2.5)", numbers, get_each, { concurrency = 2.5 })
      refused("(got a string)", numbers, get_each, { concurrency = "8" })
      refused("on_progress must be a function(done, total, failed)", numbers, get_each, { on_progress = true })
      refused("stop_on_error must be a boolean", numbers, get_each, { stop_on_error = "yes" })
      refused('unknown option "stop_on_errors"; did you mean "stop_on_error"?', numbers, get_each,
        { stop_on_errors = true })
    end)

    it("a concurrency above 1 with a transport that cannot run tasks at once", function()
      local curl = require("sinchnumbers.transport.curl").new()
      client = new_client { transport = { request = function(_, ...) return curl:request(...) end } }
      refused("concurrency = 2 is not possible", active_numbers(1), get_each, { concurrency = 2 })
      local results = assert(client:map(active_numbers(2), get_each))
      assert.is_nil(results[2].err)
      curl:close()
    end)

    if PUC_51 then
      it("a concurrency above 1 on PUC Lua 5.1, saying what works", function()
        refused("PUC Lua 5.1 cannot yield across pcall", active_numbers(1), get_each, { concurrency = 2 })
        refused("LuaJIT and Lua 5.2 or later can", active_numbers(1), get_each, { concurrency = 8 })
        local results = assert(client:map(active_numbers(3), get_each, { concurrency = 1 }))
        assert.is_nil(results[3].err)
        assert(client:map(active_numbers(3), get_each))
      end)
    end
  end)
end)

describe("bulk helpers", function()
  local server, new_client = helper.with_fake()
  local client

  before_each(function()
    client = new_client()
  end)

  local function available(count)
    local list = assert(client:list_available_numbers { regionCode = "US", type = "LOCAL", size = count })
    local numbers = {}
    for i, entry in ipairs(list.availableNumbers) do numbers[i] = entry.phoneNumber end
    return numbers
  end

  it("rent_numbers rents each number; an unclear rent says err.rented, the others succeed", function()
    local numbers = available(4)
    table.insert(numbers, 3, "+15005550006")   -- rents, then answers 503
    local results, summary = client:rent_numbers(numbers, { smsConfiguration = { servicePlanId = "plan-a" } })
    assert.equal(4, summary.succeeded)
    local unclear = results[3].err
    assert.equal(503, unclear.status)
    assert.is_true(unclear.rented)
    assert.matches("it was rented", unclear.hint)
    -- Never sent twice: one rent, then the read that confirmed it.
    assert.equal(1, #helper.requests_to(server, "POST", "15005550006:rent"))
    for _, i in ipairs { 1, 2, 4, 5 } do
      assert.equal(numbers[i], results[i].value.phoneNumber)
      assert.equal("plan-a", results[i].value.smsConfiguration.servicePlanId)
    end
  end)

  it("update_active_numbers takes one body, or a function that makes each one's", function()
    local numbers = server:add_active_numbers { count = 3 }.phoneNumbers
    local results = client:update_active_numbers(numbers, { displayName = "same" })
    assert.equal("same", results[3].value.displayName)
    results = client:update_active_numbers(numbers, function(phone_number)
      return { displayName = "n" .. phone_number }
    end)
    for i, result in ipairs(results) do assert.equal("n" .. numbers[i], result.value.displayName) end
  end)

  it("get_active_numbers and release_numbers", function()
    local numbers = server:add_active_numbers { count = 3 }.phoneNumbers
    local results = client:get_active_numbers(numbers)
    assert.equal(numbers[2], results[2].value.phoneNumber)
    local _, summary = client:release_numbers(numbers, { concurrency = 1 })
    assert.equal(3, summary.succeeded)
    local _, err = client:get_active_number(numbers[1])
    assert.equal("not_found", err.kind)
  end)

  it("check every phone number and the body before anything is sent", function()
    local numbers = server:add_active_numbers { count = 3 }.phoneNumbers
    local function refused(message, method, ...)
      server:clear_requests()
      local results, err = client[method](client, ...)
      assert.is_nil(results)
      assert.equal("invalid_argument", err.kind)
      assert.matches(message, err.message, 1, true)
      assert.equal(0, #server:requests())
      return err
    end
    local bad = { numbers[1], numbers[2], "12065550100" }
    local err = refused("get_active_numbers: phone_numbers[3]: phone_number must be in E.164",
      "get_active_numbers", bad)
    assert.equal("phone_numbers[3]", err.field)
    refused("release_numbers: phone_numbers[3]", "release_numbers", bad)
    refused("rent_numbers: phone_numbers[3]", "rent_numbers", bad)
    refused("phone_numbers must be an array", "release_numbers", numbers[1])
    refused("update_active_numbers: displayName must be a string", "update_active_numbers", numbers,
      { displayName = 5 })
    refused("update_active_numbers: the body for phone_numbers[2]: displayName must be a string",
      "update_active_numbers", numbers, function(phone_number)
        return { displayName = phone_number == numbers[2] and 5 or "fine" }
      end)
    refused("too many arguments", "release_numbers", numbers, {}, {})
    refused('unknown option "concurency"', "release_numbers", numbers, { concurency = 2 })
    -- An option's refusal names the helper called, not the map under it.
    refused("rent_numbers: concurrency must be an integer from 1 to 100 (got 0)", "rent_numbers", numbers, {},
      { concurrency = 0 })
    refused("release_numbers: options must be a table", "release_numbers", numbers, 8)
    refused("get_active_numbers: on_progress must be a function", "get_active_numbers", numbers,
      { on_progress = true })
    refused("update_active_numbers: stop_on_error must be a boolean", "update_active_numbers", numbers,
      { displayName = "fine" }, { stop_on_error = "yes" })
    local _, without_colon = client.get_active_numbers(numbers)
    assert.matches("call it as client:get_active_numbers", without_colon.message, 1, true)
  end)
end)
