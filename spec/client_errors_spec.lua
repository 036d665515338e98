-- How answers and failures become error objects, and the basics of the retry
-- policy (the full fault matrix has its own spec).
local helper = require "support.client_helper"
local pipeline = require "sinchnumbers.pipeline"

local PHONE = "+12065550100"

describe("errors", function()
  local server, new_client = helper.with_fake()
  local client, waits

  before_each(function()
    local sleep
    waits, sleep = helper.sleep_recorder()
    client = new_client { sleep = sleep }
  end)

  describe("mapping", function()
    it("404 is not_found, with Sinch's code, status, message and details", function()
      local result, err = client:get_active_number(PHONE)
      assert.is_nil(result)
      assert.equal("not_found", err.kind)
      assert.equal(404, err.status)
      assert.equal(404, err.code)
      assert.equal("NOT_FOUND", err.reason)
      assert.matches(PHONE, err.message, 1, true)
      assert.equal("ResourceInfo", err.details[1].type)
      assert.equal("GET", err.method)
      assert.equal(server.url .. helper.path("/activeNumbers/%2B12065550100"), err.url)
      assert.equal(1, err.attempts)
      assert.is_false(err.retryable)
      local line = tostring(err)
      assert.matches("^sinchnumbers: not_found: HTTP 404 NOT_FOUND: ", line)
      assert.is_nil(line:find("\n", 1, true))
    end)

    it("joins with .. on either side as its one line", function()
      local _, err = client:get_active_number(PHONE)
      assert.equal("lookup failed: " .. tostring(err), "lookup failed: " .. err)
      assert.equal(tostring(err) .. " (giving up)", err .. " (giving up)")
      assert.equal(tostring(err) .. tostring(err), err .. err)
    end)

    it("400 from the service is http, with the field violations in details", function()
      server:script { path = "availableNumbers", status = 400, body = { error = {
        code = 400, message = "Invalid argument", status = "INVALID_ARGUMENT",
        details = { { type = "BadRequest", fieldViolations = { { field = "regionCode", description = "bad" } } } },
      } } }
      local _, err = client:list_available_numbers { regionCode = "US", type = "LOCAL" }
      assert.equal("http", err.kind)
      assert.equal(400, err.status)
      -- The service's own words in err.message; the status and reason in theirs, and in the line.
      assert.equal("Invalid argument", err.message)
      assert.is_nil(err.hint)
      assert.equal("sinchnumbers: http: HTTP 400 INVALID_ARGUMENT: Invalid argument (GET " .. err.url .. ")",
        tostring(err))
      assert.equal("INVALID_ARGUMENT", err.reason)
      assert.equal("regionCode", err.details[1].fieldViolations[1].field)
    end)

    it("401 and 403 are auth", function()
      server:script { path = "availableRegions", status = 401 }
      local _, err = client:list_available_regions()
      assert.equal("auth", err.kind)
      server:script { path = "availableRegions", status = 403 }
      _, err = client:list_available_regions()
      assert.equal("auth", err.kind)
      assert.equal(403, err.status)
    end)

    it("429 is rate_limited, with retry_after", function()
      local limited = helper.client(server, { max_retries = 0 })
      server:script { path = "availableRegions", status = 429, headers = { ["Retry-After"] = "7" } }
      local _, err = limited:list_available_regions()
      assert.equal("rate_limited", err.kind)
      assert.equal(7, err.retry_after)
      assert.is_true(err.retryable)
    end)

    it("500 is http", function()
      server:script { path = "availableRegions", status = 500 }
      local _, err = client:list_available_regions()
      assert.equal("http", err.kind)
      assert.equal(500, err.status)
      assert.equal(1, err.attempts)
    end)

    it("a body that is not Sinch JSON still gives a one-line message", function()
      server:script { path = "availableRegions", status = 418, body = "<html>\n<p>I'm a teapot</p>\n</html>" }
      local _, err = client:list_available_regions()
      assert.equal("http", err.kind)
      assert.equal(418, err.status)
      assert.matches("teapot", err.message)
      assert.is_nil(tostring(err):find("\n", 1, true))
    end)

    it("invalid JSON in a 200 answer is decode", function()
      server:script { path = "activeNumbers", fault = "broken_json" }
      local result, err = client:list_active_numbers()
      assert.is_nil(result)
      assert.equal("decode", err.kind)
      assert.equal(200, err.status)
      assert.equal(1, err.attempts)
    end)

    it("JSON that is not an object is decode", function()
      server:script { path = "activeNumbers", body = "123" }
      local _, err = client:list_active_numbers()
      assert.equal("decode", err.kind)
    end)

    it("carries the answer's headers by lower-case name, and its request id", function()
      server:script { path = "activeNumbers", status = 400,
        headers = { ["X-Request-ID"] = "req-7f3a", ["X-Correlation-Id"] = "corr-1", ["X-Extra"] = "yes" } }
      local _, err = client:list_active_numbers()
      assert.equal("req-7f3a", err.headers["x-request-id"])
      assert.equal("yes", err.headers["x-extra"])
      assert.is_nil(err.headers["X-Extra"])
      assert.equal("req-7f3a", err.request_id)
    end)

    it("takes the request id from x-correlation-id, else traceparent, else has none", function()
      local traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
      server:script { path = "activeNumbers", status = 400, headers = { ["X-Correlation-Id"] = "corr-1" } }
      local _, err = client:list_active_numbers()
      assert.equal("corr-1", err.request_id)
      server:script { path = "activeNumbers", status = 400, headers = { traceparent = traceparent } }
      _, err = client:list_active_numbers()
      assert.equal(traceparent, err.request_id)
      _, err = client:get_active_number(PHONE)
      assert.equal("table", type(err.headers))
      assert.is_nil(err.request_id)
    end)

    it("a refused connection is network, with sent == false", function()
      local nowhere = helper.client(server, {
        auth = "basic", base_url = helper.refused_url(), max_retries = 0,
      })
      local _, err = nowhere:list_available_regions()
      assert.equal("network", err.kind)
      assert.is_false(err.sent)
      assert.matches("^sinchnumbers: network: ", tostring(err))
    end)

    it("a slow answer is timeout", function()
      local impatient = helper.client(server, { timeout = 0.3, max_retries = 0 })
      assert(impatient:list_available_regions()) -- the token, before the clock matters
      server:script { path = "availableRegions", delay = 1 }
      local _, err = impatient:list_available_regions()
      assert.equal("timeout", err.kind)
    end)
  end)

  describe("retries", function()
    it("retries a GET on 503 with a jittered backoff and then succeeds", function()
      server:script { path = "availableRegions", status = 503 }
      assert(client:list_available_regions())
      assert.equal(2, #helper.api_requests(server))
      assert.equal(1, #waits)
      assert.is_true(waits[1] >= 0 and waits[1] <= 0.5)
    end)

    it("gives up after max_retries, with attempts counted", function()
      server:script { path = "availableRegions", status = 502, count = 10 }
      local _, err = client:list_available_regions()
      assert.equal("http", err.kind)
      assert.equal(502, err.status)
      assert.equal(3, err.attempts)
      assert.equal(2, #waits)
      assert.is_true(waits[2] <= 1)
      assert.equal(3, #helper.api_requests(server))
    end)

    it("max_retries = 0 turns retries off", function()
      local once = helper.client(server, { max_retries = 0 })
      server:script { path = "availableRegions", status = 503 }
      local _, err = once:list_available_regions()
      assert.equal(1, err.attempts)
    end)

    it("waits as long as Retry-After says", function()
      server:script { path = "availableRegions", status = 429, headers = { ["Retry-After"] = "3" } }
      assert(client:list_available_regions())
      assert.same({ 3 }, waits)
    end)

    it("does not wait for a Retry-After beyond the ceiling: the caller decides", function()
      server:script { path = "availableRegions", status = 503, headers = { ["Retry-After"] = "120" } }
      local _, err = client:list_available_regions()
      assert.equal(1, err.attempts)
      assert.equal(120, err.retry_after)
      assert.same({}, waits)
    end)

    it("reads Retry-After as an HTTP date", function()
      local now = 1445412480 -- Wed, 21 Oct 2015 07:28:00 GMT
      assert.equal(0, pipeline.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now))
      assert.equal(90, pipeline.parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now))
      assert.equal(86400 * 366, pipeline.parse_retry_after("Fri, 21 Oct 2016 07:28:00 GMT", now))
      assert.equal(0, pipeline.parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now))
      assert.is_nil(pipeline.parse_retry_after("soon", now))
      -- A date that no calendar has is no date (the same rule as webhook timestamps).
      assert.is_nil(pipeline.parse_retry_after("Sun, 31 Feb 2015 07:28:00 GMT", now))
      assert.equal(12, pipeline.parse_retry_after(" 12 ", now))
    end)

    it("retries a dropped connection on GET, PATCH and release", function()
      local phone_number = helper.available_number(client)
      assert(client:rent_number(phone_number))
      -- A fresh client for each, so the drop hits a new connection (libcurl
      -- itself sends again once when a reused connection turns out dead).
      local function fresh_client()
        return helper.client(server, { auth = "basic", sleep = function(s) waits[#waits + 1] = s end })
      end
      server:script { path = "activeNumbers/", method = "GET", fault = "drop" }
      assert(fresh_client():get_active_number(phone_number))
      server:script { path = "activeNumbers/", method = "PATCH", fault = "drop" }
      assert(fresh_client():update_active_number(phone_number, { displayName = "x" }))
      server:script { path = ":release", fault = "drop" }
      assert(fresh_client():release_number(phone_number))
      assert.equal(3, #waits)
    end)

    it("does not retry 4xx other than 429", function()
      server:script { path = "availableRegions", status = 400 }
      local _, err = client:list_available_regions()
      assert.equal(1, err.attempts)
      assert.same({}, waits)
    end)
  end)

  describe("renting is never repeated blindly", function()
    it("a 503 on rent is not retried; the number is checked and was not rented", function()
      local phone_number = helper.available_number(client)
      server:script { path = ":rent", status = 503 }
      server:clear_requests()
      local result, err = client:rent_number(phone_number)
      assert.is_nil(result)
      assert.equal("http", err.kind)
      assert.equal(503, err.status)
      assert.equal(1, err.attempts)
      assert.is_false(err.retryable)
      assert.is_false(err.rented)
      assert.matches("not rented, and trying again is safe", err.hint)
      local requests = helper.api_requests(server)
      assert.equal(2, #requests)
      assert.equal("GET", requests[2].method)
      assert.equal(helper.path("/activeNumbers/%2B" .. phone_number:sub(2)), requests[2].path)
    end)

    it("a timeout on rent after the service rented the number says rented = true", function()
      local phone_number = helper.available_number(client)
      local impatient = helper.client(server, { timeout = 0.3 })
      assert(impatient:list_available_regions()) -- the token, before the clock matters
      server:script { path = ":rent", delay = 1 }
      local _, err = impatient:rent_number(phone_number)
      assert.equal("timeout", err.kind)
      assert.equal(1, err.attempts)
      assert.is_true(err.rented)
      assert.matches("it was rented", err.hint)
    end)

    it("when the check fails too, rented is absent and the message says how to check", function()
      local phone_number = helper.available_number(client)
      server:script { path = ":rent", status = 500 }
      server:script { path = "activeNumbers/", status = 500, count = 5 }
      local _, err = client:rent_number(phone_number)
      assert.equal(500, err.status)
      assert.is_nil(err.rented)
      assert.matches("unknown", err.hint)
      assert.matches("get_active_number", err.hint)
    end)

    it("rent is retried when the request never left (connection refused)", function()
      local nowhere = helper.client(server, { auth = "basic", base_url = helper.refused_url() })
      local _, err = nowhere:rent_number(PHONE)
      assert.equal("network", err.kind)
      assert.is_false(err.sent)
      assert.equal(3, err.attempts)
      assert.is_nil(err.rented)
    end)

    it("a 429 on rent_any_number is not retried and says to look before trying again", function()
      server:script { path = ":rentAny", status = 429 }
      local _, err = client:rent_any_number { regionCode = "US", type = "LOCAL" }
      assert.equal("rate_limited", err.kind)
      assert.equal(1, err.attempts)
      assert.same({}, waits)
    end)

    it("a 502 on rent_any_number says it may have taken effect", function()
      server:script { path = ":rentAny", status = 502 }
      local _, err = client:rent_any_number { regionCode = "US", type = "LOCAL" }
      assert.equal(1, err.attempts)
      assert.matches("list_active_numbers", err.hint)
    end)
  end)
end)
