/*
 * sinchnumbers.transport.libcurl: HTTP over one libcurl easy handle per
 * object, one request at a time; `multi` makes the object for many at once
 * (multi.c). The rules it keeps (framing, errors, `sent`, the caps) are
 * written in lua/sinchnumbers/transport/contract.lua, which also checks the
 * options and fills in the defaults: new() takes complete settings and only
 * checks their types. sinchnumbers.transport.curl is the module callers use.
 * Reusing the handle is what keeps connections alive between requests
 * (request.c keeps everything else that can be kept).
 */
#include "multi.h"
#include "request.h"

#include <string.h>

#define TRANSPORT_METATABLE "sinchnumbers.transport"
/* Connections libcurl keeps open per handle, and the sockets we watch:
 * room for all of them, plus one being opened and a second address family. */
#define MAX_KEPT_CONNECTIONS 5L
#define MAX_SOCKETS 8

typedef struct {
    sn_request request;                 /* request.easy is NULL once closed */
    sn_limits limits;
    sn_connections connections;
    sn_socket sockets[MAX_SOCKETS];     /* connections.list */
    struct pollfd polled[MAX_SOCKETS];  /* connections.polled */
#if SN_HAVE_MULTI
    sn_multi *kept_multi;               /* lent by multi(), closed with the transport */
#endif
} transport;

static transport *check_transport(lua_State *L)
{
    return luaL_checkudata(L, 1, TRANSPORT_METATABLE);
}

/* t:request(method, url, headers, body, options) -> status, headers, body | nil, err */
static int transport_request(lua_State *L)
{
    transport *t = check_transport(L);
    const char *problem;
    CURLcode code;

    lua_settop(L, 6);
    if (!t->request.easy)
        return sn_push_usage_error(L, "attempt to use a closed transport");
    if ((problem = sn_request_prepare(L, &t->request, 2, BODY_BORROWED)))
        return sn_push_usage_error(L, problem);
    sn_connections_drop_unclean(&t->connections);
    code = curl_easy_perform(t->request.easy);
    sn_connections_note(&t->connections, &t->request);
    return sn_request_push_result(L, &t->request, code);
}

/* close, __gc and __close: safe in any order and any number of times. */
static int transport_close(lua_State *L)
{
    transport *t = check_transport(L);
    sn_request_close(&t->request);
    sn_limits_free(&t->limits);
#if SN_HAVE_MULTI
    sn_multi_drop_kept(&t->kept_multi);
#endif
    return 0;
}

static int transport_tostring(lua_State *L)
{
    transport *t = check_transport(L);
    if (t->request.easy)
        lua_pushfstring(L, "sinchnumbers.transport (libcurl %s): %p", curl_version_info(CURLVERSION_NOW)->version, (void *)t);
    else
        lua_pushfstring(L, "sinchnumbers.transport (closed): %p", (void *)t);
    return 1;
}

#if SN_HAVE_MULTI
/* t:multi(size) -> Multi | nil, err: with this transport's settings, the one
 * it keeps when that is free (multi.c). */
static int transport_multi(lua_State *L)
{
    transport *t = check_transport(L);
    lua_settop(L, 2);
    if (!t->request.easy)
        return sn_push_usage_error(L, "attempt to use a closed transport");
    lua_getuservalue(L, 1);
    return sn_multi_lend(L, &t->kept_multi, 3, 2);
}
#endif

/* libcurl.new(settings): settings complete, from contract.settings. */
static int transport_new(lua_State *L)
{
    transport *t;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);

    t = lua_newuserdata(L, sizeof *t);
    memset(t, 0, sizeof *t);
    luaL_getmetatable(L, TRANSPORT_METATABLE);
    lua_setmetatable(L, -2);
    /* Kept for the Multis made from this transport, which take the same settings. */
    lua_pushvalue(L, 1);
    lua_setuservalue(L, -2);

    t->connections.list = t->sockets;
    t->connections.polled = t->polled;
    t->connections.capacity = MAX_SOCKETS;
    sn_limits_read(L, 1, &t->limits);
    sn_request_open(L, &t->request, &t->limits, &t->connections, 1);
    curl_easy_setopt(t->request.easy, CURLOPT_MAXCONNECTS, MAX_KEPT_CONNECTIONS);
    return 1;
}

static const luaL_Reg transport_methods[] = {
    {"request", transport_request},
#if SN_HAVE_MULTI
    {"multi", transport_multi},
#endif
    {"close", transport_close},
    {NULL, NULL}
};

static const luaL_Reg transport_metamethods[] = {
    {"__gc", transport_close},
    {"__close", transport_close},
    {"__tostring", transport_tostring},
    {NULL, NULL}
};

static const luaL_Reg module_functions[] = {
    {"new", transport_new},
    {NULL, NULL}
};

SN_EXPORT int luaopen_sinchnumbers_transport_libcurl(lua_State *L);

int luaopen_sinchnumbers_transport_libcurl(lua_State *L)
{
    /* Once per process, and never cleaned up: other modules in the same
     * process (nginx, lua-curl) may share libcurl's global state. */
    static int curl_ready = 0;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return luaL_error(L, "libcurl could not be initialised");
        curl_ready = 1;
    }

    luaL_newmetatable(L, TRANSPORT_METATABLE);
    luaL_setfuncs(L, transport_metamethods, 0);
    luaL_newlib(L, transport_methods);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "sinchnumbers.transport");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
    sn_multi_register(L);

    luaL_newlib(L, module_functions);
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    return 1;
}
