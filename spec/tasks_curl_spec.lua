-- The plain-Lua engine of map (sinchnumbers.tasks.curl) and the libcurl
-- Multi under it, over real HTTP on loopback: the fake, a hostile server,
-- and (spec/tasks_curl_http2_spec.lua) nginx speaking HTTP/2.
local helper = require "support.client_helper"
local hostile = require "support.hostile"
local socket = require "socket"
local curl = require "sinchnumbers.transport.curl"
local tasks = require "sinchnumbers.tasks.curl"

if not helper.curl_engine_runs() then
  describe("the curl engine", function()
    it("is not usable on PUC Lua 5.1, which cannot yield across pcall", function()
      local client = helper.client { url = "http://127.0.0.1:1" }
      assert.is_false(tasks.usable(client._pipeline))
      local none, err = tasks.new(client._pipeline, 4)
      assert.is_nil(none)
      assert.equals("invalid_argument", err.kind)
      assert.matches("LuaJIT or Lua 5.2", err.message)
    end)
  end)
  return
end

-- A client whose calls go through the engine's pipeline, as map gives its
-- fn: the client's own fields, with the engine's pipeline in place of its own.
local function tasks_client(client, engine)
  local view = {}
  for name, value in pairs(client) do view[name] = value end
  view._pipeline = engine.pipeline
  return setmetatable(view, getmetatable(client))
end

describe("the curl engine", function()
  local server, new_client = helper.with_fake()
  local engines = {}

  local function engine_of(client, concurrency)
    local engine = assert(tasks.new(client._pipeline, concurrency))
    engines[#engines + 1] = engine
    return engine, tasks_client(client, engine)
  end

  after_each(function()
    for _, engine in ipairs(engines) do engine:close() end
    engines = {}
  end)

  it("is usable with the libcurl transport only, and checks its concurrency", function()
    local client = new_client()
    assert.is_true(tasks.usable(client._pipeline))
    assert.is_false(tasks.usable { transport = { request = function() end } })
    for _, bad in ipairs { 0, 101, 1.5, "8" } do
      local none, err = tasks.new(client._pipeline, bad)
      assert.is_nil(none)
      assert.equals("invalid_argument", err.kind)
      assert.equals("concurrency must be an integer from 1 to 100", err.message)
    end
    local engine = engine_of(client, 3)
    assert.equals(3, engine.concurrency)
    assert.equals(client._pipeline.auth, engine.pipeline.auth, "policy is read through from the client's")
  end)

  it("runs 20 tasks at once, each getting the answers to its own calls", function()
    local client = new_client()
    local numbers = assert(client:list_available_numbers { regionCode = "US", type = "LOCAL", size = 20 })
    server:script { path = "/availableNumbers/%2B", count = 40, delay = 0.3 }
    local engine, tasks_view = engine_of(client, 20)
    local next_item, seen = 0, {}
    local started = socket.gettime()
    engine:run(20, function()
      next_item = next_item + 1
      local mine = numbers.availableNumbers[next_item].phoneNumber
      for round = 1, 2 do
        local number, err = tasks_view:get_available_number(mine)
        seen[#seen + 1] = { asked = mine, got = number and number.phoneNumber, err = err, round = round }
      end
    end)
    local took = socket.gettime() - started
    assert.equals(40, #seen)
    for _, call in ipairs(seen) do
      assert.is_nil(call.err, call.err and tostring(call.err))
      assert.equals(call.asked, call.got)
    end
    -- One after another, 40 answers of 0.3 s would take 12 s; two rounds of 20 at once take 0.6 s.
    assert.is_true(took < 4, "took " .. took .. " s")
    assert.equals(40, #helper.requests_to(server, "GET", "/availableNumbers/%2B"))
  end)

  it("fails one task's transfer while the others succeed", function()
    local client = new_client()
    assert(client:list_available_regions()) -- the token, before the tasks
    server:script { path = "/availableRegions", count = 1, status = 500 }
    local engine, tasks_view = engine_of(client, 5)
    local results = {}
    engine:run(5, function()
      local i = #results + 1
      results[i] = false
      local regions, err = tasks_view:list_available_regions()
      results[i] = regions and "ok" or err
    end)
    local failed = 0
    for _, result in ipairs(results) do
      if result ~= "ok" then
        failed = failed + 1
        assert.equals(500, result.status)
      end
    end
    assert.equals(1, failed, "the one 500 fails its own call only")
    local refused = {}
    engine:run(2, function()
      local status, err = engine.pipeline.transport:request("GET", helper.refused_url() .. "/")
      refused[#refused + 1] = status or err
    end)
    assert.equals("network", refused[1].kind)
    assert.is_false(refused[1].sent)
  end)

  it("runs sleeps as timers of the loop, in the order of their times, beside transfers", function()
    local client = new_client()
    assert(client:list_available_regions())
    server:script { path = "/availableRegions", count = 1, delay = 0.8 }
    local engine, tasks_view = engine_of(client, 4)
    local woke, durations = {}, {}
    -- Far apart, so that the order holds however slow the machine (valgrind).
    local naps = { 1.2, 0.2, 0.5 }
    local cpu, started = os.clock(), socket.gettime()
    engine:run(4, function()
      local i = #durations + 1
      durations[i] = false
      if i == 4 then
        assert(tasks_view:list_available_regions())
        woke[#woke + 1] = "transfer"
      else
        engine.pipeline.sleep(naps[i])
        woke[#woke + 1] = i
      end
      durations[i] = socket.gettime() - started
    end)
    assert.same({ 2, 3, "transfer", 1 }, woke)
    local took = socket.gettime() - started
    assert.is_true(durations[1] >= 1.19 and took < 3, "slept " .. durations[1] .. " s of 1.2")
    -- Waiting is curl_multi_poll sleeping: no busy loop spends the time.
    assert.is_true(os.clock() - cpu < took / 2, "CPU " .. (os.clock() - cpu) .. " s in " .. took)
  end)

  it("sends a request from outside its tasks to the client's blocking transport", function()
    local client = new_client { sleep = socket.sleep }
    local engine, tasks_view = engine_of(client, 2)
    assert(tasks_view:list_available_regions(), "from the main program")
    local in_coroutine_of_mine
    engine:run(1, function()
      local mine = coroutine.create(function()
        return tasks_view:list_available_regions()
      end)
      local _, regions = coroutine.resume(mine)
      in_coroutine_of_mine = regions
      assert.equals(0, engine.multi:pending(), "a coroutine of the caller's own is not a task")
    end)
    assert.is_table(in_coroutine_of_mine)
    local slept = socket.gettime()
    engine.pipeline.sleep(0.1)
    assert.is_true(socket.gettime() - slept >= 0.09, "outside the tasks, the client's own sleep")
  end)

  it("aborts transfers in flight when closed, with an error that says they may have arrived", function()
    local client = new_client { sleep = socket.sleep }
    assert(client:list_available_regions())
    server:script { path = "/availableRegions", count = 1, delay = 3 }
    local engine, tasks_view = engine_of(client, 3)
    local started, cpu = socket.gettime(), os.clock()
    local tasks_begun, outcome, slept = 0, nil, false
    engine:run(3, function()
      tasks_begun = tasks_begun + 1
      if tasks_begun == 1 then
        local _, err = tasks_view:list_available_regions(nil, { max_retries = 0 })
        outcome = err
      elseif tasks_begun == 2 then
        engine.pipeline.sleep(0.2)
        engine:close()
      else
        engine.pipeline.sleep(1) -- a timer that outlives the engine's Multi
        slept = true
      end
    end)
    assert.is_true(socket.gettime() - started < 2, "run returned at once")
    assert.is_true(slept)
    assert.is_true(os.clock() - cpu < 0.4, "no busy loop while the last task slept for 0.8 s")
    assert.equals("network", outcome.kind)
    assert.is_true(outcome.sent)
    assert.matches("engine was closed", outcome.message)
    engine:close()
    local status = engine.pipeline.transport:request("GET", server.url)
    assert.is_number(status, "outside the tasks the client's transport still works")
  end)

  it("does not lose the other tasks when a body raises, and raises it after they end", function()
    local client = new_client()
    local engine, tasks_view = engine_of(client, 3)
    local finished = 0
    local ok, problem = pcall(engine.run, engine, 3, function()
      finished = finished + 1
      if finished == 1 then error({ "the raised value" }) end
      assert(tasks_view:list_available_regions())
      coroutine.yield("a yield of the caller's own")
      finished = finished + 10
    end)
    assert.is_false(ok)
    assert.same({ "the raised value" }, problem)
    assert.equals(23, finished)
  end)
end)

describe("the libcurl Multi", function()
  local server = helper.with_fake()

  it("refuses a start when every handle is busy, and a size out of range", function()
    local transport = assert(curl.new())
    local multi = assert(transport:multi(1))
    assert.matches("1 handles, 0 pending", tostring(multi))
    assert.is_number(multi:start("GET", server.url .. "/one"))
    local none, err = multi:start("GET", server.url .. "/two")
    assert.is_nil(none)
    assert.equals("invalid_argument", err.kind)
    assert.matches("all 1 handles of the multi are busy", err.message)
    assert.equals(1, multi:pending())
    for _, size in ipairs { 0, 101, 2.5, "4" } do
      local _, refused = transport:multi(size)
      assert.equals("multi: size must be an integer from 1 to 100 (the transfers at once)", refused.message)
    end
    multi:close()
    transport:close()
    local _, closed = transport:multi(2)
    assert.matches("closed transport", closed.message)
  end)

  it("returns nothing when the time passes with nothing ended, and sleeps that long when nothing runs", function()
    local transport = assert(curl.new())
    local multi = assert(transport:multi(2))
    local started = socket.gettime()
    assert.equals(0, select("#", multi:wait(0.2)))
    assert.is_true(socket.gettime() - started >= 0.19)
    assert.equals(0, select("#", multi:wait()), "no transfer and no time: nothing to wait for")
    server:script { path = "/late", count = 1, delay = 0.5 }
    local id = multi:start("GET", server.url .. "/late")
    assert.equals(0, select("#", multi:wait(0.1)))
    local ended, status = multi:wait(5)
    assert.equals(id, ended)
    assert.equals(404, status)
    assert.equals(0, multi:pending())
    multi:close()
    transport:close()
  end)

  it("keeps its transport's settings when the transport is closed and collected first", function()
    local transport = assert(curl.new { user_agent = "kept-agent/1", max_body_size = 10 })
    local multi = assert(transport:multi(2))
    transport:close()
    transport = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    server:script { path = "/agent", count = 1, status = 200, body = { long = string.rep("x", 50) } }
    multi:start("GET", server.url .. "/agent")
    local _, _, err = multi:wait(5)
    assert.equals("too_large", err.kind, "max_body_size still holds")
    assert.equals("kept-agent/1", helper.requests_to(server, "GET", "/agent")[1].headers["user-agent"])
    multi:close()
    multi:close()
    assert.matches("closed", tostring(multi))
    assert.equals(0, select("#", multi:wait(0)))
  end)

  it("is kept by its transport from one use to the next, with its connections, and grown for more", function()
    local numbered = hostile.start { { path = "/n", connection_number = true } }
    local transport = assert(curl.new())
    -- `count` GETs at once: the lowest and the highest number of the
    -- connections they went out on (libcurl may put two on one).
    local function connections_of(multi, count)
      for _ = 1, count do assert(multi:start("GET", numbered.url .. "/n")) end
      local lowest, highest = math.huge, 0
      for _ = 1, count do
        local number = assert(tonumber(select(4, multi:wait(5))))
        lowest, highest = math.min(lowest, number), math.max(highest, number)
      end
      return lowest, highest
    end
    local first = assert(transport:multi(2))
    local _, opened = connections_of(first, 2)
    first:close()
    local again = assert(transport:multi(2))
    assert.is_true(select(2, connections_of(again, 2)) <= opened, "the same connections, kept")
    assert.is_nil(first:start("GET", numbered.url .. "/n"), "a closed Multi stays closed, whoever holds it now")
    local inner = assert(transport:multi(1))
    local own = connections_of(inner, 1)
    assert.is_true(own > opened, "lent already: one of its own, with a connection of its own")
    inner:close()
    again:close()
    local smaller = assert(transport:multi(1))
    assert.is_true(select(2, connections_of(smaller, 1)) <= opened, "the kept one, bigger than asked")
    smaller:close()
    local bigger = assert(transport:multi(3))
    assert.is_true(connections_of(bigger, 3) > own, "grown: a new one")
    transport:close()
    assert(bigger:start("GET", numbered.url .. "/n"))
    assert.equals(200, select(2, bigger:wait(5)), "lent when its transport closed: it goes on until closed")
    bigger:close()
    numbered:stop()
  end)

  it("is collected with transfers in flight, before or after its transport", function()
    for round = 1, 10 do
      local transport = assert(curl.new())
      local multi = assert(transport:multi(3))
      for _ = 1, 3 do multi:start("GET", server.url .. "/collected") end
      multi:wait(0.01)
      if round % 2 == 0 then transport:close() end
    end
    collectgarbage()
    collectgarbage()
  end)

  local function answer(body)
    return ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"):format(#body, body)
  end

  it("never reads bytes after an answer on an idle connection as the next answer", function()
    for _, late in ipairs { false, true } do
      local first = { path = "/first", answer = answer('{"n":1}') .. answer('{"n":"evil"}') }
      if late then first.answer, first.later = answer('{"n":1}'), answer('{"n":"evil"}') end
      local evil = hostile.start { first, { path = "/second", answer = answer('{"n":2}') } }
      local multi = assert(assert(curl.new()):multi(2))
      multi:start("GET", evil.url .. "/first")
      assert.equals('{"n":1}', select(4, multi:wait(5)))
      socket.sleep(0.2) -- the extra bytes are on the kept-alive connection now
      multi:start("GET", evil.url .. "/second")
      assert.equals('{"n":2}', select(4, multi:wait(5)))
      multi:close()
      evil:stop()
    end
  end)

  it("leaves alone a kept-alive connection whose answer is still arriving when another transfer starts", function()
    -- More than the socket buffers hold: some of it waits, the rest is still to come.
    local whole = answer('{"long":"' .. string.rep("x", 12 * 1024 * 1024) .. '"}')
    local slow = hostile.start {
      { path = "/first", answer = answer('{"n":1}') },
      { path = "/halves", answer = whole:sub(1, 1000), later = whole:sub(1001) },
    }
    local multi = assert(assert(curl.new { max_body_size = 16 * 1024 * 1024 }):multi(2))
    multi:start("GET", slow.url .. "/first")
    assert.equals(200, select(2, multi:wait(5)))
    local halves = multi:start("GET", slow.url .. "/halves") -- on the connection kept from /first
    assert.equals(0, select("#", multi:wait(0.02)))
    socket.sleep(0.1) -- the second half waits on that busy connection now
    local other = multi:start("GET", server.url .. "/other")
    local ended = {}
    for _ = 1, 2 do
      local id, status, _, body = multi:wait(5)
      ended[id] = status and body or "failed"
    end
    assert.equals(#whole:match("\r\n\r\n(.*)$"), #ended[halves])
    assert.is_string(ended[other])
    multi:close()
    slow:stop()
  end)
end)
