/*
 * sn_percent_encode and codec.url_encode, which every path segment and query
 * value of a request goes through (phone numbers with their "+", project
 * ids, region codes, page tokens from the server).
 *
 * Properties:
 *   - the output fits SN_PERCENT_ENCODED_MAX(len) (the buffer is allocated to
 *     exactly that size, so ASan sees a single byte written past it);
 *   - it holds only RFC 3986 unreserved characters and %XX with two upper-case
 *     hex digits, and an unreserved byte is never escaped;
 *   - its length is len + 2 * (bytes escaped);
 *   - decoding it with the decoder below gives the input back;
 *   - codec.url_encode (which encodes in slices of LUAL_BUFFERSIZE / 3 bytes)
 *     gives the same bytes, and when Lua runs out of memory at any allocation
 *     inside it (the first input byte % 16 is how many succeed), it raises a
 *     memory error and leaks nothing.
 *
 * codec_lua.c is included, not linked, to reach its static codec_url_encode.
 */
#include "../csrc/codec_lua.c"

#include "fuzz_common.h"

static int is_unreserved_byte(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        || c == '-' || c == '.' || c == '_' || c == '~';
}

static int upper_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lower-case digits are a failure too: the encoder promises upper case */
}

/* Checks the alphabet while decoding; returns the decoded length. */
static size_t decode_checked(const char *in, size_t len, unsigned char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            FUZZ_CHECK(i + 2 < len); /* a '%' has its two digits */
            int hi = upper_hex_value(in[i + 1]), lo = upper_hex_value(in[i + 2]);
            FUZZ_CHECK(hi >= 0 && lo >= 0);
            unsigned char byte = (unsigned char)(hi << 4 | lo);
            FUZZ_CHECK(!is_unreserved_byte(byte)); /* never escapes what need not be */
            out[n++] = byte;
            i += 2;
        } else {
            FUZZ_CHECK(is_unreserved_byte(c));
            out[n++] = c;
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t max = SN_PERCENT_ENCODED_MAX(size), escaped = 0;
    char *out = malloc(max ? max : 1);
    unsigned char *back = malloc(size ? size : 1);
    FUZZ_CHECK(out && back);

    size_t n = sn_percent_encode(data, size, out);
    for (size_t i = 0; i < size; i++)
        escaped += !is_unreserved_byte(data[i]);
    FUZZ_CHECK(n <= max);
    FUZZ_CHECK(n == size + 2 * escaped);
    FUZZ_CHECK(decode_checked(out, n, back) == size);
    FUZZ_CHECK(size == 0 || memcmp(back, data, size) == 0);

    /* The Lua function, first with memory enough, then failing at the
     * allocation chosen by the first input byte. */
    fuzz_alloc a;
    lua_State *L = fuzz_lua_open(&a);
    lua_pushlstring(L, (const char *)data, size);
    if (fuzz_lua_call(L, &a, codec_url_encode, 1, 1, -1) == LUA_OK) {
        size_t lua_len;
        const char *s = lua_tolstring(L, -1, &lua_len);
        FUZZ_CHECK(s && lua_len == n && memcmp(s, out, n) == 0);
        lua_pop(L, 1);
    }
    if (size > 0) {
        lua_pushlstring(L, (const char *)data, size);
        if (fuzz_lua_call(L, &a, codec_url_encode, 1, 1, data[0] % 16) == LUA_OK) {
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
