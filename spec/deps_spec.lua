-- tools/deps.sh: each make target asks for the Debian packages it needs and no
-- more, and installing never starts, stops or restarts a service. dpkg is
-- pointed at an empty database (DPKG_ADMINDIR), so every package is missing;
-- apt-get and the service tools are stand-ins on PATH that only log their calls.
local function run(command)
  local pipe = io.popen(command .. " 2>&1; echo \"exit=$?\"")
  local output = pipe:read("*a")
  pipe:close()
  return output, tonumber(output:match("exit=(%d+)%s*$"))
end

local function temporary_directory()
  return (run("mktemp -d"):match("^(%S+)"))
end

local function set_of(words)
  local set = {}
  for word in words:gmatch("%S+") do set[word] = true end
  return set
end

describe("tools/deps.sh", function()
  local dir

  setup(function()
    dir = temporary_directory()
    run("mkdir -p " .. dir .. "/dpkg " .. dir .. "/bin && : > " .. dir .. "/dpkg/status")
  end)

  teardown(function()
    run("rm -rf " .. dir)
  end)

  local function env()
    return "DPKG_ADMINDIR=" .. dir .. "/dpkg PATH=" .. dir .. "/bin:$PATH "
  end

  -- The packages the profile asks for, from the command it prints.
  local function packages(profile)
    local output, status = run(env() .. "sh tools/deps.sh --print " .. profile)
    assert.equal(1, status, output)
    local command = assert(output:match("\n  (sudo apt%-get update && sudo apt%-get install %-y [^\n]+)"), output)
    return set_of(command:match("install %-y (.*)$"))
  end

  local TEST_ONLY = { "valgrind", "clang", "nginx", "libnginx-mod-http-lua", "lua-busted", "lua-check",
    "luarocks", "lua5.1", "luajit2", "lua-curl", "lua-argparse" }

  it("asks for only what make demo needs", function()
    local demo = packages("demo")
    for _, needed in ipairs { "gcc", "pkg-config", "libcurl4-openssl-dev", "lua5.4", "liblua5.4-dev",
                              "lua-cjson", "lua-socket" } do
      assert.is_true(demo[needed], needed)
    end
    for _, extra in ipairs(TEST_ONLY) do assert.is_nil(demo[extra], extra) end
    assert.is_nil(demo["lua-ldoc"])
  end)

  it("asks for only LDoc, its Markdown and the Lua of the link check for make docs", function()
    assert.same({ ["lua-ldoc"] = true, ["lua-discount"] = true, ["lua5.4"] = true }, packages("docs"))
  end)

  it("asks for everything else for make test, and the demo's and the docs' packages too", function()
    local test = packages("test")
    for _, profile in ipairs { "demo", "docs" } do
      for name in pairs(packages(profile)) do assert.is_true(test[name], name) end
    end
    for _, name in ipairs(TEST_ONLY) do assert.is_true(test[name], name) end
  end)

  it("is what make demo, docs, examples, test and bench ask for", function()
    for target, profile in pairs { demo = "demo", docs = "docs", examples = "demo", test = "test", bench = "bench" } do
      local output = run("make -n " .. target)
      assert.truthy(output:find("sh tools/deps.sh " .. profile .. "\n", 1, true), target .. ": " .. output)
    end
  end)

  it("refuses an unknown profile and says which there are", function()
    local output, status = run("sh tools/deps.sh everything")
    assert.equal(2, status)
    assert.truthy(output:find("demo|docs|test|bench", 1, true))
  end)

  -- Without root the script only prints the command, as above.
  local as_root = run("id -u"):match("^0%s") and it or pending
  as_root("installs as root with no service started, stopped or restarted", function()
    local log = dir .. "/calls.log"
    local policy_before = run("ls /usr/sbin/policy-rc.d 2>/dev/null")
    -- apt-get logs how policy-rc.d answers "may nginx start?" while it runs:
    -- 101 means forbidden.
    for _, tool in ipairs { "apt-get", "service", "systemctl", "invoke-rc.d" } do
      local script = dir .. "/bin/" .. tool
      local file = assert(io.open(script, "w"))
      if tool == "apt-get" then
        file:write("#!/bin/sh\n/usr/sbin/policy-rc.d nginx start >/dev/null 2>&1\n",
          "echo \"apt-get $* (nginx start: $?)\" >> ", log, "\n")
      else
        file:write("#!/bin/sh\necho \"", tool, " $*\" >> ", log, "\n")
      end
      file:close()
      run("chmod +x " .. script)
    end
    local output, status = run(env() .. "sh tools/deps.sh test")
    assert.equal(0, status, output)
    local file = assert(io.open(log))
    local calls = file:read("*a")
    file:close()
    assert.truthy(calls:find("apt-get install -y -q --no-install-recommends ", 1, true), calls)
    assert.truthy(calls:find("nginx", 1, true))
    for line in calls:gmatch("[^\n]+") do
      assert.truthy(line:match("^apt%-get .*%(nginx start: 101%)$"), "a call with service starts allowed: " .. line)
    end
    assert.equal(policy_before, run("ls /usr/sbin/policy-rc.d 2>/dev/null"))
  end)
end)
