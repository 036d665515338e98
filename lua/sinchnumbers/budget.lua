-- The rate budget of one client: when the next request may start. Every
-- request of the client asks it before each try (pipeline.lua): sequential
-- calls, map's tasks, retries and token requests alike.
--
-- Two rules, one answer:
--   rate_limit (optional): at most `limit` requests start in any one second.
--     A token bucket of `limit` tokens, each spent token coming back one
--     second after it was spent: kept as the start times of the last `limit`
--     requests, in a ring, so a burst never exceeds it either.
--   the pause: after a 429 nothing starts until the time the service asked
--     for (every task of the client waits, instead of each hammering on its own).

local budget = {}

local Budget = {}
Budget.__index = Budget

-- `limit`: requests per second, or nil for no limit (the pause alone).
function budget.new(limit)
  return setmetatable({ limit = limit, starts = {}, oldest = 1, paused_until = -math.huge }, Budget)
end

-- At `now`: 0 when a request may start now (which then counts as started),
-- else the seconds to wait before asking again, and why ("pause" or "rate").
function Budget:take(now)
  local wait, why = self.paused_until - now, "pause"
  local limit = self.limit
  if limit then
    -- The start `limit` starts ago: its token comes back one second after it.
    local oldest = self.starts[self.oldest]
    if oldest and oldest + 1 - now > wait then wait, why = oldest + 1 - now, "rate" end
  end
  if wait > 0 then return wait, why end
  if limit then
    self.starts[self.oldest] = now
    self.oldest = self.oldest % limit + 1
  end
  return 0
end

-- Nothing starts for `seconds` from `now` (a later pause never shortens one).
function Budget:pause(now, seconds)
  local until_then = now + seconds
  if until_then > self.paused_until then self.paused_until = until_then end
end

return budget
