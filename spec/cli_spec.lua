-- The sinchnumbers command, as `make install` puts it into a prefix of its
-- own (support/cli_helper.lua), run against the fake: each command's
-- table, JSON and CSV; the question before money or loss on a terminal
-- (support/pty.lua) and the refusal without one; --yes, --dry-run and
-- --debug; the exit code of each class of failure; profiles; completion;
-- the man page. Every run's output is searched for the key secret.
local cjson = require "cjson"
local cli_helper = require "support.cli_helper"
local fake_helper = require "support.fake_helper"
local files = require "support.files"
local shell = require "support.shell"

local SECRET = cli_helper.SECRET
local RENTABLE = "+12062000803"
local q = shell.quote

describe("the sinchnumbers command", function()
  local server = fake_helper.with_fake()
  local command = cli_helper.installed(server)
  local run, on_terminal, state_changes = command.run, command.on_terminal, command.state_changes

  local function rent_directly(number)
    local status, _, stderr = run("--yes rent " .. number)
    assert.equal(0, status, stderr)
  end

  local ADDRESS = "--name Me --street-number 1 --street Main --city Seattle --state WA --postal-code 98101"

  -- Each command once in each format: its arguments, what to do first, the
  -- table's first header word, and what its JSON document must be.
  local CASES = {
    { "regions --type LOCAL", header = "REGION", json = function(doc) return doc[1].regionCode == "US" end },
    { "search --region US --type LOCAL --limit 3", header = "NUMBER",
      json = function(doc) return #doc == 3 and doc[1].phoneNumber:find("^%+1") end },
    { "available " .. RENTABLE, header = "NUMBER", json = function(doc) return doc.monthlyPrice.amount == "0.80" end },
    { "--yes rent " .. RENTABLE .. " --service-plan plan-1", header = "NUMBER",
      json = function(doc) return doc.smsConfiguration.servicePlanId == "plan-1" end },
    { "--yes rent-any --region US --type LOCAL --pattern +1206", header = "NUMBER",
      json = function(doc) return doc.phoneNumber:find("^%+1206") end },
    { "list --limit 2", before = function() server:add_active_numbers { count = 3 } end, header = "NUMBER",
      json = function(doc) return #doc == 2 end },
    { "show " .. RENTABLE, before = function() rent_directly(RENTABLE) end, header = "NUMBER",
      json = function(doc) return doc.phoneNumber == RENTABLE end },
    { "update " .. RENTABLE .. " --name front-desk", before = function() rent_directly(RENTABLE) end,
      header = "NUMBER", json = function(doc) return doc.displayName == "front-desk" end },
    { "--yes release " .. RENTABLE, before = function() rent_directly(RENTABLE) end, header = "NUMBER",
      json = function(doc) return doc.phoneNumber == RENTABLE end },
    { "callbacks show", header = "PROJECT", json = function(doc) return doc.projectId == "test-project" end },
    { "callbacks set-secret", stdin = "a-new-hmac-secret\n", header = "PROJECT",
      json = function(doc) return doc.projectId == "test-project" end },
    { "emergency validate " .. RENTABLE .. " " .. ADDRESS, before = function() rent_directly(RENTABLE) end,
      header = "FIELD", json = function(doc) return doc.validationResult ~= nil end },
    { "emergency provision " .. RENTABLE .. " " .. ADDRESS, before = function() rent_directly(RENTABLE) end,
      header = "FIELD", json = function(doc) return doc.address.city == "Seattle" end },
    { "emergency show " .. RENTABLE, header = "FIELD", json = function(doc) return doc.displayName == "Me" end,
      before = function()
        rent_directly(RENTABLE)
        assert.equal(0, (run("emergency provision " .. RENTABLE .. " " .. ADDRESS)))
      end },
    { "orders requirements --region DE --type LOCAL", header = "FIELD",
      json = function(doc) return doc.quantityOrdersSupported == true end },
    { "orders create --region DE --type LOCAL --quantity 1", header = "FIELD",
      json = function(doc) return doc.state == "CREATED" end },
  }

  it("shows every command's answer as a table, as one JSON document and as CSV", function()
    for _, case in ipairs(CASES) do
      for _, format in ipairs { "", "--json", "--csv" } do
        server:reset()
        if case.before then case.before() end
        local status, stdout, stderr = run(format .. " " .. case[1], { stdin = case.stdin })
        local what = "sinchnumbers " .. format .. " " .. case[1]
        assert.equal(0, status, what .. ": " .. stderr)
        if format == "--json" then
          local ok, doc = pcall(cjson.decode, stdout)
          assert.is_true(ok, what .. " is not one JSON document: " .. stdout)
          assert.truthy(case.json(doc), what .. ": " .. stdout)
        elseif format == "--csv" then
          assert.truthy(stdout:find("^" .. case.header .. ","), what .. ": " .. stdout)
          assert.truthy(stdout:find("\n[^\n]", 1), what .. " has no row: " .. stdout)
        else
          assert.truthy(stdout:find("^" .. case.header .. "  "), what .. ": " .. stdout)
        end
      end
    end
  end)

  it("leaves the header out with --no-header, and shows no HMAC secret", function()
    local status, stdout = run("--csv --no-header callbacks show")
    assert.equal(0, status)
    assert.equal("test-project,\"(set, not shown)\"\n", stdout)
    assert.is_nil(select(2, run("--json callbacks show")):find("test-hmac-secret", 1, true))
  end)

  it("shows an empty list as [] in JSON", function()
    local status, stdout = run("--json list")
    assert.equal(0, status)
    assert.equal("[]\n", stdout)
  end)

  it("lists the first 50 numbers by default, and every page with --all", function()
    server:add_active_numbers { count = 120 }
    local _, first = run("--json list")
    assert.equal(50, #cjson.decode(first))
    local _, all = run("--json list --all")
    assert.equal(120, #cjson.decode(all))
  end)

  it("asks before renting on a terminal, showing the price; y rents, anything else does not", function()
    local status, screen = on_terminal("rent " .. RENTABLE, { { wait = "[y/N]", send = "n\n" } })
    assert.equal(1, status, screen)
    assert.truthy(screen:find("Rent " .. RENTABLE .. " (US LOCAL): setup 0.00 USD, monthly 0.80 USD, billed every"
      .. " 1 month.", 1, true), screen)
    assert.same({}, state_changes())
    status, screen = on_terminal("rent " .. RENTABLE, { { wait = "[y/N]", send = "y\n" } })
    assert.equal(0, status, screen)
    assert.equal(1, #fake_helper.requests_to(server, "POST", ":rent"))
  end)

  it("asks before releasing, with the number's name and next charge", function()
    rent_directly(RENTABLE)
    assert.equal(0, (run("update " .. RENTABLE .. " --name front-desk")))
    local status, screen = on_terminal("release " .. RENTABLE, { { wait = "[y/N]", send = "y\n" } })
    assert.equal(0, status, screen)
    assert.truthy(screen:find('Release ' .. RENTABLE .. ' "front-desk" (next charge 20', 1, true), screen)
    assert.equal(1, #fake_helper.requests_to(server, "POST", ":release"))
  end)

  it("asks before submitting a number order, with its numbers' prices", function()
    local _, created = run("--json orders create --region DE --type LOCAL --quantity 1")
    local order = cjson.decode(created).idNumberOrder
    local status, screen = on_terminal("orders submit " .. order, { { wait = "[y/N]", send = "y\n" } })
    assert.equal(0, status, screen)
    assert.truthy(screen:find("Submit number order " .. order .. " (DE LOCAL, CREATED)", 1, true), screen)
    assert.truthy(screen:find("monthly 1.00 USD", 1, true), screen)
  end)

  it("refuses rent, rent-any, release and orders submit without a terminal nor --yes: exit 2, nothing sent", function()
    rent_directly(RENTABLE)
    server:clear_requests()
    for _, arguments in ipairs { "rent +12062001927", "rent-any --region US --type LOCAL", "release " .. RENTABLE,
                                 "orders submit fake-order-000001" } do
      local status, stdout, stderr = run(arguments)
      assert.equal(2, status, arguments)
      assert.equal("", stdout)
      assert.truthy(stderr:find("there is no terminal to ask on: pass --yes", 1, true), stderr)
    end
    assert.same({}, fake_helper.api_requests(server))
  end)

  it("--dry-run prints the requests that would change something as curl lines and sends none", function()
    rent_directly(RENTABLE)
    server:clear_requests()
    local status, stdout, stderr = run("--dry-run rent +12062001927 --service-plan plan-1")
    assert.equal(0, status, stderr)
    assert.truthy(stdout:find("^curl %-X POST '[^']+/availableNumbers/%%2B12062001927:rent'"), stdout)
    assert.truthy(stdout:find("-H 'Authorization: [redacted]'", 1, true), stdout)
    assert.truthy(stdout:find([[--data-binary '{"smsConfiguration":{"servicePlanId":"plan-1"}}']], 1, true), stdout)
    status, stdout = run("--dry-run release " .. RENTABLE .. " +12062001927")
    assert.equal(0, status)
    assert.equal(2, select(2, stdout:gsub(":release'", "")), stdout)
    status, stdout = run("--dry-run callbacks set-secret", { stdin = "hmac-secret-never-shown\n" })
    assert.equal(0, status)
    assert.is_nil(stdout:find("hmac-secret-never-shown", 1, true), stdout)
    assert.same({}, state_changes())
  end)

  it("--debug shows each request and answer on stderr, credentials redacted", function()
    local status, stdout, stderr = run("--debug --json show +12062009999")
    assert.equal(4, status)
    assert.equal("", stdout)
    assert.truthy(stderr:find("> POST " .. server.url .. "/oauth2/token", 1, true), stderr)
    assert.truthy(stderr:find("> GET " .. server.url .. "/v1/projects/test-project/activeNumbers/%2B12062009999", 1,
      true), stderr)
    assert.truthy(stderr:find("< HTTP 404", 1, true), stderr)
    assert.truthy(stderr:find("> Authorization: [redacted]", 1, true), stderr)
    assert.truthy(stderr:find('"access_token":[redacted]', 1, true), stderr)
    assert.is_nil(stderr:find("Bearer ", 1, true), stderr)
  end)

  describe("exit codes", function()
    it("2 for bad input, before anything is sent", function()
      local status, _, stderr = run("search --region usa --type LOCAL")
      assert.equal(2, status)
      assert.truthy(stderr:find("regionCode", 1, true), stderr)
      status = run("search --region US --type FIXED")
      assert.equal(2, status)
      status = run("frobnicate")
      assert.equal(2, status)
      assert.same({}, fake_helper.api_requests(server))
    end)

    it("1 for a failed call of no other class", function()
      server:script { path = "availableRegions", status = 400, body = { error = { code = 400,
        message = "bad", status = "INVALID_ARGUMENT" } } }
      assert.equal(1, (run("regions")))
    end)

    it("3 when authentication fails, with the hint", function()
      local status, _, stderr = run("regions", { key_secret = "not-the-secret" })
      assert.equal(3, status)
      assert.truthy(stderr:find("hint: check the key id and secret", 1, true), stderr)
    end)

    it("4 when the number is not found", function()
      assert.equal(4, (run("show +12062009999")))
    end)

    it("5 when rate limited", function()
      server:script { path = "availableRegions", count = 3, status = 429, headers = { ["Retry-After"] = "0" } }
      assert.equal(5, (run("regions")))
    end)

    it("6 on a network failure or a timeout", function()
      local status, _, stderr = run("--base-url http://127.0.0.1:1 --auth-url http://127.0.0.1:1/token regions")
      assert.equal(6, status, stderr)
      server:script { path = "availableRegions", count = 3, delay = 2 }
      status, _, stderr = run("--timeout 0.3 regions")
      assert.equal(6, status, stderr)
      assert.truthy(stderr:find("timeout", 1, true), stderr)
    end)

    it("7 when a rent may have taken effect, saying what is known", function()
      server:script { method = "POST", path = ":rent", fault = "reset_mid_body" }
      local status, _, stderr = run("--yes rent " .. RENTABLE)
      assert.equal(7, status, stderr)
      assert.truthy(stderr:find("it was rented", 1, true), stderr)
    end)
  end)

  describe("credentials", function()
    local function configure(profile, more)
      return run("--base-url " .. q(server.url) .. " --auth-url " .. q(server.url .. "/oauth2/token")
        .. (more or "") .. " configure" .. (profile and " --profile " .. profile or ""),
        { profile_only = true, stdin = "test-project\ntest-key-id\n" .. SECRET .. "\n" })
    end

    it("configure writes a profile only its owner can read, which later commands use", function()
      local status, _, stderr = configure(nil)
      assert.equal(0, status, stderr)
      local _, mode = shell.run("stat -c %a " .. q(command.dir .. "/config/sinchnumbers/profiles"))
      assert.equal("600", mode:match("%d+"))
      local listed, stdout = run("--csv --no-header regions", { profile_only = true })
      assert.equal(0, listed, stdout)
      assert.truthy(stdout:find("^US,"), stdout)
      assert.equal(0, (configure("staging")))
      assert.equal(0, (run("--profile staging regions", { profile_only = true })))
      local missing, _, words = run("--profile nowhere regions", { profile_only = true })
      assert.equal(2, missing)
      assert.truthy(words:find('no profile "nowhere"', 1, true), words)
    end)

    it("refuses a profiles file that others can read, saying how to fix it", function()
      assert.equal(0, (configure(nil)))
      local path = command.dir .. "/config/sinchnumbers/profiles"
      shell.run("chmod 644 " .. q(path))
      local status, _, stderr = run("regions", { profile_only = true })
      assert.equal(2, status)
      assert.truthy(stderr:find("can be read by others (mode 0644)", 1, true), stderr)
      assert.truthy(stderr:find("run chmod 600 " .. path, 1, true), stderr)
      assert.same({}, fake_helper.api_requests(server))
    end)

    it("says which variables to set, or configure, when there are no credentials", function()
      local status, _, stderr = run("regions", { profile_only = true })
      assert.equal(2, status)
      assert.truthy(stderr:find("set SINCH_PROJECT_ID, SINCH_KEY_ID and SINCH_KEY_SECRET", 1, true), stderr)
      assert.truthy(stderr:find("sinchnumbers configure", 1, true), stderr)
    end)

    it("configure on a terminal reads the key secret without echo, even when typed the moment it asks", function()
      -- A slow stty (a loaded machine): echo must be off before the prompt shows.
      local slow = command.dir .. "/slow-bin"
      local real_stty = select(2, shell.run("command -v stty")):match("%S+")
      shell.run("mkdir -p " .. q(slow))
      files.write(slow .. "/stty", "#!/bin/sh\nsleep 0.5\nexec " .. real_stty .. ' "$@"\n')
      shell.run("chmod 755 " .. q(slow .. "/stty"))
      local status, screen = on_terminal("configure --base-url " .. q(server.url), {
        { wait = "Project id: ", send = "test-project\n" },
        { wait = "Key id: ", send = "test-key-id\n" },
        { wait = "Key secret (not shown): ", send = SECRET .. "\n" },
      }, { profile_only = true, path = slow })
      assert.equal(0, status, screen)
      assert.truthy(screen:find("test-key-id", 1, true), screen)
      assert.truthy(select(2, run("--profile default --auth-url " .. q(server.url .. "/oauth2/token") .. " regions",
        { profile_only = true })):find("^REGION"))
    end)
  end)

  it("writes completion scripts for bash, zsh and fish", function()
    for _, shell_name in ipairs { "bash", "zsh", "fish" } do
      local status, stdout = run("completion " .. shell_name)
      assert.equal(0, status)
      assert.truthy(stdout:find("sinchnumbers", 1, true))
      assert.truthy(stdout:find("rent-any", 1, true), shell_name)
    end
    files.write(command.dir .. "/completion.bash", select(2, run("completion bash")))
    local ok, output = shell.run("bash -n " .. q(command.dir .. "/completion.bash"))
    assert.is_true(ok, output)
  end)

  it("prints the library's version, and help on every level", function()
    local status, stdout = run("--version")
    assert.equal(0, status)
    assert.equal("sinchnumbers " .. require("sinchnumbers.version") .. "\n", stdout)
    for _, arguments in ipairs { "--help", "bulk --help", "emergency provision --help", "orders create --help" } do
      local helped, text = run(arguments)
      assert.equal(0, helped, arguments)
      assert.truthy(text:find("^Usage: sinchnumbers"), arguments .. ": " .. text)
    end
  end)

  it("has a man page, installed, that is its help text (tools/man-page.lua)", function()
    local ok, page = shell.run(command.paths .. " " .. shell.interpreter() .. " tools/man-page.lua")
    assert.is_true(ok, page)
    assert.equal(files.read("doc/sinchnumbers.1"), page)
    assert.equal(page, files.read(command.prefix .. "/share/man/man1/sinchnumbers.1"))
  end)
end)
