-- The byte codecs every layer needs (csrc/codec_lua.c, csrc/codec.c), against
-- the RFCs' vectors.
local codec = require "sinchnumbers.codec"

describe("sinchnumbers.codec", function()
  it("percent-encodes all but the unreserved characters", function()
    assert.equals("%2B12065550100", codec.url_encode("+12065550100"))
    assert.equals("a-b.c_d~e", codec.url_encode("a-b.c_d~e"))
    assert.equals("%20%2F%3F%26%3D%25%00%FF", codec.url_encode(" /?&=%\0\255"))
    assert.equals(3 * 10000, #codec.url_encode(string.rep("/", 10000)))
  end)

  it("checks and encodes an E.164 number for a path", function()
    assert.equals("%2B12065550100", codec.e164_path("+12065550100"))
    assert.equals("%2B46", codec.e164_path("+46"))
    assert.equals("%2B123456789012345", codec.e164_path("+123456789012345"))
    for _, wrong in ipairs{ "+1", "12065550100", "+02065550100", "+1206555010a", "+1234567890123456",
                            "+1 206", "", 12065550100 } do
      assert.is_nil(codec.e164_path(wrong), tostring(wrong))
    end
  end)

  it("encodes base64 as RFC 4648's vectors", function()
    local vectors = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
                      fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }
    for input, expected in pairs(vectors) do
      assert.equals(expected, codec.base64(input))
    end
  end)

  it("computes HMAC-SHA1 as RFC 2202's vectors", function()
    assert.equals("b617318655057264e28bc0b6fb378c8ef146be00",
      codec.hmac_sha1_hex(string.rep("\11", 20), "Hi There"))
    assert.equals("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
      codec.hmac_sha1_hex("Jefe", "what do ya want for nothing?"))
    assert.equals("aa4ae5e15272d00e95705637ce8a3b55ed402112",
      codec.hmac_sha1_hex(string.rep("\170", 80), "Test Using Larger Than Block-Size Key - Hash Key First"))
  end)

  it("compares strings", function()
    assert.is_true(codec.equal("abc", "abc"))
    assert.is_false(codec.equal("abc", "abd"))
    assert.is_false(codec.equal("abc", "abcd"))
    assert.is_true(codec.equal("", ""))
  end)
end)
