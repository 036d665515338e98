-- sinchnumbers bulk rent|update|release, installed (support/cli_helper.lua),
-- against the fake: 100 numbers on a terminal with the question, the
-- progress bar and the summary; plain progress lines without one; each
-- number's row in JSON; failures (exit 8), an unclear rent (exit 7), bad
-- numbers (exit 2, nothing sent) and --dry-run.
local cjson = require "cjson"
local cli_helper = require "support.cli_helper"
local fake_helper = require "support.fake_helper"
local files = require "support.files"

-- Can client:map run tasks at once here? Not on PUC Lua 5.1, nor without
-- the libcurl transport's multi mode and its engine (sinchnumbers.tasks.curl);
-- where it cannot, it refuses a concurrency above 1.
local function runs_at_once()
  if _VERSION == "Lua 5.1" and not rawget(_G, "jit") then return false end
  local transport = require("sinchnumbers.transport.curl").new()
  local has_multi = pcall(function() return assert(transport.multi) end)
  transport:close()
  return has_multi and package.searchpath("sinchnumbers.tasks.curl", package.path) ~= nil
end
local CONCURRENT = runs_at_once()
local function concurrency(n)
  return CONCURRENT and " --concurrency " .. n or ""
end

describe("sinchnumbers bulk", function()
  local server = fake_helper.with_fake()
  local command = cli_helper.installed(server)
  local run, on_terminal = command.run, command.on_terminal

  -- The first `count` numbers the fake has to rent (US LOCAL, then MOBILE),
  -- one a line in a file; returns its path and the numbers.
  local function available_file(count)
    local numbers = {}
    for _, number_type in ipairs { "LOCAL", "MOBILE" } do
      local status, stdout, stderr = run("--json search --region US --type " .. number_type .. " --limit 100")
      assert.equal(0, status, stderr)
      for _, number in ipairs(cjson.decode(stdout)) do
        if #numbers < count then numbers[#numbers + 1] = number.phoneNumber end
      end
    end
    assert.equal(count, #numbers)
    local path = command.dir .. "/numbers.txt"
    files.write(path, "# numbers for the spec\n" .. table.concat(numbers, "\n") .. "\n\n")
    return path, numbers
  end

  local function active_file(count)
    local numbers = server:add_active_numbers { count = count }.phoneNumbers
    local path = command.dir .. "/active.txt"
    files.write(path, table.concat(numbers, "\n") .. "\n")
    return path, numbers
  end

  it("rents 100 numbers on a terminal: every price and the totals first, then a progress bar and a summary", function()
    local path = available_file(100)
    local status, screen = on_terminal("bulk rent --from " .. path .. concurrency(8) .. " --service-plan plan-1",
      { { wait = "[y/N]", send = "y\n" } })
    assert.equal(0, status, screen)
    assert.truthy(screen:find("Rent +1206", 1, true), screen)
    assert.truthy(screen:find("... and 90 more", 1, true), screen)
    assert.truthy(screen:find("100 numbers: setup 0.00 USD in all, then 88.00 USD a month.", 1, true), screen)
    assert.truthy(screen:find("%[#+%] 100/100 done, 0 failed, [%d.]+/s, 0:00 left"), screen)
    assert.truthy(screen:find("%[[#.]+%] %d+/100 done"), screen)
    assert.truthy(screen:find("rented 100 of 100 numbers, 0 failed, in", 1, true), screen)
    assert.equal(100, #fake_helper.requests_to(server, "POST", ":rent"))
    for _, request in ipairs(fake_helper.requests_to(server, "POST", ":rent")) do
      assert.equal("plan-1", cjson.decode(request.body).smsConfiguration.servicePlanId)
    end
  end)

  it("answered no, rents nothing", function()
    local path = available_file(3)
    local status = on_terminal("bulk rent --from " .. path, { { wait = "[y/N]", send = "\n" } })
    assert.equal(1, status)
    assert.same({}, command.state_changes())
  end)

  it("updates 100 numbers without a question, with plain progress lines, and each number's row in JSON", function()
    local path, numbers = active_file(100)
    local status, stdout, stderr = run("--json bulk update --from " .. path .. " --name batch --callback-url"
      .. " https://example.com/events")
    assert.equal(0, status, stderr)
    assert.truthy(stderr:find("100/100 done, 0 failed", 1, true), stderr)
    assert.is_nil(stderr:find("\r", 1, true))
    assert.truthy(stderr:find("updated 100 of 100 numbers", 1, true), stderr)
    local rows = cjson.decode(stdout)
    assert.equal(100, #rows)
    for i, row in ipairs(rows) do
      assert.same({ phoneNumber = numbers[i], result = "updated" }, row)
    end
    local _, shown = run("--json show " .. numbers[100])
    assert.equal("batch", cjson.decode(shown).displayName)
  end)

  it("releases from stdin with --yes, and refuses without it where there is no terminal", function()
    local path, numbers = active_file(3)
    local status, _, stderr = run("bulk release --from -", { stdin = files.read(path) })
    assert.equal(2, status)
    assert.truthy(stderr:find("no terminal to ask on (stdin holds the numbers): pass --yes", 1, true), stderr)
    assert.same({}, command.state_changes())
    local released, stdout = run("--csv --yes bulk release --from -", { stdin = files.read(path) })
    assert.equal(0, released)
    assert.equal("NUMBER,RESULT,RENTED,ERROR\n" .. numbers[1] .. ",released,,\n" .. numbers[2] .. ",released,,\n"
      .. numbers[3] .. ",released,,\n", stdout)
  end)

  it("asks before releasing, with each number's name and next charge", function()
    local path, numbers = active_file(2)
    local status, screen = on_terminal("bulk release --from " .. path, { { wait = "[y/N]", send = "y\n" } })
    assert.equal(0, status, screen)
    assert.truthy(screen:find("Release " .. numbers[1] .. " (next charge 20", 1, true), screen)
    assert.truthy(screen:find("2 numbers go back to Sinch", 1, true), screen)
    assert.equal(2, #fake_helper.requests_to(server, "POST", ":release"))
  end)

  it("exits 8 when some fail, with each failure's row", function()
    local path, numbers = available_file(3)
    server:script { method = "POST", path = numbers[2]:sub(2) .. ":rent", status = 400,
      body = { error = { code = 400, message = "no such luck", status = "FAILED_PRECONDITION" } } }
    local status, stdout, stderr = run("--json --yes bulk rent --from " .. path .. concurrency(2))
    assert.equal(8, status, stderr)
    local rows = cjson.decode(stdout)
    assert.equal("rented", rows[1].result)
    assert.equal("failed", rows[2].result)
    assert.equal("no", rows[2].rented)
    assert.truthy(rows[2].error:find("no such luck", 1, true))
    assert.truthy(stderr:find("rented 2 of 3 numbers, 1 failed", 1, true), stderr)
  end)

  it("exits 7 when a rent's outcome is unclear, saying whether it was rented", function()
    local path = available_file(2)
    server:script { method = "POST", path = ":rent", fault = "reset_mid_body" }
    local status, stdout, stderr = run("--csv --no-header --yes bulk rent --from " .. path .. " --concurrency 1")
    assert.equal(7, status, stderr)
    assert.truthy(stdout:find(",failed,yes,", 1, true), stdout)
  end)

  it("refuses a file with a number that is not E.164 before anything is sent: exit 2", function()
    local path = command.dir .. "/bad.txt"
    files.write(path, "+12062000803\n2065550100\n")
    local status, _, stderr = run("--yes bulk rent --from " .. path)
    assert.equal(2, status)
    assert.truthy(stderr:find("phone_numbers[2]", 1, true), stderr)
    assert.same({}, fake_helper.api_requests(server))
    files.write(path, "\n# nothing\n")
    assert.equal(2, (run("--yes bulk rent --from " .. path)))
  end)

  it("says why where a concurrency above 1 cannot be (exit 2, nothing sent), and uses it elsewhere", function()
    local path = available_file(4)
    local status, _, stderr = run("--yes bulk rent --from " .. path .. " --concurrency 4")
    if CONCURRENT then
      assert.equal(0, status, stderr)
    else
      assert.equal(2, status)
      assert.truthy(stderr:find("concurrency = 4 is not possible: ", 1, true), stderr)
      assert.truthy(stderr:find("give concurrency = 1", 1, true), stderr)
      assert.same({}, command.state_changes())
    end
  end)

  it("--dry-run prints a curl line for each number and sends none", function()
    local path = available_file(3)
    server:clear_requests()
    local status, stdout = run("--dry-run bulk rent --from " .. path .. concurrency(4))
    assert.equal(0, status)
    assert.equal(3, select(2, stdout:gsub("curl %-X POST", "")), stdout)
    assert.same({}, command.state_changes())
  end)
end)
