-- Webhook signatures and events. The expected digests come from the openssl
-- command line, not from the code under test.
local sinchnumbers_webhooks = require "sinchnumbers.webhooks"

local function openssl_hmac_sha1(key, body)
  local path = os.tmpname()
  local file = assert(io.open(path, "wb"))
  file:write(body)
  file:close()
  local pipe = assert(io.popen(("openssl dgst -sha1 -hmac '%s' < %s"):format(key, path)))
  local digest = pipe:read("*a"):match("(%x+)%s*$")
  pipe:close()
  os.remove(path)
  return digest
end

describe("webhooks.verify_signature", function()
  local verify = sinchnumbers_webhooks.verify_signature
  local body = '{"eventId":"01h","timestamp":"2026-11-27T10:15:30.125","eventType":"PROVISIONING_TO_SMS_PLATFORM"}'
  local secret = "my-hmac-secret"
  local signature

  setup(function()
    signature = openssl_hmac_sha1(secret, body)
    assert.equals(40, #signature)
  end)

  it("accepts the signature Sinch would send", function()
    assert.is_true(verify(body, signature, secret))
  end)

  it("ignores white space around the header value and the case of the hex digits", function()
    assert.is_true(verify(body, "  " .. signature .. "\r\n", secret))
    assert.is_true(verify(body, signature:upper(), secret))
  end)

  it("refuses a changed body, a wrong secret, a cut or a missing signature", function()
    local cases = {
      { body .. " ", signature, secret },
      { body, signature, secret .. "x" },
      { body, signature:sub(1, 39), secret },
      { body, signature .. "0", secret },
      { body, "", secret },
      { body, nil, secret },
    }
    for i, case in ipairs(cases) do
      local ok, err = verify(case[1], case[2], case[3])
      assert.is_false(ok, "case " .. i)
      assert.equals("auth", err.kind, "case " .. i)
      assert.matches("^sinchnumbers: auth:", tostring(err))
    end
  end)

  it("says which argument is wrong, and never raises", function()
    for _, case in ipairs{ { nil, signature, secret, "raw_body" }, { body, signature, "", "hmac_secret" },
                           { body, signature, nil, "hmac_secret" }, { body, 42, secret, "signature" } } do
      local ok, err = verify(case[1], case[2], case[3])
      assert.is_false(ok)
      assert.equals("invalid_argument", err.kind)
      assert.equals(case[4], err.field)
    end
  end)

  it("refuses a header longer than any real signature at once, and trims long white space in linear time", function()
    local padding = string.rep(" ", 32000)
    local started = os.clock()
    local ok, err = verify(body, padding .. signature .. padding, secret)
    assert.is_false(ok)
    assert.equals("auth", err.kind)
    assert.matches("longer than any real signature", err.message)
    ok, err = verify(body, signature .. padding .. "x", secret)
    assert.is_false(ok)
    assert.equals("auth", err.kind)
    -- Each of these took seconds of CPU when the header was trimmed with a pattern.
    assert.is_true(os.clock() - started < 0.5, "took " .. (os.clock() - started) .. " s of CPU")
    assert.is_true(verify(body, string.rep(" ", 40) .. signature .. string.rep("\t", 40), secret))
  end)

  it("does not put the secret or the expected digest in its errors", function()
    local _, err = verify(body, string.rep("0", 40), secret)
    assert.is_nil(tostring(err):find(secret, 1, true))
    assert.is_nil(tostring(err):find(signature, 1, true))
  end)
end)

describe("webhooks.verify_request", function()
  local body, secret = '{"eventId":"x"}', "s3cret"

  it("finds X-Sinch-Signature whatever its case", function()
    local signature = openssl_hmac_sha1(secret, body)
    for _, name in ipairs{ "X-Sinch-Signature", "x-sinch-signature", "X-SINCH-SIGNATURE" } do
      assert.is_true(sinchnumbers_webhooks.verify_request({ [name] = signature, ["Content-Type"] = "application/json" },
        body, secret))
    end
  end)

  it("refuses a request without the header, or with it twice", function()
    local signature = openssl_hmac_sha1(secret, body)
    local ok, err = sinchnumbers_webhooks.verify_request({ ["Content-Type"] = "application/json" }, body, secret)
    assert.is_false(ok)
    assert.matches("no X%-Sinch%-Signature", err.message)
    ok, err = sinchnumbers_webhooks.verify_request({ ["x-sinch-signature"] = { signature, signature } }, body, secret)
    assert.is_false(ok)
    assert.matches("more than one", err.message)
    ok, err = sinchnumbers_webhooks.verify_request("X-Sinch-Signature: " .. signature, body, secret)
    assert.is_false(ok)
    assert.equals("invalid_argument", err.kind)
  end)
end)

describe("webhooks.parse_event", function()
  it("reads the zone-less timestamp as UTC and adds the unix time", function()
    local event = assert(sinchnumbers_webhooks.parse_event(
      '{"eventId":"e1","timestamp":"2024-02-29T23:59:59.250","projectId":"p","resourceId":"+12065550100",'
      .. '"resourceType":"ACTIVE_NUMBER","eventType":"PROVISIONING_TO_VOICE_PLATFORM","status":"SUCCEEDED",'
      .. '"failureCode":null}'))
    assert.equals(1709251199.25, event.unix_time)
    assert.equals("e1", event.eventId)
    assert.equals("+12065550100", event.resourceId)
    assert.equals("SUCCEEDED", event.status)
  end)

  it("reads a number-order event: resourceType NUMBER_ORDER, eventType NUMBER_ORDER_PROCESSING", function()
    for _, status in ipairs { "IN_REVIEW", "BLOCKED", "COMPLETED", "REJECTED", "EXPIRED" } do
      local event = assert(sinchnumbers_webhooks.parse_event(
        '{"eventId":"e2","timestamp":"2026-12-01T10:00:00","projectId":"p","resourceId":"order-1",'
        .. '"resourceType":"NUMBER_ORDER","eventType":"NUMBER_ORDER_PROCESSING","status":"' .. status .. '",'
        .. '"failureCode":null}'))
      assert.equals("NUMBER_ORDER", event.resourceType)
      assert.equals("order-1", event.resourceId)
      assert.equals("NUMBER_ORDER_PROCESSING", event.eventType)
      assert.equals(status, event.status)
      assert.equals(1796119200, event.unix_time)
    end
  end)

  it("keeps resource types, event types, statuses and fields it does not know as they are", function()
    local event = assert(sinchnumbers_webhooks.parse_event(
      '{"eventId":"e3","timestamp":"2026-12-01T10:00:00","resourceType":"BRAND_NEW_RESOURCE",'
      .. '"eventType":"SOMETHING_SINCH_ADDS_LATER","status":"HALFWAY","extra":{"nested":[1,2]}}'))
    assert.equals("BRAND_NEW_RESOURCE", event.resourceType)
    assert.equals("SOMETHING_SINCH_ADDS_LATER", event.eventType)
    assert.equals("HALFWAY", event.status)
    assert.same({ nested = { 1, 2 } }, event.extra)
  end)

  it("agrees with the system's own UTC clock", function()
    local pipe = assert(io.popen("TZ=UTC date -d '1999-12-31 23:00:00' +%s"))
    local expected = tonumber(pipe:read("*a"))
    pipe:close()
    assert.equals(expected, sinchnumbers_webhooks.unix_time("1999-12-31T23:00:00"))
    assert.equals(0, sinchnumbers_webhooks.unix_time("1970-01-01T00:00:00Z"))
    assert.equals(0, sinchnumbers_webhooks.unix_time("1970-01-01T02:00:00+02:00"))
    assert.equals(951782400, sinchnumbers_webhooks.unix_time("2000-02-29T00:00:00"))
  end)

  it("refuses what is not an event", function()
    for _, raw in ipairs{ "not json", "[1,2]", '"text"', '{"timestamp":"2026-13-01T00:00:00"}',
                          '{"timestamp":"2023-02-29T00:00:00"}', '{"timestamp":"2024-02-29T00:00:00x"}',
                          '{"timestamp":"yesterday"}', '{"timestamp":"2026-11-27T10:15:305"}',
                          '{"timestamp":"2026-11-27T10:15:30."}', '{"timestamp":"2026-11-27T10:15:3099Z"}' } do
      local event, err = sinchnumbers_webhooks.parse_event(raw)
      assert.is_nil(event, raw)
      assert.equals("decode", err.kind, raw)
    end
  end)
end)
