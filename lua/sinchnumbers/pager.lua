-- Pagination over listActiveNumbers, in plain Lua on top of the client's
-- list_active_numbers: the caller's filters go out again on every page, with
-- the pageToken of the page before. The last page has nextPageToken "" (or
-- none at all).
--
-- The iterators work with generic for and raise the error object when a page
-- fails; on Lua 5.4 they also return a to-be-closed value, so `break` closes
-- them. all() returns nil, err instead of raising.

local errors = require "sinchnumbers.errors"

local pager = {}

local NO_ITEMS = {}

-- A copy of the caller's filters that we may add pageToken to.
local function page_params(params)
  if params == nil then return {} end
  if type(params) ~= "table" then return params end -- list_active_numbers says what is wrong
  local copy = {}
  -- Raw, as list_active_numbers reads it: no metamethod of the caller's runs here.
  for name, value in next, params do copy[name] = value end
  return copy
end

-- Where a walk over the pages is: the filters to send, and every page token
-- used so far.
local function new_walk(params)
  local walk = { params = page_params(params), seen = {}, pages = 0 }
  if type(walk.params) == "table" and type(walk.params.pageToken) == "string" then
    walk.seen[walk.params.pageToken] = true
  end
  return walk
end

-- Points the walk at the page after `page`: true, or false when `page` was
-- the last, or nil, err when the service hands out a token it gave before
-- (following it would go round the same pages for ever).
local function advance(walk, page)
  walk.pages = walk.pages + 1
  local token = page.nextPageToken
  if type(token) ~= "string" or token == "" then return false end
  if walk.seen[token] then
    return nil, errors.new("decode", ("list_active_numbers: page %d gave a nextPageToken (%q) that an"
      .. " earlier page gave already: stopping, as following it would go round for ever"):format(walk.pages, token))
  end
  walk.seen[token] = true
  walk.params.pageToken = token
  return true
end

local function items_of(page)
  local items = page.activeNumbers
  if type(items) ~= "table" then return NO_ITEMS end -- absent or null: an empty page
  return items
end

local function closer(state)
  return setmetatable({}, { __close = function() state.done = true end })
end

function pager.pages(client, params)
  local state = new_walk(params)
  state.done = false
  local function next_page()
    if state.failure then
      local failure = state.failure
      state.failure, state.done = nil, true
      error(failure)
    end
    if state.done then return nil end
    local page, err = client:list_active_numbers(state.params)
    if not page then
      state.done = true
      error(err)
    end
    local more, loop = advance(state, page)
    -- This page is good; the loop is the next one's problem.
    state.done, state.failure = not more, loop
    return page
  end
  return next_page, nil, nil, closer(state)
end

function pager.each(client, params)
  local next_page, _, _, closing = pager.pages(client, params)
  local items, index = NO_ITEMS, 0
  local function next_item()
    while true do
      index = index + 1
      local item = items[index]
      if item ~= nil then return item end
      local page = next_page()
      if not page then return nil end
      items, index = items_of(page), 0
    end
  end
  return next_item, nil, nil, closing
end

function pager.all(client, params, limit)
  if limit ~= nil and (type(limit) ~= "number" or limit < 1 or limit ~= math.floor(limit)) then
    return nil, errors.invalid_argument(
      "all_active_numbers: limit must be a whole number of at least 1, or nil for all", "limit")
  end
  local numbers, count = {}, 0
  local walk = new_walk(params)
  while true do
    local page, err = client:list_active_numbers(walk.params)
    if not page then return nil, err end
    for _, number in ipairs(items_of(page)) do
      count = count + 1
      numbers[count] = number
      if count == limit then return numbers end
    end
    local more, loop = advance(walk, page)
    if not more then
      if loop then return nil, loop end
      return numbers
    end
  end
end

return pager
