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
 *
 * A transport keeps one Multi and lends it: the Lua object `multi(size)`
 * returns is a handle on it, and closing that handle gives it back with its
 * easy handles and connections, so that the next map does not connect (and
 * shake hands over TLS) again. The object a closed handle pointed at is not
 * reachable through it any more, whoever holds it next. A Multi asked for
 * while the kept one is lent (a map inside a map) is one of its own, freed
 * when its handle closes; so is a kept one whose transport closed while it
 * was lent.
 */
#include "multi.h"

#if SN_HAVE_MULTI

#include "request.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
    int local_port, remote_port;        /* of its connection, once libcurl named it (0 before) */
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
    struct multi **keeper;              /* the transport's field that keeps it, or NULL */
    int lent;                           /* a handle points at it */
    int perform_due;                    /* libcurl polled, or was given a transfer, since it last performed */
    int cleanliness_due;                /* a transfer started since the idle connections were last looked at */
} multi;

/* The Lua object: a handle on a multi, NULL once closed. */
typedef struct {
    multi *m;
} multi_handle;

/* What a closed handle stands for: no CURLM, no slots, nothing pending. */
static multi closed_multi;

static multi *check_multi(lua_State *L)
{
    multi_handle *h = luaL_checkudata(L, 1, MULTI_METATABLE);
    return h->m ? h->m : &closed_multi;
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
    s->local_port = local_port;
    s->remote_port = primary_port;
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
    curl_easy_setopt(s->request.easy, CURLOPT_PIPEWAIT, (long)(strncasecmp(url, "https:", 6) == 0));
    if ((added = curl_multi_add_handle(m->handle, s->request.easy)) != CURLM_OK) {
        curl_easy_setopt(s->request.easy, CURLOPT_POSTFIELDS, NULL);
        return sn_push_usage_error(L, curl_multi_strerror(added));
    }
    s->state = SLOT_RUNNING;
    s->id = ++m->last_id;
    s->local_port = s->remote_port = 0;
    m->running++;
    m->perform_due = m->cleanliness_due = 1;
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
        /* Its connection by the ports on_prereq was told: asking libcurl for
         * the socket (CURLINFO_ACTIVESOCKET) walks its whole cache. */
        if (s->local_port > 0)
            sn_connections_idle(&m->connections, s->local_port, s->remote_port,
                                sn_request_spoke_http1(&s->request));
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
        /* As libcurl's own loop goes: perform, hand out what ended, poll.
         * A perform straight after the one whose transfers were just handed
         * out would find nothing new, and costs libcurl a poll() of every
         * connection (a transfer started since makes one due). */
        if (m->running && m->perform_due) {
            /* libcurl picks the connections of the transfers started since
             * in perform: one poll() looks at every idle one before. */
            if (m->cleanliness_due) {
                sn_connections_drop_unclean(&m->connections);
                m->cleanliness_due = 0;
            }
            curl_multi_perform(m->handle, &still_running);
            collect_ended(m);
            m->perform_due = 0;
            if (m->ended_count)
                continue;
        }
        if (bounded && milliseconds_until(deadline) == 0)
            return 0;
        /* With no transfer running, this is a plain sleep until the deadline. */
        curl_multi_poll(m->handle, NULL, 0, bounded ? milliseconds_until(deadline) : LONGEST_POLL_MS, NULL);
        m->perform_due = 1;
    }
}

/* m:pending() -> transfers started and not yet returned by wait */
static int multi_pending(lua_State *L)
{
    multi *m = check_multi(L);
    lua_pushinteger(L, m->running + m->ended_count);
    return 1;
}

/* Aborts the transfers in flight (libcurl closes their connections) and
 * forgets the ended ones not yet returned; the handles and the idle
 * connections stay. */
static void abort_transfers(multi *m)
{
    for (int i = 0; i < m->size; i++) {
        if (m->slots[i].state == SLOT_RUNNING)
            curl_multi_remove_handle(m->handle, m->slots[i].request.easy);
        m->slots[i].state = SLOT_FREE;
    }
    m->running = m->ended_count = m->ended_first = 0;
}

/* Aborts what is in flight and frees everything but m itself; m may be
 * half made (a failed new_multi). libcurl's order: handles out of the
 * CURLM, then cleaned up, then the CURLM, which closes the connections it
 * kept (through request.c's close_socket, which needs m->connections). */
static void release(multi *m)
{
    if (!m->handle)
        return;
    abort_transfers(m);
    for (int i = 0; i < m->size; i++)
        sn_request_close(&m->slots[i].request);
    curl_multi_cleanup(m->handle);
    m->handle = NULL;
    free(m->slots);
    free(m->ended);
    m->slots = NULL;
    m->ended = NULL;
    m->size = 0;
    sn_connections_free(&m->connections);
    sn_limits_free(&m->limits);
}

static void destroy(multi *m)
{
    release(m);
    free(m);
}

/* close, __gc and __close: safe in any order and any number of times. A
 * kept Multi goes back to its transport, anything else is freed. */
static int multi_close(lua_State *L)
{
    multi_handle *h = luaL_checkudata(L, 1, MULTI_METATABLE);
    multi *m = h->m;
    h->m = NULL;
    if (!m)
        return 0;
    if (m->keeper) {
        abort_transfers(m);
        m->lent = 0;
    } else {
        destroy(m);
    }
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

/* A multi of `size` handles with the settings table at `settings`, or NULL
 * (out of memory, or libcurl could not make a CURLM). */
static multi *new_multi(lua_State *L, int settings, int size)
{
    multi *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->slots = calloc((size_t)size, sizeof *m->slots);
    m->ended = calloc((size_t)size, sizeof *m->ended);
    /* Each transfer's connection, one kept idle for each, and a second
     * address family being tried. */
    if (!m->slots || !m->ended || !sn_connections_init(&m->connections, 3 * size + 2)
        || !(m->handle = curl_multi_init())) {
        sn_connections_free(&m->connections);
        free(m->slots);
        free(m->ended);
        free(m);
        return NULL;
    }
    sn_limits_read(L, settings, &m->limits);
    m->size = size;
    for (int i = 0; i < size; i++)
        m->slots[i].owner = m;
    curl_multi_setopt(m->handle, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(m->handle, CURLMOPT_MAXCONNECTS, (long)size);
    return m;
}

int sn_multi_lend(lua_State *L, sn_multi **kept, int settings, int size_at)
{
    lua_Number size = lua_tonumber(L, size_at);
    multi_handle *h;
    multi *m;

    if (lua_type(L, size_at) != LUA_TNUMBER || size != floor(size) || size < 1 || size > MAX_SIZE)
        return sn_push_usage_error(L, "multi: size must be an integer from 1 to 100 (the transfers at once)");
    /* The handle first, so that nothing made below is lost to an error. */
    h = lua_newuserdata(L, sizeof *h);
    h->m = NULL;
    luaL_getmetatable(L, MULTI_METATABLE);
    lua_setmetatable(L, -2);
    /* The transport's settings, for the easy handles made later: they outlive the transport. */
    lua_pushvalue(L, settings);
    lua_setuservalue(L, -2);

    if (*kept && !(*kept)->lent && (*kept)->size < size) {
        /* Grown by a new one: the smaller one's connections go with it. */
        destroy(*kept);
        *kept = NULL;
    }
    if (*kept && !(*kept)->lent) {
        m = *kept;
    } else {
        if (!(m = new_multi(L, settings, (int)size)))
            return luaL_error(L, "not enough memory for a multi of %d handles", (int)size);
        if (!*kept) {
            *kept = m;
            m->keeper = kept;
        }
    }
    m->lent = 1;
    h->m = m;
    return 1;
}

void sn_multi_drop_kept(sn_multi **kept)
{
    multi *m = *kept;
    *kept = NULL;
    if (!m)
        return;
    if (m->lent)
        m->keeper = NULL; /* its handle frees it when it closes */
    else
        destroy(m);
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
