-- The rate budget as the server saw it: reads bench/many.conf's log of the
-- requests under /rate ("<ms since the epoch when logged> <seconds it took>
-- <method> <path>" each) and prints
--   rate\t<rate_limit>\t<requests>\t<most in one second of the run>\t<most in any 0.99 s>\t<seconds>
-- The seconds of the run start at the first request's arrival. The window
-- slides over every arrival; it is 10 ms short of a second because a
-- request reaches the server a few milliseconds after the client counted
-- it as started, by a margin that varies: a full second from inside one
-- burst would take in the first requests of the next one. lua5.4 bench/many_rate.lua LOG RATE_LIMIT
local log, rate_limit = arg[1], tonumber(arg[2] or "")
assert(log and rate_limit, "usage: bench/many_rate.lua LOG RATE_LIMIT")
local arrivals = {}
for line in io.lines(log) do
  local logged, took = line:match("^(%d+%.%d+) (%d+%.%d+) ")
  if logged then arrivals[#arrivals + 1] = tonumber(logged) - tonumber(took) end
end
assert(#arrivals > 0, "no request in " .. arg[1])
table.sort(arrivals)

local first = arrivals[1]
local per_second, busiest_second = {}, 0
for _, at in ipairs(arrivals) do
  local second = math.floor(at - first)
  per_second[second] = (per_second[second] or 0) + 1
  busiest_second = math.max(busiest_second, per_second[second])
end
-- Two ends walking the sorted arrivals: those in [arrivals[from], that + WINDOW).
local WINDOW = 0.99
local busiest_window, to = 0, 1
for from = 1, #arrivals do
  while to <= #arrivals and arrivals[to] < arrivals[from] + WINDOW do to = to + 1 end
  busiest_window = math.max(busiest_window, to - from)
end
print(("rate\t%d\t%d\t%d\t%d\t%.3f"):format(rate_limit, #arrivals, busiest_second, busiest_window,
  arrivals[#arrivals] - first))
