-- Pagination over listActiveNumbers against the fake, with 250 numbers.
local helper = require "support.client_helper"

local TOTAL = 250

describe("pagination", function()
  local server, new_client = helper.with_fake()
  local client

  before_each(function()
    server:add_active_numbers { count = TOTAL, regionCode = "US", type = "LOCAL" }
    server:add_active_numbers { count = 3, regionCode = "SE", type = "MOBILE" }
    client = new_client { max_retries = 0 }
    server:clear_requests()
  end)

  -- Checks each request carries the filters, and every one after the first
  -- the token of the page before.
  local function assert_filters_on_every_page(expected_pages)
    local requests = helper.api_requests(server)
    assert.equal(expected_pages, #requests)
    for i, request in ipairs(requests) do
      assert.matches("?regionCode=US&type=LOCAL&pageSize=100", request.path, 1, true)
      if i == 1 then
        assert.is_nil(request.path:find("pageToken=", 1, true))
      else
        assert.matches("&pageToken=[^&]+$", request.path)
      end
    end
  end

  it("all_active_numbers gathers every page", function()
    local numbers = assert(client:all_active_numbers { regionCode = "US", type = "LOCAL", pageSize = 100 })
    assert.equal(TOTAL, #numbers)
    local seen = {}
    for _, number in ipairs(numbers) do
      assert.equal("US", number.regionCode)
      assert.is_nil(seen[number.phoneNumber])
      seen[number.phoneNumber] = true
    end
    assert_filters_on_every_page(3)
  end)

  it("all_active_numbers stops at the limit without fetching more pages", function()
    local numbers = assert(client:all_active_numbers({ regionCode = "US", type = "LOCAL", pageSize = 100 }, 150))
    assert.equal(150, #numbers)
    assert_filters_on_every_page(2)
  end)

  it("all_active_numbers with no filter uses the service's page size", function()
    local numbers = assert(client:all_active_numbers())
    assert.equal(TOTAL + 3, #numbers)
  end)

  it("all_active_numbers of an empty project is an empty array", function()
    server:reset()
    assert.same({}, assert(client:all_active_numbers()))
  end)

  it("each_active_number walks every number of every page", function()
    local count, seen = 0, {}
    for number in client:each_active_number { regionCode = "US", type = "LOCAL", pageSize = 100 } do
      count = count + 1
      assert.is_nil(seen[number.phoneNumber])
      seen[number.phoneNumber] = true
    end
    assert.equal(TOTAL, count)
    assert_filters_on_every_page(3)
  end)

  it("active_number_pages gives each page; the last has nextPageToken \"\"", function()
    local sizes, last = {}, nil
    for page in client:active_number_pages { regionCode = "US", type = "LOCAL", pageSize = 100 } do
      sizes[#sizes + 1] = #page.activeNumbers
      last = page
    end
    assert.same({ 100, 100, 50 }, sizes)
    assert.equal("", last.nextPageToken)
    assert_filters_on_every_page(3)
  end)

  it("does not change the caller's params", function()
    local params = { regionCode = "US", type = "LOCAL", pageSize = 100 }
    for _ in client:each_active_number(params) do end
    assert(client:all_active_numbers(params))
    assert.same({ regionCode = "US", type = "LOCAL", pageSize = 100 }, params)
  end)

  it("break stops fetching", function()
    local count = 0
    for _ in client:each_active_number { pageSize = 10 } do
      count = count + 1
      if count == 15 then break end
    end
    assert.equal(2, #helper.api_requests(server))
  end)

  it("an error on a later page is raised as the error object", function()
    server:script { path = "pageToken=", status = 500 }
    local count = 0
    local ok, err = pcall(function()
      for _ in client:each_active_number { regionCode = "US", type = "LOCAL", pageSize = 100 } do
        count = count + 1
      end
    end)
    assert.is_false(ok)
    assert.equal(100, count)
    assert.equal("http", err.kind)
    assert.equal(500, err.status)
    assert.matches("^sinchnumbers: http: HTTP 500", tostring(err))
  end)

  describe("when the service repeats a nextPageToken it gave before", function()
    -- Every page says the next one is "again": followed, it would never end.
    local function loop_pages(count)
      server:script { path = "activeNumbers", count = count or 50,
                      body = { activeNumbers = {}, nextPageToken = "again", totalSize = 0 } }
    end

    it("all_active_numbers returns a decode error after the second page, with a limit too", function()
      loop_pages()
      local numbers, err = client:all_active_numbers({ pageSize = 100 }, 10)
      assert.is_nil(numbers)
      assert.equal("decode", err.kind)
      assert.matches('page 2 gave a nextPageToken %("again"%) that an earlier page gave already', err.message)
      assert.equal(2, #helper.api_requests(server))
    end)

    it("the iterators raise the error after the pages before it, and the caller's own token counts", function()
      loop_pages()
      local pages = 0
      local ok, err = pcall(function()
        for _ in client:active_number_pages { pageSize = 100 } do pages = pages + 1 end
      end)
      assert.is_false(ok)
      assert.equal("decode", err.kind)
      assert.equal(2, pages)
      server:clear_scripts()
      server:clear_requests()
      loop_pages()
      ok, err = pcall(function()
        for _ in client:each_active_number { pageToken = "again" } do end
      end)
      assert.is_false(ok)
      assert.matches("page 1 gave", err.message)
      assert.equal(1, #helper.api_requests(server))
    end)
  end)

  it("all_active_numbers returns nil, err when a page fails", function()
    server:script { path = "pageToken=", status = 404 }
    local numbers, err = client:all_active_numbers { pageSize = 100 }
    assert.is_nil(numbers)
    assert.equal("not_found", err.kind)
  end)

  if _VERSION == "Lua 5.4" then
    it("closes on break under Lua 5.4 (the to-be-closed fourth value)", function()
      local next_page, state, control, closing = client:active_number_pages { pageSize = 10 }
      assert.is_function(getmetatable(closing).__close)
      -- A generic for with a break, in 5.4 syntax the other Luas cannot parse.
      local loop = assert(load([[
        local next_page, state, control, closing = ...
        for _ in next_page, state, control, closing do break end
      ]]))
      loop(next_page, state, control, closing)
      assert.is_nil(next_page())
      assert.equal(1, #helper.api_requests(server))
    end)
  end
end)
