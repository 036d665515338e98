/*
 * sinchnumbers.codec: the byte-level helpers every layer calls, on every
 * request (percent-encoding, base64), on every answer (integers) or on every
 * webhook (HMAC-SHA1, constant-time comparison). It links libcrypto only:
 * HTTP over libcurl is a module of its own (transport.c), which OpenResty
 * never loads when it uses cosockets.
 */
#include "compat.h"
#include "codec.h"

#include <math.h>
#include <string.h>

/* codec.url_encode(s) -> s with every byte but A-Z a-z 0-9 - . _ ~ as %XX */
static int codec_url_encode(lua_State *L)
{
    size_t len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    luaL_Buffer out;
    char *dst;

    luaL_buffinit(L, &out);
    /* Encode in slices so the buffer never needs more than LUAL_BUFFERSIZE. */
    while (len > 0) {
        size_t slice = len < LUAL_BUFFERSIZE / 3 ? len : LUAL_BUFFERSIZE / 3;
        dst = luaL_prepbuffer(&out);
        luaL_addsize(&out, sn_percent_encode(s, slice, dst));
        s += slice;
        len -= slice;
    }
    luaL_pushresult(&out);
    return 1;
}

/*
 * codec.e164_path(s) -> "%2B" .. digits when s is an E.164 number ("+", 2 to
 * 15 digits, the first 1-9), else nil: the check of the phone_number path
 * placeholder (request.lua) and url_encode of its segment in one pass, so
 * the hot path makes one C call for both.
 */
static int codec_e164_path(lua_State *L)
{
    size_t len, i;
    const char *s;
    char out[3 + 15];

    if (lua_type(L, 1) != LUA_TSTRING) {
        lua_pushnil(L);
        return 1;
    }
    s = lua_tolstring(L, 1, &len);
    if (len < 3 || len > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') {
        lua_pushnil(L);
        return 1;
    }
    for (i = 2; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            lua_pushnil(L);
            return 1;
        }
    }
    memcpy(out, "%2B", 3);
    memcpy(out + 3, s + 1, len - 1);
    lua_pushlstring(L, out, len + 2);
    return 1;
}

/* codec.base64(s) -> standard base64 with padding */
static int codec_base64(lua_State *L)
{
    size_t len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    /* A userdata, not malloc: pushing the result may raise, and must not leak. */
    char *out = lua_newuserdata(L, SN_BASE64_ENCODED_MAX(len));
    lua_pushlstring(L, out, sn_base64_encode(s, len, out));
    return 1;
}

/* codec.hmac_sha1_hex(key, data) -> 40 lowercase hex digits */
static int codec_hmac_sha1_hex(lua_State *L)
{
    size_t key_len, data_len;
    const char *key = luaL_checklstring(L, 1, &key_len);
    const char *data = luaL_checklstring(L, 2, &data_len);
    char hex[40];

    if (!sn_hmac_sha1_hex(key, key_len, data, data_len, hex))
        return luaL_error(L, "HMAC-SHA1 failed in libcrypto");
    lua_pushlstring(L, hex, sizeof hex);
    return 1;
}

/* codec.equal(a, b) -> whether a and b hold the same bytes, in constant time */
static int codec_equal(lua_State *L)
{
    size_t a_len, b_len;
    const char *a = luaL_checklstring(L, 1, &a_len);
    const char *b = luaL_checklstring(L, 2, &b_len);
    lua_pushboolean(L, sn_equal_constant_time(a, a_len, b, b_len));
    return 1;
}

#if LUA_VERSION_NUM >= 503
/* 2^53: up to there every integer is a float exactly. */
#define EXACT_INTEGER_LIMIT 9007199254740992.0

/* Pushes the float at `index` as an integer and returns 1 when it is an
 * integral one within +-2^53; otherwise pushes nothing and returns 0. */
static int push_exact_integer(lua_State *L, int index)
{
    lua_Number n;
    if (lua_type(L, index) != LUA_TNUMBER || lua_isinteger(L, index)) return 0;
    n = lua_tonumber(L, index);
    if (n != floor(n) || fabs(n) > EXACT_INTEGER_LIMIT) return 0;
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/*
 * Does that to the values at a path in the table at `index`: the path is the
 * array of names at `path`, from its item `level` on; "*" stands for every
 * item of an array ({ "activeNumbers", "*", "paymentIntervalMonths" }).
 * Whatever is not there, or not a table where the path goes on, is left.
 */
static void integers_at(lua_State *L, int index, int path, lua_Integer level)
{
    size_t len;
    const char *name;
    int last = (lua_Integer)lua_rawlen(L, path) == level;

    luaL_checkstack(L, 4, "path too long");
    lua_rawgeti(L, path, level);
    name = lua_tolstring(L, -1, &len);
    if (name == NULL) {
        lua_pop(L, 1);
        return;
    }
    if (len == 1 && name[0] == '*') {
        lua_Integer i, n = (lua_Integer)lua_rawlen(L, index);
        lua_pop(L, 1);
        for (i = 1; i <= n; i++) {
            lua_rawgeti(L, index, i);
            if (!last) {
                if (lua_type(L, -1) == LUA_TTABLE) integers_at(L, lua_gettop(L), path, level + 1);
            } else if (push_exact_integer(L, -1)) {
                lua_rawseti(L, index, i);
            }
            lua_pop(L, 1);
        }
        return;
    }
    lua_pushvalue(L, -1);
    lua_rawget(L, index);
    if (!last) {
        if (lua_type(L, -1) == LUA_TTABLE) integers_at(L, lua_gettop(L), path, level + 1);
    } else if (push_exact_integer(L, -1)) {
        lua_pushvalue(L, -3);
        lua_insert(L, -2);
        lua_rawset(L, index);
    }
    lua_pop(L, 2);
}
#endif

/*
 * codec.integers(value, paths) -> value with the integral floats (within
 * +-2^53) at those paths as integers, tables changed in place, on Lua 5.3
 * and 5.4, where lua-cjson 2.1.0 decodes every JSON number as a float.
 * `paths` is an array of paths, each an array of names (see integers_at).
 * A number as `value` is converted itself. Other Luas have one number type:
 * value as is. (Following paths costs a lookup or two per item; a walk over
 * every value of a page of 100 numbers would cost a fifth of its decoding.)
 */
static int codec_integers(lua_State *L)
{
    luaL_checkany(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
#if LUA_VERSION_NUM >= 503
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_Integer i, n = (lua_Integer)lua_rawlen(L, 2);
        for (i = 1; i <= n; i++) {
            lua_rawgeti(L, 2, i);
            if (lua_type(L, -1) == LUA_TTABLE) integers_at(L, 1, 3, 1);
            lua_pop(L, 1);
        }
    } else if (push_exact_integer(L, 1)) {
        return 1;
    }
#endif
    lua_settop(L, 1);
    return 1;
}

static const luaL_Reg codec_functions[] = {
    {"url_encode", codec_url_encode},
    {"e164_path", codec_e164_path},
    {"base64", codec_base64},
    {"hmac_sha1_hex", codec_hmac_sha1_hex},
    {"equal", codec_equal},
    {"integers", codec_integers},
    {NULL, NULL}
};

SN_EXPORT int luaopen_sinchnumbers_codec(lua_State *L);

int luaopen_sinchnumbers_codec(lua_State *L)
{
    luaL_newlib(L, codec_functions);
    return 1;
}
