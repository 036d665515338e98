-- Clients made before any request: in init_by_lua, where cosockets do not
-- work (so the client must pick libcurl), and in a 0-delay timer started by
-- init_worker_by_lua, the usual way to do I/O when a worker starts (cosockets
-- work there). cases.early() reports what they found.
local sinchnumbers = require "sinchnumbers"
local cosocket = require "sinchnumbers.transport.ngx"

local early = { results = {} }

local function try_client(fake_url)
  local client = assert(sinchnumbers.new{
    project_id = "test-project", key_id = "test-key-id", key_secret = "test-key-secret",
    base_url = fake_url, auth_url = fake_url .. "/oauth2/token",
  })
  local answer, err = client:list_available_regions()
  return {
    phase = ngx.get_phase(),
    cosockets = cosocket.usable(),
    regions = answer and #answer.availableRegions,
    err = err and tostring(err),
  }
end

-- init_by_lua runs in the master process, before the workers are forked.
function early.init(fake_url)
  early.fake_url = fake_url
  early.results.init = try_client(fake_url)
  -- The libcurl handle and its kept-alive connection go now, or every worker
  -- would inherit the same socket.
  collectgarbage()
  collectgarbage()
end

function early.init_worker()
  assert(ngx.timer.at(0, function(premature)
    if not premature then early.results.timer = try_client(early.fake_url) end
  end))
end

return early
