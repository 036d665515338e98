-- Authentication against the fake: OAuth2 client credentials (token fetched,
-- cached, refreshed before it expires and on a 401 that says "expired"),
-- Basic auth, failures of the token endpoint, and no secret anywhere.
local helper = require "support.client_helper"
local sinchnumbers = require "sinchnumbers"
local codec = require "sinchnumbers.codec"
local socket = require "socket"

local EXPIRED = 'Bearer realm="sinch", error="invalid_token", error_description="expired"'

-- Every string in an error object, and its one-line form.
local function error_text(err)
  local parts = { tostring(err) }
  for _, value in pairs(err) do parts[#parts + 1] = tostring(value) end
  return table.concat(parts, "\n")
end

local function assert_no_secret(text, token)
  assert.is_nil(text:find(helper.KEY_SECRET, 1, true))
  assert.is_nil(text:find(codec.base64(helper.KEY_ID .. ":" .. helper.KEY_SECRET), 1, true))
  if token then assert.is_nil(text:find(token, 1, true)) end
end

describe("authentication", function()
  local server = helper.with_fake()

  describe("OAuth2 (the default)", function()
    it("fetches a token with Basic key id:secret and grant_type=client_credentials", function()
      local client = helper.client(server)
      assert(client:list_available_regions())
      local requests = server:requests()
      assert.equal(2, #requests)
      local token_request, api_request = requests[1], requests[2]
      assert.equal("POST", token_request.method)
      assert.equal("/oauth2/token", token_request.path)
      -- The fake masks credentials in its log; it checked them, and gave a token.
      assert.matches("^Basic masked:%x+$", token_request.headers["authorization"])
      assert.equal("application/x-www-form-urlencoded", token_request.headers["content-type"])
      assert.equal("grant_type=client_credentials", token_request.body)
      assert.matches("^Bearer %S+$", api_request.headers["authorization"])
    end)

    it("reuses the cached token", function()
      local client = helper.client(server)
      for _ = 1, 5 do assert(client:list_available_regions()) end
      assert.equal(1, #helper.token_requests(server))
      local requests = helper.api_requests(server)
      assert.equal(5, #requests)
      for _, request in ipairs(requests) do
        assert.equal(requests[1].headers["authorization"], request.headers["authorization"])
      end
    end)

    it("caches in a token_cache like ngx.shared.DICT, for 60 s less than the token lives", function()
      local stored = {}
      local cache = {
        get = function(_, key) return stored[key] and stored[key].value end,
        set = function(_, key, value, ttl)
          stored[key] = value ~= nil and { value = value, ttl = ttl } or nil
          return true
        end,
      }
      local first = helper.client(server, { token_cache = cache })
      local second = helper.client(server, { token_cache = cache })
      assert(first:list_available_regions())
      assert(second:list_available_regions())
      assert.equal(1, #helper.token_requests(server))
      local key, entry = next(stored)
      assert.equal(3600 - 60, entry.ttl)
      assert.is_nil(key:find(helper.KEY_SECRET, 1, true))
    end)

    it("waits for the token another worker is fetching when the cache can lock (add)", function()
      local stored = {}
      local cache = {
        get = function(_, key) return stored[key] end,
        set = function(_, key, value) stored[key] = value; return true end,
        add = function(_, key, value)
          if stored[key] ~= nil then return false, "exists" end
          stored[key] = value
          return true
        end,
      }
      -- Another worker got a token and holds the lock for the next one.
      assert(helper.client(server, { token_cache = cache }):list_available_regions())
      local token_key, token = next(stored)
      stored[token_key], stored[token_key .. ":lock"] = nil, true
      local pauses = 0
      local client = helper.client(server, {
        token_cache = cache,
        sleep = function()
          pauses = pauses + 1
          if pauses == 2 then stored[token_key] = token end -- its token arrives
        end,
      })
      local used = helper.api_requests(server)[1].headers["authorization"]
      server:clear_requests()
      assert(client:list_available_regions())
      assert.equal(2, pauses)
      assert.equal(0, #helper.token_requests(server))
      assert.equal(used, helper.api_requests(server)[1].headers["authorization"], "the other worker's token")
    end)

    it("fetches a new token when the service says the old one expired, and retries once", function()
      local client = helper.client(server)
      assert(client:list_available_regions())
      server:expire_tokens()
      server:clear_requests()
      local regions, err = client:list_available_regions()
      assert.is_nil(err)
      assert.is_table(regions.availableRegions)
      local requests = server:requests()
      assert.equal(3, #requests)
      assert.equal("/v1/projects/test-project/availableRegions", requests[1].path)
      assert.equal("/oauth2/token", requests[2].path)
      assert.equal("/v1/projects/test-project/availableRegions", requests[3].path)
      assert.are_not.equal(requests[1].headers["authorization"], requests[3].headers["authorization"])
    end)

    it("refreshes only once: a second 'expired' is an auth error", function()
      local client = helper.client(server)
      server:script { path = "availableRegions", count = 2, status = 401, headers = { ["WWW-Authenticate"] = EXPIRED } }
      local regions, err = client:list_available_regions()
      assert.is_nil(regions)
      assert.equal("auth", err.kind)
      assert.equal(401, err.status)
      assert.equal(2, err.attempts)
      assert.equal(2, #helper.token_requests(server))
      assert.equal(2, #helper.api_requests(server))
    end)

    it("does not refresh on a 401 that is not about expiry", function()
      local client = helper.client(server)
      server:script { path = "availableRegions", status = 401,
        headers = { ["WWW-Authenticate"] = 'Bearer realm="sinch", error="invalid_token"' } }
      local _, err = client:list_available_regions()
      assert.equal("auth", err.kind)
      assert.equal(1, err.attempts)
      assert.equal(1, #helper.token_requests(server))
    end)

    it("refreshes the token 60 s before it expires", function()
      -- Tokens of 61 s are fetched again after 1 s.
      local short_lived = helper.start_fake { token_ttl = 61 }
      local ok, problem = pcall(function()
        local client = helper.client(short_lived)
        assert(client:list_available_regions())
        assert(client:list_available_regions())
        assert.equal(1, #helper.token_requests(short_lived))
        socket.sleep(1.1)
        assert(client:list_available_regions())
        assert.equal(2, #helper.token_requests(short_lived))
        assert.same({}, helper.requests_to(short_lived, nil, "_fake"))
      end)
      short_lived:stop()
      assert(ok, problem)
    end)

    it("a refused key gives kind auth with the token endpoint's error_description, and no secret", function()
      local client = helper.client(server, { key_secret = "wrong-secret" })
      local result, err = client:get_active_number("+12065550100")
      assert.is_nil(result)
      assert.equal("auth", err.kind)
      assert.equal(401, err.status)
      assert.equal("invalid_client", err.code)
      assert.matches("client authentication failed", err.message)
      assert.equal("POST", err.method)
      assert.equal(server.url .. "/oauth2/token", err.url)
      assert.equal(0, #helper.api_requests(server))
      local text = error_text(err)
      assert.is_nil(text:find("wrong-secret", 1, true))
      assert.is_nil(text:find(codec.base64(helper.KEY_ID .. ":wrong-secret"), 1, true))
    end)

    it("tries the token endpoint again when it is unavailable", function()
      local client = helper.client(server)
      server:script { path = "/oauth2/token", status = 503 }
      assert(client:list_available_regions())
      assert.equal(2, #helper.token_requests(server))
    end)

    it("a token endpoint that keeps failing is kind auth, with attempts", function()
      local client = helper.client(server, { max_retries = 1 })
      server:script { path = "/oauth2/token", status = 503, count = 5 }
      local _, err = client:list_available_regions()
      assert.equal("auth", err.kind)
      assert.equal(503, err.status)
      assert.equal(2, err.attempts)
      assert.is_true(err.retryable)
      assert.equal("could not get an access token; nothing was sent", err.hint)
      assert.matches("^sinchnumbers: auth: HTTP 503 UNAVAILABLE: .-; could not get an access token; nothing was sent",
        tostring(err))
    end)

    it("a token answer without access_token is kind auth", function()
      local client = helper.client(server)
      server:script { path = "/oauth2/token", status = 200, body = { token_type = "bearer" } }
      local _, err = client:list_available_regions()
      assert.equal("auth", err.kind)
      assert.matches("access_token", err.message)
    end)

    it("a token holding CR/LF is kind auth, sends nothing, and is not kept: the next call gets a new one", function()
      local client = helper.client(server)
      server:script { path = "/oauth2/token", status = 200,
        body = { access_token = "fake-token\r\nX-Injected: 1", expires_in = 3600, token_type = "bearer" } }
      local _, err = client:list_available_regions()
      assert.equal("auth", err.kind)
      assert.matches("cannot be sent in a header", err.message)
      assert.is_false(err.sent)
      assert.is_nil(tostring(err):find("X-Injected", 1, true), "the token is not quoted")
      assert.equal(0, #helper.api_requests(server))
      assert(client:list_available_regions())
      assert.equal(2, #helper.token_requests(server))
    end)
  end)

  describe("Basic", function()
    it("sends key id and secret on every request and never asks for a token", function()
      local client = helper.client(server, { auth = "basic" })
      assert(client:list_available_regions())
      assert(client:get_callback_configuration())
      local requests = server:requests()
      assert.equal(2, #requests)
      for _, request in ipairs(requests) do
        assert.matches("^Basic masked:%x+$", request.headers["authorization"])
        assert.equal(requests[1].headers["authorization"], request.headers["authorization"])
      end
    end)

    it("a wrong secret is kind auth, and the error holds no secret", function()
      local client = helper.client(server, { auth = "basic", key_secret = "wrong-secret" })
      local _, err = client:list_available_regions()
      assert.equal("auth", err.kind)
      assert.equal(401, err.status)
      assert.is_nil(error_text(err):find("wrong-secret", 1, true))
    end)

    it("does not retry on 401 even when it says expired", function()
      local client = helper.client(server, { auth = "basic" })
      server:script { path = "availableRegions", status = 401, headers = { ["WWW-Authenticate"] = EXPIRED } }
      local _, err = client:list_available_regions()
      assert.equal("auth", err.kind)
      assert.equal(1, err.attempts)
    end)
  end)

  describe("secrets", function()
    -- A client, and a function that gives the token it got: the fake's log
    -- masks credentials, so the token is read from a token cache that keeps it.
    local function client_keeping_token()
      local stored = {}
      local cache = {
        get = function(_, key) return stored[key] end,
        set = function(_, key, value) stored[key] = value; return true end,
      }
      return helper.client(server, { token_cache = cache }), function()
        local _, token = next(stored)
        return assert(token)
      end
    end

    it("tostring(client) shows the project id and base URL, never a secret", function()
      local client, token_of = client_keeping_token()
      assert(client:list_available_regions())
      local token = token_of()
      local text = tostring(client)
      assert.equal("sinchnumbers client (project test-project, " .. server.url .. ")", text)
      assert_no_secret(text, token)
    end)

    it("no field of the client holds a secret or a token", function()
      local client, token_of = client_keeping_token()
      assert(client:list_available_regions())
      local token = token_of()
      local seen = {}
      local function walk(value)
        if type(value) ~= "table" or seen[value] then return end
        seen[value] = true
        for k, v in pairs(value) do
          assert_no_secret(tostring(k), token)
          assert_no_secret(tostring(v), token)
          walk(k)
          walk(v)
        end
      end
      walk(client)
    end)

    it("errors from the API hold no token", function()
      local client, token_of = client_keeping_token()
      local _, err = client:get_active_number("+12065550100")
      assert.equal("not_found", err.kind)
      local token = token_of()
      assert_no_secret(error_text(err), token)
    end)

    it("an invalid option never echoes the key secret", function()
      local _, err = sinchnumbers.new { project_id = "p", key_id = "k", key_secret = { helper.KEY_SECRET } }
      assert.equal("invalid_argument", err.kind)
      assert_no_secret(error_text(err))
    end)
  end)
end)
