--- The plain-Lua engine of `client:map`: many calls at once on one libcurl
-- Multi (see `Multi` in `sinchnumbers.transport.curl`), without threads.
--
-- Each task is a coroutine. A request made from a task starts a transfer on
-- the Multi and yields; a sleep (a retry's backoff, a rate-limit wait)
-- yields too and becomes a timer. One loop waits on the Multi until the
-- next timer is due, and resumes the task whose transfer ended or whose
-- timer came. Nothing blocks and nothing busy-waits: between events the
-- process sleeps in `curl_multi_poll`.
--
-- A request from anywhere else (code outside the tasks, or a coroutine of
-- the caller's own inside a task) goes to the client's own transport, one
-- at a time, as outside `map`.
--
-- Every engine (`sinchnumbers.tasks.curl`, `.ngx`, `.sequential`) has the
-- same interface: `usable`, `new`, and an engine with `concurrency`,
-- `pipeline`, `run` and `close`.
-- @module sinchnumbers.tasks.curl
-- @usage
-- local engine = assert(require("sinchnumbers.tasks.curl").new(client._pipeline, 20))
-- engine:run(20, function() ... end) -- each task's calls go through engine.pipeline
-- engine:close()

local errors = require "sinchnumbers.errors"

local create, resume, running, status, yield =
  coroutine.create, coroutine.resume, coroutine.running, coroutine.status, coroutine.yield

local curl_engine = {}

--- The most tasks one engine runs at once (and handles of its Multi).
curl_engine.MAX_CONCURRENCY = 100

-- What a task yields to the loop says what it waits for: these markers,
-- which no other code can yield, then the transfer's id or the seconds.
local TRANSFER, SLEEP = {}, {}

-- PUC Lua 5.1 cannot yield across pcall, which the pipeline and map use
-- around the caller's code; LuaJIT can.
local CAN_YIELD_ACROSS_PCALL = not (_VERSION == "Lua 5.1" and not rawget(_G, "jit"))

local function has_multi(transport)
  local kind = type(transport)
  if kind ~= "userdata" and kind ~= "table" then return false end
  local ok, multi = pcall(function() return transport.multi end)
  return ok and type(multi) == "function"
end

--- Whether this engine can run the calls of a client with this pipeline:
-- its transport is the libcurl one (it has a `multi` method), on a Lua
-- whose coroutines yield across pcall (5.2 and later, LuaJIT).
-- @tparam table pipeline the client's
-- @treturn boolean
function curl_engine.usable(pipeline)
  return CAN_YIELD_ACROSS_PCALL and has_multi(pipeline.transport)
end

local Engine = {}
Engine.__index = Engine

-- The transport of the tasks' pipeline: a task's request becomes a transfer
-- of the Multi, anyone else's goes to the client's transport.
local function task_transport(engine, blocking)
  local transport = {}
  function transport.request(_, method, url, headers, body, opts)
    if not engine.tasks[running()] then return blocking:request(method, url, headers, body, opts) end
    local id, refused = engine.multi:start(method, url, headers, body, opts)
    if not id then return nil, refused end
    return yield(TRANSFER, id)
  end
  -- The pipeline closes the transport it owns: the client's, which this stands for.
  function transport.close() return blocking:close() end
  return transport
end

local function task_sleep(engine, blocking)
  return function(seconds)
    if not engine.tasks[running()] then return blocking(seconds) end
    yield(SLEEP, seconds)
  end
end

--- Makes an engine for a client's pipeline.
-- @tparam table pipeline the client's (see `usable`)
-- @tparam int concurrency tasks at once, 1 to `MAX_CONCURRENCY`
-- @treturn[1] Engine
-- @treturn[2] nil
-- @treturn[2] table an `invalid_argument` error
function curl_engine.new(pipeline, concurrency)
  if not curl_engine.usable(pipeline) then
    return nil, errors.invalid_argument("the curl engine needs the libcurl transport, and LuaJIT or Lua 5.2 or later"
      .. " (Lua 5.1 cannot yield across pcall)")
  end
  if type(concurrency) ~= "number" or concurrency % 1 ~= 0 or concurrency < 1
      or concurrency > curl_engine.MAX_CONCURRENCY then
    return nil, errors.invalid_argument("concurrency must be an integer from 1 to " .. curl_engine.MAX_CONCURRENCY,
      "concurrency")
  end
  local multi, problem = pipeline.transport:multi(concurrency)
  if not multi then return nil, errors.invalid_argument(problem.message) end
  local engine = setmetatable({
    concurrency = concurrency,
    multi = multi,
    clock = pipeline.precise_clock,
    blocking_sleep = pipeline.sleep,
    tasks = {},     -- coroutine -> true, for the tasks of this engine
    transfers = {}, -- transfer id -> the task waiting for it
    timers = {},    -- { at, task }, soonest first; equal times in the order they were set
    live = 0,       -- tasks not yet returned
  }, Engine)
  -- Every policy field (closed, auth, logging...) is read through from the client's.
  engine.pipeline = pipeline:with {
    transport = task_transport(engine, pipeline.transport),
    sleep = task_sleep(engine, pipeline.sleep),
    sleep_yields = true,
  }
  return engine
end

--- An engine made by `new`.
-- @type Engine
-- @tfield int concurrency the tasks it runs at once
-- @tfield table pipeline the pipeline its tasks' client runs on: the
-- client's, with this engine's transport (a task's request is a transfer of
-- the Multi, anyone else's goes to the client's transport) and sleep (a
-- timer in a task, the client's sleep elsewhere), and `sleep_yields = true`

local function add_timer(self, seconds, task)
  local at = self.clock() + (tonumber(seconds) or 0)
  local timers = self.timers
  local i = #timers
  while i > 0 and timers[i].at > at do
    timers[i + 1] = timers[i]
    i = i - 1
  end
  timers[i + 1] = { at = at, task = task }
end

-- Resumes a task with what it waited for, and files what it waits for next.
local function step(self, task, ...)
  local ok, why, what = resume(task, ...)
  if status(task) == "dead" then
    self.tasks[task] = nil
    self.live = self.live - 1
    -- body must not raise (map pcalls the caller's fn); if it does anyway,
    -- the others still run to their end, and run raises it afterwards.
    if not ok and self.failure == nil then self.failure = why end
  elseif why == TRANSFER then
    self.transfers[what] = task
  elseif why == SLEEP then
    add_timer(self, what, task)
  else
    -- A yield of the caller's own, outside a coroutine of theirs: it goes on
    -- at the loop's next turn, after the others had theirs.
    add_timer(self, 0, task)
  end
end

-- Seconds until the soonest timer, or nil when none is set.
local function until_next_timer(self)
  local first = self.timers[1]
  if not first then return nil end
  local left = first.at - self.clock()
  return left > 0 and left or 0
end

-- Resumes the tasks whose timers are due. Only those due now: a task that
-- sleeps again at once waits for the loop's next turn.
local function wake_sleepers(self)
  local timers = self.timers
  if not timers[1] then return end
  local now, due = self.clock(), 0
  while timers[due + 1] and timers[due + 1].at <= now do due = due + 1 end
  if due == 0 then return end
  local woken = {}
  for i = 1, due do woken[i] = timers[i].task end
  for i = due + 1, #timers + due do timers[i - due] = timers[i] end
  for i = 1, due do step(self, woken[i]) end
end

-- Tasks waiting for transfers the Multi no longer has (the engine was
-- closed while they were in flight) get an error rather than wait forever.
local function abandon_transfers(self)
  local aborted = {
    kind = "network", sent = true,
    message = "the transfer was aborted: the engine was closed while it was in flight (it may have reached the server)",
  }
  for id, task in pairs(self.transfers) do
    self.transfers[id] = nil
    step(self, task, nil, aborted)
  end
end

--- Runs `count` tasks, each calling `body()`, and returns when every one
-- has returned.
-- @tparam int count at most `concurrency`
-- @tparam function body runs in each task; its calls go through `pipeline`
function Engine:run(count, body)
  for _ = 1, count do
    local task = create(body)
    self.tasks[task] = true
    self.live = self.live + 1
    step(self, task)
  end
  local multi, transfers = self.multi, self.transfers
  while self.live > 0 do
    local wait = until_next_timer(self)
    if multi:pending() > 0 or (wait and not self.closed) then
      local id, answer_status, answer_headers, answer_body = multi:wait(wait)
      local task = id and transfers[id]
      if task then
        transfers[id] = nil
        step(self, task, answer_status, answer_headers, answer_body)
      end
    elseif next(transfers) then
      abandon_transfers(self)
    else
      -- Closed, with only sleepers left: the Multi cannot wait for them.
      self.blocking_sleep(wait)
    end
    wake_sleepers(self)
  end
  local failure = self.failure
  self.failure = nil
  if failure ~= nil then error(failure, 0) end
end

--- Closes the Multi: transfers still in flight are aborted (their tasks
-- get a `network` error with `sent = true`), and the transport takes it
-- back with its connections for the next engine. Safe twice.
function Engine:close()
  self.closed = true
  self.multi:close()
end

return curl_engine
