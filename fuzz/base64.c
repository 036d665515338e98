/*
 * sn_base64_encode and codec.base64, which encode "key_id:key_secret" for
 * HTTP Basic auth.
 *
 * Properties:
 *   - the output is exactly SN_BASE64_ENCODED_MAX(len) - 1 characters, i.e.
 *     4 * ceil(len / 3), NUL-terminated, in a buffer of exactly
 *     SN_BASE64_ENCODED_MAX(len) bytes (ASan sees a byte written past it);
 *   - every character is from the standard alphabet A-Z a-z 0-9 + /, with
 *     (3 - len % 3) % 3 '=' of padding at the end and nowhere else;
 *   - the decoder below (strict: it refuses non-zero bits in the padding)
 *     gives the input back, and so does OpenSSL's EVP_DecodeBlock;
 *   - codec.base64 gives the same bytes, and when Lua runs out of memory at any
 *     allocation inside it (the last input byte % 16 is how many succeed; an
 *     output of more than 40 characters, which Lua does not intern, reaches
 *     the one in lua_pushlstring), it raises a memory error and leaks nothing.
 *
 * codec_lua.c is included, not linked, to reach its static codec_base64.
 */
#include "../csrc/codec_lua.c"

#include "fuzz_common.h"

#include <openssl/evp.h>

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes padded base64 of a known input length, checking each character. */
static void decode_checked(const char *in, size_t in_len, size_t len, unsigned char *out)
{
    size_t n = 0;
    size_t pad = (3 - len % 3) % 3;

    FUZZ_CHECK(in_len % 4 == 0);
    for (size_t i = 0; i < in_len; i += 4) {
        int last = i + 4 == in_len;
        uint32_t group = 0;
        int have = 4;
        for (int j = 0; j < 4; j++) {
            int v = sextet(in[i + j]);
            if (v < 0) {
                /* '=' only as the last one or two characters of the text. */
                FUZZ_CHECK(in[i + j] == '=' && last && j >= 4 - (int)pad);
                v = 0;
                have--;
            } else {
                FUZZ_CHECK(!(last && j >= 4 - (int)pad));
            }
            group = group << 6 | (uint32_t)v;
        }
        FUZZ_CHECK(have == (last ? 4 - (int)pad : 4));
        out[n++] = (unsigned char)(group >> 16);
        if (have >= 3)
            out[n++] = (unsigned char)(group >> 8);
        else
            FUZZ_CHECK((group & 0xffff) == 0); /* canonical: unused bits are zero */
        if (have == 4)
            out[n++] = (unsigned char)group;
        else
            FUZZ_CHECK((group & 0xff) == 0);
    }
    FUZZ_CHECK(n == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t max = SN_BASE64_ENCODED_MAX(size);
    char *out = malloc(max);
    unsigned char *back = malloc(size + 3);
    FUZZ_CHECK(out && back);

    size_t n = sn_base64_encode(data, size, out);
    FUZZ_CHECK(n == max - 1);
    FUZZ_CHECK(n == (size + 2) / 3 * 4);
    FUZZ_CHECK(out[n] == '\0');
    decode_checked(out, n, size, back);
    FUZZ_CHECK(size == 0 || memcmp(back, data, size) == 0);

    /* OpenSSL's decoder, as a second opinion: it gives whole groups of 3. */
    int m = EVP_DecodeBlock(back, (const unsigned char *)out, (int)n);
    FUZZ_CHECK(m == (int)((size + 2) / 3 * 3));
    FUZZ_CHECK(size == 0 || memcmp(back, data, size) == 0);

    fuzz_alloc a;
    lua_State *L = fuzz_lua_open(&a);
    for (int round = 0; round < 2; round++) {
        long budget = round == 0 ? -1 : (long)(size ? data[size - 1] % 16 : 0);
        lua_pushlstring(L, (const char *)data, size);
        if (fuzz_lua_call(L, &a, codec_base64, 1, 1, budget) == LUA_OK) {
            size_t lua_len;
            const char *s = lua_tolstring(L, -1, &lua_len);
            FUZZ_CHECK(s && lua_len == n && memcmp(s, out, n) == 0);
            lua_pop(L, 1);
        }
    }
    FUZZ_CHECK(lua_gettop(L) == 0);
    fuzz_lua_close(L, &a);

    free(back);
    free(out);
    return 0;
}
