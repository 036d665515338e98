/*
 * The Multi of sinchnumbers.transport.libcurl: many transfers at once on one
 * CURLM, made by `transport:multi(size)` with the transport's settings.
 * `start` puts a request on a free easy handle of its pool and returns an
 * id at once; `wait` runs libcurl (curl_multi_poll, perform, info_read)
 * until one transfer ends or the time given passes, and answers with that
 * id and what the transport's `request` would have returned. The plain-Lua
 * engine (lua/sinchnumbers/tasks/curl.lua) runs coroutines on it.
 *
 * Each handle is an sn_request (request.c), so a request is checked, framed
 * and answered exactly as the sequential transport does it; the handles are
 * made when first needed, at most `size`, and kept with their header lists
 * and buffers. The handles share the CURLM's connections: with
 * CURLPIPE_MULTIPLEX and CURLOPT_PIPEWAIT, transfers to a server that offers
 * HTTP/2 (ALPN over TLS) share one connection.
 */
#include "multi.h"

#if SN_HAVE_MULTI

#include "request.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MULTI_METATABLE "sinchnumbers.transport.multi"
#define MAX_SIZE 100
/* curl_multi_poll's longest single wait when the caller gives no bound:
 * the loop goes round and waits again. */
#define LONGEST_POLL_MS 1000

struct multi;

typedef struct {
    sn_request request;                 /* request.easy is NULL until first used */
    struct multi *owner;
    lua_Integer id;                     /* of the transfer on it */
    enum { SLOT_FREE, SLOT_RUNNING, SLOT_ENDED } state;
    CURLcode code;                      /* how it ended */
} slot;

typedef struct multi {
    CURLM *handle;                      /* NULL once closed */
    sn_limits limits;
    sn_connections connections;
    slot *slots;                        /* `size` of them */
    int *ended;                         /* slots ended and not yet returned, oldest first (a ring) */
    int size, running, ended_first, ended_count;
    lua_Integer last_id;
} multi;

static multi *check_multi(lua_State *L)
{
    return luaL_checkudata(L, 1, MULTI_METATABLE);
}

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* libcurl names the connection a transfer goes out on, new or reused: it
 * is busy until the transfer ends (see sn_connections_drop_unclean). */
static int on_prereq(void *userdata, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    slot *s = userdata;
    (void)primary_ip;
    (void)local_ip;
    sn_connections_busy(&s->owner->connections, local_port, primary_port);
    return CURL_PREREQFUNC_OK;
}

/* The slot's handle, made with the settings kept in the Multi's user value. */
static void open_slot(lua_State *L, multi *m, slot *s)
{
    lua_getuservalue(L, 1);
    sn_request_open(L, &s->request, &m->limits, &m->connections, lua_gettop(L));
    lua_pop(L, 1);
    curl_easy_setopt(s->request.easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->request.easy, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(s->request.easy, CURLOPT_PREREQDATA, s);
}

static slot *free_slot(multi *m)
{
    for (int i = 0; i < m->size; i++)
        if (m->slots[i].state == SLOT_FREE)
            return &m->slots[i];
    return NULL;
}

/* m:start(method, url, headers, body, opts) -> id | nil, err */
static int multi_start(lua_State *L)
{
    multi *m = check_multi(L);
    const char *problem, *url;
    slot *s;
    CURLMcode added;

    lua_settop(L, 6);
    if (!m->handle)
        return sn_push_usage_error(L, "attempt to use a closed transport: this multi was closed");
    if (!(s = free_slot(m)))
        return sn_push_usage_error(L, lua_pushfstring(L, "all %d handles of the multi are busy: wait for a transfer to end",
                                                      m->size));
    if (!s->request.easy)
        open_slot(L, m, s);
    if ((problem = sn_request_prepare(L, &s->request, 2, BODY_COPIED)))
        return sn_push_usage_error(L, problem);
    /* Over TLS a new transfer waits to learn whether the connection being
     * opened speaks HTTP/2, and then shares it. Plain http never does
     * (no ALPN): waiting there would only delay the first transfers. */
    url = lua_tostring(L, 3);
    curl_easy_setopt(s->request.easy, CURLOPT_PIPEWAIT, (long)(strncmp(url, "https:", 6) == 0));
    sn_connections_drop_unclean(&m->connections);
    if ((added = curl_multi_add_handle(m->handle, s->request.easy)) != CURLM_OK) {
        curl_easy_setopt(s->request.easy, CURLOPT_POSTFIELDS, NULL);
        return sn_push_usage_error(L, curl_multi_strerror(added));
    }
    s->state = SLOT_RUNNING;
    s->id = ++m->last_id;
    m->running++;
    lua_pushinteger(L, s->id);
    return 1;
}

/* Moves every transfer libcurl says has ended to the queue of ended ones. */
static void collect_ended(multi *m)
{
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read(m->handle, &left))) {
        CURL *easy = message->easy_handle;
        slot *s = NULL;
        if (message->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
        s->code = message->data.result;
        /* Before the handle leaves: only then does it still name its connection. */
        sn_connections_note(&m->connections, &s->request);
        curl_multi_remove_handle(m->handle, easy);
        s->state = SLOT_ENDED;
        m->running--;
        m->ended[(m->ended_first + m->ended_count++) % m->size] = (int)(s - m->slots);
    }
}

/* id, status, headers, body | id, nil, err: the oldest ended transfer. */
static int push_ended(lua_State *L, multi *m)
{
    slot *s = &m->slots[m->ended[m->ended_first]];
    m->ended_first = (m->ended_first + 1) % m->size;
    m->ended_count--;
    s->state = SLOT_FREE;
    lua_pushinteger(L, s->id);
    return 1 + sn_request_push_result(L, &s->request, s->code);
}

static int milliseconds_until(double deadline)
{
    double left = (deadline - now_seconds()) * 1000;
    if (left <= 0)
        return 0;
    return left >= LONGEST_POLL_MS ? LONGEST_POLL_MS : (int)ceil(left);
}

/* m:wait([seconds]) -> id, status, headers, body | id, nil, err | nothing */
static int multi_wait(lua_State *L)
{
    multi *m = check_multi(L);
    int bounded = !lua_isnoneornil(L, 2);
    double deadline = 0;
    int still_running;

    if (bounded) {
        lua_Number seconds = luaL_checknumber(L, 2);
        luaL_argcheck(L, seconds >= 0, 2, "seconds must be 0 or more");
        deadline = now_seconds() + seconds;
    }
    for (;;) {
        if (m->ended_count)
            return push_ended(L, m);
        if (!m->handle || (m->running == 0 && !bounded))
            return 0; /* nothing will end: waiting would never return */
        if (m->running) {
            curl_multi_perform(m->handle, &still_running);
            collect_ended(m);
            if (m->ended_count)
                continue;
        }
        if (bounded && milliseconds_until(deadline) == 0)
            return 0;
        /* With no transfer running, this is a plain sleep until the deadline. */
        curl_multi_poll(m->handle, NULL, 0, bounded ? milliseconds_until(deadline) : LONGEST_POLL_MS, NULL);
    }
}

/* m:pending() -> transfers started and not yet returned by wait */
static int multi_pending(lua_State *L)
{
    multi *m = check_multi(L);
    lua_pushinteger(L, m->running + m->ended_count);
    return 1;
}

/* Aborts what is in flight and frees everything; m may be half made (a
 * failed sn_multi_new). libcurl's order: handles out of the CURLM, then
 * cleaned up, then the CURLM, which closes the connections it kept (through
 * request.c's close_socket, which needs m->connections). */
static void release(multi *m)
{
    if (!m->handle)
        return;
    for (int i = 0; i < m->size; i++)
        if (m->slots[i].state == SLOT_RUNNING)
            curl_multi_remove_handle(m->handle, m->slots[i].request.easy);
    for (int i = 0; i < m->size; i++)
        sn_request_close(&m->slots[i].request);
    curl_multi_cleanup(m->handle);
    m->handle = NULL;
    free(m->slots);
    free(m->ended);
    m->slots = NULL;
    m->ended = NULL;
    m->size = m->running = m->ended_count = 0;
    sn_connections_free(&m->connections);
    sn_limits_free(&m->limits);
}

/* close, __gc and __close: safe in any order and any number of times. */
static int multi_close(lua_State *L)
{
    release(check_multi(L));
    return 0;
}

static int multi_tostring(lua_State *L)
{
    multi *m = check_multi(L);
    if (m->handle)
        lua_pushfstring(L, "sinchnumbers.transport.multi (libcurl %s, %d handles, %d pending): %p",
                        curl_version_info(CURLVERSION_NOW)->version, m->size, m->running + m->ended_count, (void *)m);
    else
        lua_pushfstring(L, "sinchnumbers.transport.multi (closed): %p", (void *)m);
    return 1;
}

int sn_multi_new(lua_State *L, int settings, int size_at)
{
    lua_Number size = lua_tonumber(L, size_at);
    multi *m;

    if (lua_type(L, size_at) != LUA_TNUMBER || size != floor(size) || size < 1 || size > MAX_SIZE)
        return sn_push_usage_error(L, "multi: size must be an integer from 1 to 100 (the transfers at once)");
    m = lua_newuserdata(L, sizeof *m);
    memset(m, 0, sizeof *m);
    luaL_getmetatable(L, MULTI_METATABLE);
    lua_setmetatable(L, -2);
    /* The transport's settings, for the handles made later: they outlive the transport. */
    lua_pushvalue(L, settings);
    lua_setuservalue(L, -2);

    /* The CURLM first: once it is there, __gc frees whatever else was made
     * before an error below. */
    if (!(m->handle = curl_multi_init()))
        return luaL_error(L, "libcurl could not make a multi handle");
    sn_limits_read(L, settings, &m->limits);
    m->slots = calloc((size_t)size, sizeof *m->slots);
    m->ended = calloc((size_t)size, sizeof *m->ended);
    /* Each transfer's connection, one kept idle for each, and a second
     * address family being tried. */
    if (!m->slots || !m->ended || !sn_connections_init(&m->connections, 3 * (int)size + 2))
        return luaL_error(L, "not enough memory for a multi of %d handles", (int)size);
    m->size = (int)size;
    for (int i = 0; i < m->size; i++)
        m->slots[i].owner = m;
    curl_multi_setopt(m->handle, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(m->handle, CURLMOPT_MAXCONNECTS, (long)m->size);
    return 1;
}

static const luaL_Reg multi_methods[] = {
    {"start", multi_start},
    {"wait", multi_wait},
    {"pending", multi_pending},
    {"close", multi_close},
    {NULL, NULL}
};

static const luaL_Reg multi_metamethods[] = {
    {"__gc", multi_close},
    {"__close", multi_close},
    {"__tostring", multi_tostring},
    {NULL, NULL}
};

void sn_multi_register(lua_State *L)
{
    luaL_newmetatable(L, MULTI_METATABLE);
    luaL_setfuncs(L, multi_metamethods, 0);
    luaL_newlib(L, multi_methods);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, MULTI_METATABLE);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}

#else

void sn_multi_register(lua_State *L)
{
    (void)L;
}

#endif
