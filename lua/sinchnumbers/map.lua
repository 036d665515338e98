-- client:map(items, fn, options): fn(client, item, index) for every item,
-- in tasks that run at once, and the bulk helpers built on it.
--
-- The work is a pool: `concurrency` tasks, each taking the next item until
-- none is left, so nothing but the results array grows with the items.
-- The tasks run on an engine (sinchnumbers/tasks/*.lua), the first usable
-- of: ngx (nginx light threads), curl (coroutines on libcurl's multi
-- interface), sequential (one task). Every engine has
--   engine_module.usable(pipeline)           can it run this client's calls here?
--   engine_module.new(pipeline, concurrency) an engine, or nil, err
--   engine.concurrency                       how many tasks it runs at once
--   engine.pipeline                          the pipeline of the tasks' client
--   engine:run(count, body)                  `count` tasks calling body(); returns
--                                            when every one has returned
--   engine:close()                           safe twice
-- Everything else (the rate budget, the 429 pause, the token's single
-- flight, closing) is the pipeline's, which every task shares.

local errors = require "sinchnumbers.errors"
local log = require "sinchnumbers.log"
local validate = require "sinchnumbers.validate"

local map = {}

local DEFAULT_CONCURRENCY = 8
-- PUC Lua 5.1 cannot yield across pcall or a for iterator, so no task can
-- wait for its request while another runs; LuaJIT can.
local PUC_51 = _VERSION == "Lua 5.1" and not rawget(_G, "jit")

local OPTIONS = validate.compile {
  type = "object",
  fields = {
    { name = "concurrency", type = "integer", min = 1, max = 100 },
    { name = "on_progress", type = "function", expect = "a function(done, total, failed)" },
    { name = "stop_on_error", type = "boolean" },
  },
}

-- Nothing, or what is wrong with a value that must be an array.
local function not_an_array(value)
  if type(value) ~= "table" then return "got a " .. type(value) end
  local count = 0
  for _ in next, value do count = count + 1 end
  if count ~= #value then return "got a table with keys other than 1 to " .. #value end
end

-- The engines that run tasks at once, in the order they are tried:
-- nginx's light threads, then coroutines on the libcurl transport's multi mode.
-- (Each in parentheses: require gives a second value on 5.4.)
local CONCURRENT_ENGINES = { (require "sinchnumbers.tasks.ngx"), (require "sinchnumbers.tasks.curl") }

-- The engine that runs tasks at once here, if any.
local function concurrent_engine(pipeline)
  if PUC_51 then return nil end
  for _, engine_module in ipairs(CONCURRENT_ENGINES) do
    if engine_module.usable(pipeline) then return engine_module end
  end
end

-- Why only one task at a time can run here, for the refusal of a
-- concurrency above 1.
local function why_one_at_a_time()
  if PUC_51 then
    return "PUC Lua 5.1 cannot yield across pcall, so its tasks cannot run at once (LuaJIT and Lua 5.2"
      .. " or later can): give concurrency = 1, or leave it out"
  end
  return "the client's transport cannot run tasks at once here (the libcurl transport, or the cosocket"
    .. " transport inside nginx, can): give concurrency = 1, or leave it out"
end

-- The options checked, with their defaults, and the engine module; or nil,
-- err, its message starting with `who` (map, or the bulk helper called).
local function settings(pipeline, options, who)
  if options == nil then options = {} end
  if type(options) ~= "table" then
    return nil, errors.invalid_argument(who .. ": options must be a table with " .. table.concat(OPTIONS.names, ", ")
      .. " (got a " .. type(options) .. ")")
  end
  local copy, too_deep = validate.raw_copy(options, "options")
  if not copy then return nil, errors.invalid_argument(who .. ": " .. too_deep) end
  options = copy
  local message, field = validate.fields(OPTIONS, options, "option")
  if message then return nil, errors.invalid_argument(who .. ": " .. message, field) end
  local engine_module = concurrent_engine(pipeline)
  if not engine_module then
    if options.concurrency and options.concurrency > 1 then
      return nil, errors.invalid_argument(who .. ": concurrency = " .. options.concurrency .. " is not possible: "
        .. why_one_at_a_time(), "concurrency")
    end
    engine_module = require "sinchnumbers.tasks.sequential"
  end
  options.concurrency = options.concurrency or DEFAULT_CONCURRENCY
  return options, engine_module
end

-- What a raise inside fn becomes: the error object itself, or one of kind
-- "raised" with the raised value's text (and the value as err.raised).
local function raised(problem)
  if errors.is(problem) then return problem end
  local described, text = pcall(tostring, problem)
  if not (described and type(text) == "string") then text = "(an error value that cannot be shown as text)" end
  return errors.new("raised", text, { raised = problem })
end

local function cancelled(why)
  return errors.new("cancelled", "not started: " .. why, { sent = false })
end

-- Runs fn(task_client, item, index) for each item (see the top of this
-- file); task_client_for(pipeline) makes the client the tasks are handed.
-- Returns results, summary; or nil, err before anything runs.
function map.run(pipeline, items, fn, options, task_client_for)
  local not_array = not_an_array(items)
  if not_array then
    return nil, errors.invalid_argument("map: items must be an array (a table with keys 1 to n), " .. not_array,
      "items")
  end
  if type(fn) ~= "function" then
    return nil, errors.invalid_argument("map: fn must be a function(client, item, index), got a " .. type(fn), "fn")
  end
  local engine_module
  options, engine_module = settings(pipeline, options, "map")
  if not options then return nil, engine_module end
  local total, results = #items, {}
  -- No more tasks (and handles of a Multi) than items.
  local engine, problem = engine_module.new(pipeline, math.max(1, math.min(options.concurrency, total)))
  if not engine then return nil, problem end

  local started_at = pipeline.precise_clock()
  local client = task_client_for(engine.pipeline)
  local on_progress, stop_on_error = options.on_progress, options.stop_on_error
  local taken, done, failed = 0, 0, 0
  local stopped_by -- the index of the item whose failure stops the rest (stop_on_error)

  local function next_index()
    if taken >= total or stopped_by or pipeline.closed then return nil end
    taken = taken + 1
    return taken
  end

  local function task()
    for index in next_index do
      local item = items[index]
      local ok, value, err = pcall(fn, client, item, index)
      if not ok then value, err = nil, raised(value) end
      results[index] = { item = item, value = value, err = err }
      done = done + 1
      if err ~= nil then
        failed = failed + 1
        if stop_on_error and not stopped_by then stopped_by = index end
      end
      if on_progress then
        local called, hook_problem = pcall(on_progress, done, total, failed)
        if not called then log.hook_failed("on_progress hook", hook_problem) end
      end
    end
  end

  if total > 0 then engine:run(math.min(engine.concurrency, total), task) end
  engine:close()

  local why
  if stopped_by then
    why = "item " .. stopped_by .. " failed before it (stop_on_error)"
  elseif pipeline.closed then
    why = "the client was closed"
  else
    why = "the tasks of client:map ended before it"
  end
  for index = taken + 1, total do
    results[index] = { item = items[index], err = cancelled(why) }
  end
  failed = failed + total - taken
  return results, {
    total = total, succeeded = total - failed, failed = failed, seconds = pipeline.precise_clock() - started_at,
  }
end

-- The bulk helpers: one endpoint method over many phone numbers. `body`:
-- whether the method takes one (rent_number, update_active_number), given
-- once for all, or as a function(phone_number) that returns each one's.
map.BULK = {
  rent_numbers = { method = "rent_number", body = true, arguments = "(phone_numbers[, body][, options])" },
  update_active_numbers = { method = "update_active_number", body = true,
    arguments = "(phone_numbers, body_or_function[, options])" },
  release_numbers = { method = "release_number", arguments = "(phone_numbers[, options])" },
  get_active_numbers = { method = "get_active_number", arguments = "(phone_numbers[, options])" },
}

-- The request of one phone number, checked: nil, or the message (without
-- the endpoint's own name, which request.build puts first).
local function problem_of(bulk, check, phone_number, body)
  local fits, err = check(phone_number, body)
  if fits then return nil end
  return err.message:sub(#bulk.method + 3), err.field
end

-- client:NAME(phone_numbers, [body,] options) for the map.BULK entry
-- `bulk`: every phone number and body checked (check(phone_number, body)
-- gives true, or false and the endpoint's invalid_argument error) before
-- anything is sent, then map. `name` is the helper's usage line.
function map.bulk(client, bulk, phone_numbers, check, usage, ...)
  local name = usage:match("^[%w_]+")
  local body, options, extra
  if bulk.body then body, options, extra = ... else options, extra = ... end
  if extra ~= nil then return nil, errors.invalid_argument(name .. ": too many arguments: it is " .. usage) end
  -- Checked here too, so that a refusal names the helper, not map.
  local checked, refused = settings(client._pipeline, options, name)
  if not checked then return nil, refused end
  local not_array = not_an_array(phone_numbers)
  if not_array then
    return nil, errors.invalid_argument(name .. ": phone_numbers must be an array of phone numbers in E.164"
      .. " format, " .. not_array .. "; it is " .. usage, "phone_numbers")
  end
  local bodies
  if type(body) == "function" then
    -- Made and checked before the first request, like the phone numbers.
    bodies = {}
    for index, phone_number in ipairs(phone_numbers) do bodies[index] = body(phone_number) end
  end
  for index, phone_number in ipairs(phone_numbers) do
    local message, field = problem_of(bulk, check, phone_number, bodies and bodies[index] or body)
    if message then
      local where = ""
      if field == "phone_number" then
        field = "phone_numbers[" .. index .. "]"
        where = field .. ": "
      elseif bodies then
        where = "the body for phone_numbers[" .. index .. "]: "
      end
      return nil, errors.invalid_argument(name .. ": " .. where .. message, field)
    end
  end
  local method = bulk.method
  return client:map(phone_numbers, function(task_client, phone_number, index)
    if bulk.body then return task_client[method](task_client, phone_number, bodies and bodies[index] or body) end
    return task_client[method](task_client, phone_number)
  end, options)
end

return map
