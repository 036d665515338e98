-- The engine of client:map inside nginx: its tasks are light threads
-- (ngx.thread.spawn) of the request or timer that calls map, at most
-- `concurrency` of them. Cosockets and ngx.sleep yield already, so the
-- tasks use the client's own pipeline. The engine interface is map.lua's.

local log = require "sinchnumbers.log"

local tasks_ngx = {}

local Engine = {}
Engine.__index = Engine

-- Where ngx.thread.spawn and cosockets work (the cosocket transport keeps
-- the list of phases).
function tasks_ngx.usable()
  return rawget(_G, "ngx") ~= nil and require("sinchnumbers.transport.ngx").usable()
end

function tasks_ngx.new(pipeline, concurrency)
  return setmetatable({ concurrency = concurrency, pipeline = pipeline }, Engine)
end

-- Spawns `count` light threads running body() and waits for every one of
-- them, so map returns only when every item has ended. A thread that raised
-- (body does not; this guards the others) is logged and the rest go on.
function Engine.run(_, count, body)
  local spawn, wait = ngx.thread.spawn, ngx.thread.wait
  local threads = {}
  for i = 1, count do threads[i] = spawn(body) end
  for _, thread in ipairs(threads) do
    local ok, problem = wait(thread)
    if not ok then log.hook_failed("task of client:map", problem) end
  end
end

function Engine.close()
end

return tasks_ngx
