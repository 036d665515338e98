-- The engine of client:map that runs one task: the items one after the
-- other, with the client's own pipeline. Always usable; the only one on
-- PUC Lua 5.1, which cannot yield across pcall, and with a transport of the
-- caller's own outside nginx. The engine interface is map.lua's.

local sequential = {}

local Engine = {}
Engine.__index = Engine

function sequential.usable()
  return true
end

-- `concurrency` is map's; this engine runs one task whatever it asks.
function sequential.new(pipeline)
  return setmetatable({ concurrency = 1, pipeline = pipeline }, Engine)
end

-- Runs body() once: the one task takes every item in turn.
function Engine.run(_, _, body)
  body()
end

function Engine.close()
end

return sequential
