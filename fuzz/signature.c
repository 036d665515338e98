/*
 * Webhook signature checking: sn_hmac_sha1_hex, sn_equal_constant_time and
 * their Lua functions codec.hmac_sha1_hex and codec.equal, which
 * webhooks.verify_signature runs on every callback body a server receives.
 *
 * Input: the first byte is the key length k; the next k bytes (or fewer, at
 * the end of the input) are the key (the hmacSecret), the rest is the data
 * (the raw body).
 *
 * Properties:
 *   - sn_hmac_sha1_hex succeeds, writes exactly 40 lower-case hex digits (into
 *     a 40-byte heap buffer, so ASan sees any byte more) and gives the same
 *     digits twice;
 *   - they are the hex of OpenSSL's EVP_MAC HMAC-SHA1, called here directly;
 *   - sn_equal_constant_time is 1 for equal bytes at different addresses, 0
 *     when one byte differs (at every position of a short buffer) or the lengths
 *     differ, for the digest and for the raw input;
 *   - codec.hmac_sha1_hex and codec.equal agree, and survive running out of
 *     memory at any allocation (the last input byte % 8 is how many succeed)
 *     without a leak.
 *
 * codec_lua.c is included, not linked, to reach its static Lua functions.
 */
#include "../csrc/codec_lua.c"

#include "fuzz_common.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

static EVP_MAC *hmac;

static void reference_hmac_sha1(const unsigned char *key, size_t key_len,
                                 const unsigned char *msg, size_t msg_len, unsigned char digest[20])
{
    char sha1[] = "SHA1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha1, 0),
        OSSL_PARAM_construct_end(),
    };
    static const unsigned char no_key = 0;
    size_t out_len = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac);
    FUZZ_CHECK(ctx != NULL);
    FUZZ_CHECK(EVP_MAC_init(ctx, key_len ? key : &no_key, key_len, params) == 1);
    FUZZ_CHECK(EVP_MAC_update(ctx, msg, msg_len) == 1);
    FUZZ_CHECK(EVP_MAC_final(ctx, digest, &out_len, 20) == 1);
    FUZZ_CHECK(out_len == 20);
    EVP_MAC_CTX_free(ctx);
}

static void check_equal_function(const unsigned char *bytes, size_t len)
{
    unsigned char *copy = malloc(len + 1);
    FUZZ_CHECK(copy != NULL);
    if (len)
        memcpy(copy, bytes, len);
    FUZZ_CHECK(sn_equal_constant_time(bytes, len, copy, len) == 1);
    FUZZ_CHECK(sn_equal_constant_time(copy, len, bytes, len) == 1);
    /* Every position of a short buffer; 64 spread over a long one, and its last. */
    size_t step = len / 64 + 1;
    for (size_t i = 0; i < len; i = (i + step < len || i == len - 1) ? i + step : len - 1) {
        copy[i] ^= 0x01;
        FUZZ_CHECK(sn_equal_constant_time(bytes, len, copy, len) == 0);
        copy[i] ^= 0x81;
        FUZZ_CHECK(sn_equal_constant_time(bytes, len, copy, len) == 0);
        copy[i] ^= 0x80;
    }
    if (len) {
        FUZZ_CHECK(sn_equal_constant_time(bytes, len, copy, len - 1) == 0);
        FUZZ_CHECK(sn_equal_constant_time(bytes, len - 1, copy, len) == 0);
    }
    copy[len] = 0;
    FUZZ_CHECK(sn_equal_constant_time(bytes, len, copy, len + 1) == 0);
    free(copy);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    FUZZ_CHECK(hmac != NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t key_len = data[0] < size - 1 ? data[0] : size - 1;
    const unsigned char *key = data + 1, *msg = data + 1 + key_len;
    size_t msg_len = size - 1 - key_len;

    /* Heap copies of exactly the given length, so a read past either is seen. */
    unsigned char *key_copy = malloc(key_len ? key_len : 1), *msg_copy = malloc(msg_len ? msg_len : 1);
    char *hex = malloc(40), *again = malloc(40);
    FUZZ_CHECK(key_copy && msg_copy && hex && again);
    memcpy(key_copy, key, key_len);
    memcpy(msg_copy, msg, msg_len);

    FUZZ_CHECK(sn_hmac_sha1_hex(key_copy, key_len, msg_copy, msg_len, hex) == 1);
    for (int i = 0; i < 40; i++)
        FUZZ_CHECK((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'));
    FUZZ_CHECK(sn_hmac_sha1_hex(key_copy, key_len, msg_copy, msg_len, again) == 1);
    FUZZ_CHECK(memcmp(hex, again, 40) == 0);

    unsigned char digest[20];
    char expected[41];
    reference_hmac_sha1(key_copy, key_len, msg_copy, msg_len, digest);
    for (int i = 0; i < 20; i++)
        snprintf(expected + 2 * i, 3, "%02x", digest[i]);
    FUZZ_CHECK(memcmp(hex, expected, 40) == 0);

    check_equal_function((const unsigned char *)hex, 40);
    check_equal_function(data, size);
    /* The signature a sender of this body would give with another key, or for another body. */
    if (size > 1) {
        FUZZ_CHECK(sn_hmac_sha1_hex(msg_copy, msg_len, key_copy, key_len, again) == 1);
        FUZZ_CHECK(sn_equal_constant_time(hex, 40, again, 40)
                   == (memcmp(hex, again, 40) == 0));
    }

    /* The Lua functions as webhooks.verify_signature calls them. */
    fuzz_alloc a;
    lua_State *L = fuzz_lua_open(&a);
    for (int round = 0; round < 2; round++) {
        long budget = round == 0 ? -1 : (long)(data[size - 1] % 8);
        lua_pushlstring(L, (const char *)key, key_len);
        lua_pushlstring(L, (const char *)msg, msg_len);
        if (fuzz_lua_call(L, &a, codec_hmac_sha1_hex, 2, 1, budget) == LUA_OK) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            FUZZ_CHECK(s && len == 40 && memcmp(s, hex, 40) == 0);
            lua_pushlstring(L, hex, 40);
            if (fuzz_lua_call(L, &a, codec_equal, 2, 1, budget) == LUA_OK) {
                FUZZ_CHECK(lua_isboolean(L, -1) && lua_toboolean(L, -1));
                lua_pop(L, 1);
            }
        }
        lua_pushlstring(L, (const char *)msg, msg_len);
        lua_pushlstring(L, (const char *)data, size);
        if (fuzz_lua_call(L, &a, codec_equal, 2, 1, budget) == LUA_OK) {
            FUZZ_CHECK(lua_isboolean(L, -1) && !lua_toboolean(L, -1)); /* msg is shorter */
            lua_pop(L, 1);
        }
    }
    FUZZ_CHECK(lua_gettop(L) == 0);
    fuzz_lua_close(L, &a);

    free(again);
    free(hex);
    free(msg_copy);
    free(key_copy);
    return 0;
}
