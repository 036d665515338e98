/*
 * Shared by the libFuzzer harnesses in fuzz/: a check that aborts (so
 * libFuzzer records the input as a crash), and a Lua state whose allocator
 * can be made to fail, so that a harness can raise Lua's out-of-memory
 * error (a longjmp) at every allocation inside the C functions under test
 * and let LeakSanitizer see what they leave behind.
 */
#ifndef SINCHNUMBERS_FUZZ_COMMON_H
#define SINCHNUMBERS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lua.h>
#include <lauxlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: property does not hold: %s\n", __FILE__,    \
                    __LINE__, #cond);                                           \
            abort();                                                            \
        }                                                                       \
    } while (0)

/*
 * The allocator's state: while `limited`, `budget` more growing allocations
 * succeed and every one after them fails, as on a host out of memory. Frees
 * and shrinks never fail: Lua requires that of an allocator.
 */
typedef struct {
    int limited;
    long budget;
} fuzz_alloc;

static void *fuzz_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    fuzz_alloc *a = ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    /* With ptr NULL, osize is a type tag, not a size. */
    if (a->limited && (ptr == NULL || nsize > osize)) {
        if (a->budget <= 0)
            return NULL;
        a->budget--;
    }
    return realloc(ptr, nsize);
}

static int fuzz_lua_panic(lua_State *L)
{
    fprintf(stderr, "Lua panic (an error outside any protected call): %s\n",
            lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    abort();
    return 0;
}

/*
 * Lua 5.4's luaL_Buffer moves a large buffer into a box whose metatable it
 * registers the first time; running out of memory halfway through that
 * leaves a metatable without __close behind, and every later large buffer
 * of the state fails ("got a non-closable value"). A real state makes it
 * long before it runs short, so the harness makes it before any limit too.
 */
static int fuzz_grow_one_buffer(lua_State *L)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_prepbuffsize(&b, 4 * LUAL_BUFFERSIZE);
    luaL_pushresult(&b);
    return 1;
}

static lua_State *fuzz_lua_open(fuzz_alloc *a)
{
    lua_State *L;
    a->limited = 0;
    a->budget = 0;
    L = lua_newstate(fuzz_lua_alloc, a);
    FUZZ_CHECK(L != NULL);
    lua_atpanic(L, fuzz_lua_panic);
    lua_pushcfunction(L, fuzz_grow_one_buffer);
    FUZZ_CHECK(lua_pcall(L, 0, 0, 0) == LUA_OK);
    return L;
}

/* Lifts any limit first: lua_close must be able to run to its end. */
static void fuzz_lua_close(lua_State *L, fuzz_alloc *a)
{
    a->limited = 0;
    lua_close(L);
}

/*
 * Calls f with the nargs values on top of the stack under lua_pcall, with the
 * allocator failing after `budget` allocations when budget >= 0. Returns the
 * pcall status, which must be LUA_OK or, under a budget, LUA_ERRMEM; on
 * LUA_OK the nresults results are on the stack.
 */
static int fuzz_lua_call(lua_State *L, fuzz_alloc *a, lua_CFunction f, int nargs,
                         int nresults, long budget)
{
    int status;
    lua_pushcfunction(L, f);
    lua_insert(L, -(nargs + 1));
    if (budget >= 0) {
        a->budget = budget;
        a->limited = 1;
    }
    status = lua_pcall(L, nargs, nresults, 0);
    a->limited = 0;
    if (status != LUA_OK) {
        if (status != LUA_ERRMEM || budget < 0)
            fprintf(stderr, "unexpected Lua error %d: %s\n", status,
                    lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        FUZZ_CHECK(status == LUA_ERRMEM && budget >= 0);
        lua_pop(L, 1);
    }
    return status;
}

/* The contract's framing headers, which the transport leaves out of the caller's. */
static inline int fuzz_is_framing_header(const char *name, size_t len)
{
    static const char *const framing[] = {"content-length", "transfer-encoding", "connection"};
    for (size_t i = 0; i < sizeof framing / sizeof framing[0]; i++)
        if (len == strlen(framing[i]) && strncasecmp(name, framing[i], len) == 0)
            return 1;
    return 0;
}

/* RFC 9110's token, written apart from request.c's is_token: the model. */
static inline int fuzz_is_token(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int alnum = (c | 0x20) - 'a' < 26u || c - '0' < 10u;
        if (!alnum && !(c != 0 && memchr("!#$%&'*+-.^_`|~", c, 15)))
            return 0;
    }
    return 1;
}

#endif
