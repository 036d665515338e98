/*
 * sinchnumbers.transport.libcurl: HTTP over one libcurl easy handle per
 * object. The rules it keeps (framing, errors, `sent`, the caps) are written
 * in lua/sinchnumbers/transport/contract.lua, which also checks the options
 * and fills in the defaults: new() takes complete settings and only checks
 * their types. sinchnumbers.transport.curl is the module callers use.
 * Reusing the handle is what
 * keeps connections alive between requests, so nothing here is per call
 * that can be kept: the handle, the receive buffers and the request header
 * list all live as long as the object.
 */
#include "transport.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define TRANSPORT_METATABLE "sinchnumbers.transport"
/* A buffer larger than this after a request is given back, not kept. */
#define KEEP_BUFFER_BYTES (256u * 1024u)
/* Connections libcurl keeps open per handle, and the sockets we watch:
 * room for all of them, plus one being opened and a second address family. */
#define MAX_KEPT_CONNECTIONS 5L
#define MAX_SOCKETS 8

typedef struct {
    char *data;
    size_t len, cap;
} buffer;

/* A socket libcurl opened through us, and whether its connection last
 * carried HTTP/1 (where bytes can arrive between answers). */
typedef struct {
    curl_socket_t fd;
    int http1;
} watched_socket;

typedef struct {
    CURL *easy;                      /* NULL once closed */
    struct curl_slist *request_headers; /* freed on the next request or on close */
    int headers_built;                  /* request_headers is complete (not cut short by an error) */
    size_t headers_given;               /* how many of its lines came from the caller's table */
    int headers_sends_body;             /* what the list was built for */
    int success_headers;                /* make the header table of a 2xx answer too */
    int skipping_headers;               /* this block's are not wanted: a 2xx without success_headers */
    char *user_agent_line;              /* "User-Agent: ...", sent unless the caller gives one */
    buffer body, headers;
    size_t max_body_size, max_header_bytes, max_url_bytes;
    long timeout_ms, connect_timeout_ms;
    lua_Number max_seconds;             /* the longest timeout a request may ask for */
    /* Set when a cap stops the transfer: ours, or libcurl's for one header line. */
    enum { WITHIN_CAPS, BODY_TOO_LARGE, HEADERS_TOO_LARGE, HEADER_LINE_TOO_LARGE } too_large;
    size_t header_bytes;                /* of this header block, kept or not */
    int head_done;                      /* the blank line after the answer's headers came */
    watched_socket sockets[MAX_SOCKETS];
    int socket_count;
    char error[CURL_ERROR_SIZE];
} transport;

/* --- buffers -------------------------------------------------------------- */

static int buffer_append(buffer *b, const char *data, size_t len)
{
    if (len == 0)
        return 1;
    if (b->cap - b->len < len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < len)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 1;
}

static void buffer_reset(buffer *b)
{
    if (b->cap > KEEP_BUFFER_BYTES) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
    b->len = 0;
}

static void buffer_free(buffer *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* --- libcurl callbacks ---------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t count, void *userdata)
{
    transport *t = userdata;
    size_t len = size * count;

    /* CURLOPT_MAXFILESIZE only sees a Content-Length; a chunked body is capped here. */
    if (len > t->max_body_size - t->body.len) {
        t->too_large = BODY_TOO_LARGE;
        return 0;
    }
    return buffer_append(&t->body, data, len) ? len : 0;
}

static size_t on_header(char *data, size_t size, size_t count, void *userdata)
{
    transport *t = userdata;
    size_t len = size * count;

    /* A new status line (after a 100 Continue, say) starts a new header block. */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        const char *space = memchr(data, ' ', len);
        t->headers.len = t->header_bytes = 0;
        t->head_done = 0;
        t->skipping_headers = !t->success_headers && space && (size_t)(space - data) + 1 < len && space[1] == '2';
    }
    /* Counted even when not kept: the cap is about what the server sends. */
    if (len > t->max_header_bytes - t->header_bytes) {
        t->too_large = HEADERS_TOO_LARGE;
        return 0;
    }
    t->header_bytes += len;
    if ((len == 2 && data[0] == '\r') || (len == 1 && data[0] == '\n'))
        t->head_done = 1;
    if (t->skipping_headers)
        return len;
    return buffer_append(&t->headers, data, len) ? len : 0;
}

/*
 * libcurl opens and closes every socket through these two, so that the
 * transport knows the sockets of the connections it keeps.
 */
static curl_socket_t open_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *address)
{
    transport *t = userdata;
    curl_socket_t fd;

    (void)purpose;
    /* Never more than libcurl keeps (MAX_KEPT_CONNECTIONS) and the ones it opens. */
    if (t->socket_count == MAX_SOCKETS)
        return CURL_SOCKET_BAD;
    fd = socket(address->family, address->socktype, address->protocol);
    if (fd != CURL_SOCKET_BAD) {
        t->sockets[t->socket_count].fd = fd;
        t->sockets[t->socket_count].http1 = 0;
        t->socket_count++;
    }
    return fd;
}

static int close_socket(void *userdata, curl_socket_t fd)
{
    transport *t = userdata;
    for (int i = 0; i < t->socket_count; i++) {
        if (t->sockets[i].fd == fd) {
            t->sockets[i] = t->sockets[--t->socket_count];
            break;
        }
    }
    return close(fd);
}

/* Remembers whether the connection the last request used speaks HTTP/1. */
static void note_connection_version(transport *t)
{
    curl_socket_t fd = CURL_SOCKET_BAD;
    long version = 0;
    curl_easy_getinfo(t->easy, CURLINFO_ACTIVESOCKET, &fd);
    curl_easy_getinfo(t->easy, CURLINFO_HTTP_VERSION, &version);
    for (int i = 0; i < t->socket_count; i++)
        if (t->sockets[i].fd == fd)
            t->sockets[i].http1 = version == CURL_HTTP_VERSION_1_0 || version == CURL_HTTP_VERSION_1_1;
}

/*
 * An idle HTTP/1 connection has nothing to say between answers. Bytes
 * waiting on one mean the server framed its last answer otherwise than we
 * read it (more after a Content-Length body, say): reused, those bytes
 * would be read as the next request's answer. Such a connection is shut
 * down here, so that libcurl finds it dead, closes it and opens another.
 * (An end of stream waiting is a connection the server closed: the same.)
 */
static void drop_connections_with_pending_input(transport *t)
{
    for (int i = 0; i < t->socket_count; i++) {
        struct pollfd waiting = { .fd = t->sockets[i].fd, .events = POLLIN };
        if (t->sockets[i].http1 && poll(&waiting, 1, 0) > 0)
            shutdown(t->sockets[i].fd, SHUT_RDWR);
    }
}

/* --- response headers ----------------------------------------------------- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 9110 tchar: what a header name is made of. */
static int is_token(const char *s, size_t len)
{
    static const char symbols[] = "!#$%&'*+-.^_`|~";
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || (c && strchr(symbols, c))))
            return 0;
    }
    return 1;
}

int sn_split_header_line(const char *line, size_t len,
                         const char **name, size_t *name_len,
                         const char **value, size_t *value_len)
{
    /* A status line ("HTTP/1.1 200 OK") has a '/' in its would-be name, and
     * an obsolete folded line starts with white space: neither is a token. */
    const char *colon = memchr(line, ':', len);
    if (!colon || !is_token(line, (size_t)(colon - line)))
        return 0;

    const char *start = colon + 1, *end = line + len;
    while (start < end && is_space(*start))
        start++;
    while (end > start && is_space(end[-1]))
        end--;

    *name = line;
    *name_len = (size_t)(colon - line);
    *value = start;
    *value_len = (size_t)(end - start);
    return 1;
}

/* Replaces each list of values in the table on top with its values joined by ", ". */
static void join_repeated_headers(lua_State *L)
{
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_istable(L, -1)) {
            luaL_Buffer joined;
            size_t count = lua_rawlen(L, -1);
            int values = lua_gettop(L);
            lua_pushvalue(L, -2); /* the key, for lua_rawset below */
            luaL_buffinit(L, &joined);
            for (size_t i = 1; i <= count; i++) {
                if (i > 1)
                    luaL_addlstring(&joined, ", ", 2);
                lua_rawgeti(L, values, (int)i);
                luaL_addvalue(&joined);
            }
            luaL_pushresult(&joined);
            lua_rawset(L, -5); /* assigning an existing key keeps lua_next valid */
        }
        lua_pop(L, 1);
    }
}

/*
 * Pushes the received headers as { lowercase-name = value }, repeats joined
 * by ", ". Repeats are gathered in a list and joined once, so a response of
 * many repeated headers costs time in proportion to its size.
 */
static void push_headers(lua_State *L, const buffer *raw)
{
    luaL_Buffer key;
    const char *line = raw->data, *end = raw->data + raw->len;
    int repeats = 0;

    lua_newtable(L);
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t line_len = eol ? (size_t)(eol - line + 1) : (size_t)(end - line);
        const char *name, *value;
        size_t name_len, value_len;

        if (sn_split_header_line(line, line_len, &name, &name_len, &value, &value_len)) {
            luaL_buffinit(L, &key);
            for (size_t i = 0; i < name_len; i++) {
                char c = name[i];
                luaL_addchar(&key, (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c);
            }
            luaL_pushresult(&key);
            lua_pushvalue(L, -1);
            lua_rawget(L, -3);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_pushlstring(L, value, value_len);
                lua_rawset(L, -3);
            } else {
                if (!lua_istable(L, -1)) { /* the second value: start a list */
                    lua_createtable(L, 4, 0);
                    lua_insert(L, -2);
                    lua_rawseti(L, -2, 1);
                    lua_pushvalue(L, -2);
                    lua_pushvalue(L, -2);
                    lua_rawset(L, -5);
                    repeats = 1;
                }
                lua_pushlstring(L, value, value_len);
                lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
                lua_pop(L, 2);
            }
        }
        line += line_len;
    }
    if (repeats)
        join_repeated_headers(L);
}

/* --- errors --------------------------------------------------------------- */

/*
 * What went wrong decides the kind only together with whether the request
 * left: the same CURLcode means "bad URL" before sending and "an answer
 * libcurl could not read" (a garbled status line, HTTP/0.9, status 000)
 * after, when the server may well have acted on it.
 */
static const char *error_kind(const transport *t, CURLcode code, int sent)
{
    if (t->too_large || code == CURLE_FILESIZE_EXCEEDED)
        return "too_large";
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return sent ? "network" : "invalid_argument";
    default:
        return "network";
    }
}

/*
 * nil, { kind, message, curl_code, sent }. `sent` is false only when not a
 * byte of the request left this process, which is what makes a POST safe
 * to try again.
 */
static int tunnel_answered(CURL *easy)
{
    long connect_code = 0;
    curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
    return connect_code > 0;
}

static int transfer_began(CURL *easy)
{
#if LIBCURL_VERSION_NUM >= 0x073d00
    curl_off_t pretransfer = 0;
    curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
#else
    double pretransfer = 0;
    curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME, &pretransfer);
#endif
    return pretransfer > 0;
}

static int push_error(lua_State *L, transport *t, CURLcode code)
{
    long request_size = 0;
    int sent;
    curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &request_size);
    /* The request size counts a proxy's CONNECT too: when the proxy answered
     * one and the transfer never began (the tunnel refused, or TLS through it
     * failed), nothing of the request itself went out. */
    sent = request_size > 0 && !(tunnel_answered(t->easy) && !transfer_began(t->easy));
    /* libcurl holds one header line in a buffer of CURL_MAX_HTTP_HEADER
     * bytes and calls a longer one "Out of memory". */
    if (code == CURLE_OUT_OF_MEMORY && sent && !t->head_done)
        t->too_large = HEADER_LINE_TOO_LARGE;

    lua_pushnil(L);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, error_kind(t, code, sent));
    lua_setfield(L, -2, "kind");
    if (t->too_large == HEADERS_TOO_LARGE)
        lua_pushfstring(L, "response headers larger than the limit of %d bytes", (int)t->max_header_bytes);
    else if (t->too_large == HEADER_LINE_TOO_LARGE)
        lua_pushfstring(L, "a response header line longer than libcurl's limit of %d bytes",
                        (int)CURL_MAX_HTTP_HEADER);
    else if (t->too_large || code == CURLE_FILESIZE_EXCEEDED)
        lua_pushfstring(L, "response larger than the limit of %d bytes",
                        (int)(t->max_body_size > 0x7fffffff ? 0x7fffffff : t->max_body_size));
    else
        lua_pushstring(L, t->error[0] ? t->error : curl_easy_strerror(code));
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, (lua_Integer)code);
    lua_setfield(L, -2, "curl_code");
    lua_pushboolean(L, sent);
    lua_setfield(L, -2, "sent");
    return 2;
}

static int push_usage_error(lua_State *L, const char *message)
{
    lua_pushnil(L);
    lua_createtable(L, 0, 3);
    lua_pushliteral(L, "invalid_argument");
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "sent");
    return 2;
}

/* --- settings ----------------------------------------------------------- */

/* Seconds as whole milliseconds, at least 1. */
static long to_milliseconds(lua_Number seconds)
{
    long ms = (long)(seconds * 1000 + 0.5);
    return ms < 1 ? 1 : ms;
}

/* Reads an optional per-request timeout from table idx into *ms; the
 * problem in words, or NULL. */
static const char *opt_milliseconds(lua_State *L, const transport *t, int idx, const char *field, long *ms)
{
    const char *problem = NULL;
    lua_getfield(L, idx, field);
    if (!lua_isnil(L, -1)) {
        lua_Number seconds = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(seconds > 0) || seconds > t->max_seconds) {
            /* The message takes the value's slot, so that it stays referenced. */
            problem = lua_pushfstring(L, "%s must be a number of seconds above 0 and at most %d",
                                      field, (int)t->max_seconds);
            lua_replace(L, -2);
            return problem;
        }
        *ms = to_milliseconds(seconds);
    }
    lua_pop(L, 1);
    return problem;
}

/* A setting the contract has filled in: its type is checked, nothing more. */
static void get_setting(lua_State *L, int idx, const char *field, int type)
{
    lua_getfield(L, idx, field);
    if (lua_type(L, -1) != type)
        luaL_error(L, "settings.%s must be a %s (make the transport with sinchnumbers.transport.curl.new)",
                   field, lua_typename(L, type));
}

static lua_Number number_setting(lua_State *L, int idx, const char *field)
{
    lua_Number n;
    get_setting(L, idx, field, LUA_TNUMBER);
    n = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return n;
}

static transport *check_transport(lua_State *L)
{
    return luaL_checkudata(L, 1, TRANSPORT_METATABLE);
}

/* --- request -------------------------------------------------------------- */

static int is_method_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < 'A' || *s > 'Z')
            return 0;
    return 1;
}

static int has_line_break(const char *s, size_t len)
{
    return memchr(s, '\r', len) || memchr(s, '\n', len) || memchr(s, '\0', len);
}

/* The transport frames the request itself: a caller's framing headers
 * (contract.FRAMING_HEADERS) would contradict it, and are left out. */
static int is_framing_header(const char *name, size_t len)
{
    return (len == 14 && strncasecmp(name, "content-length", 14) == 0)
        || (len == 17 && strncasecmp(name, "transfer-encoding", 17) == 0)
        || (len == 10 && strncasecmp(name, "connection", 10) == 0);
}

/* On failure the list stays whole (and owned by t), so nothing leaks. */
static void append_request_header(lua_State *L, transport *t, const char *line)
{
    struct curl_slist *grown = curl_slist_append(t->request_headers, line);
    if (!grown)
        luaL_error(L, "not enough memory for the request headers");
    t->request_headers = grown;
}

/* Is `line` exactly name + ": " + value (or name + ";" for an empty value)? */
static int line_is(const char *line, const char *name, size_t name_len, const char *value, size_t value_len)
{
    if (strncmp(line, name, name_len) != 0 || memchr(name, '\0', name_len))
        return 0;
    line += name_len;
    if (value_len == 0)
        return line[0] == ';' && line[1] == '\0';
    if (line[0] != ':' || line[1] != ' ')
        return 0;
    line += 2;
    return strncmp(line, value, value_len) == 0 && line[value_len] == '\0' && !memchr(value, '\0', value_len);
}

/*
 * Does the list built for the previous request say what the table at idx
 * says? Callers pass the same headers on almost every request (auth.lua
 * keeps one table per access token), so the list is compared, not rebuilt:
 * no allocation and no string building while nothing changes.
 */
static int headers_unchanged(lua_State *L, transport *t, int idx, int sends_body)
{
    const struct curl_slist *item = t->request_headers;
    size_t compared = 0;

    if (!t->headers_built || sends_body != t->headers_sends_body || lua_type(L, idx) != LUA_TTABLE)
        return 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t name_len, value_len;
        const char *name, *value;
        if (compared++ == t->headers_given || lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 2);
            return 0;
        }
        name = lua_tolstring(L, -2, &name_len);
        value = lua_tolstring(L, -1, &value_len);
        if (!line_is(item->data, name, name_len, value, value_len)) {
            lua_pop(L, 2);
            return 0;
        }
        item = item->next;
        lua_pop(L, 1);
    }
    return compared == t->headers_given;
}

/*
 * Builds the request header list from the table at idx, unless the list of
 * the previous request says the same. Returns NULL and sets *problem on a
 * header that would break the request apart.
 */
static const char *set_request_headers(lua_State *L, transport *t, int idx, int sends_body)
{
    int has_content_type = 0, has_user_agent = 0;
    luaL_Buffer line;

    if (headers_unchanged(L, t, idx, sends_body))
        return NULL;

    /* The handle must never hold a pointer to a freed list, even if this raises. */
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(t->request_headers);
    t->request_headers = NULL;
    t->headers_built = 0;
    t->headers_given = 0;

    if (!lua_isnil(L, idx)) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            size_t name_len, value_len;
            const char *name, *value;
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                return "header names and values must be strings";
            name = lua_tolstring(L, -2, &name_len);
            value = lua_tolstring(L, -1, &value_len);
            if (!is_token(name, name_len) || has_line_break(value, value_len))
                return "a header name must be a token (letters, digits, !#$%&'*+-.^_`|~) "
                       "and a value must hold no line break or NUL";
            if (name_len == 12 && strncasecmp(name, "content-type", 12) == 0)
                has_content_type = 1;
            if (name_len == 10 && strncasecmp(name, "user-agent", 10) == 0)
                has_user_agent = 1;
            if (is_framing_header(name, name_len)) {
                lua_pop(L, 1);
                continue;
            }

            luaL_buffinit(L, &line);
            luaL_addlstring(&line, name, name_len);
            luaL_addstring(&line, value_len ? ": " : ";");
            luaL_addlstring(&line, value, value_len);
            luaL_pushresult(&line);
            append_request_header(L, t, lua_tostring(L, -1));
            t->headers_given++;
            lua_pop(L, 2);
        }
    }

    if (!has_user_agent)
        append_request_header(L, t, t->user_agent_line);
    /* With a body, libcurl would label it a form, and wait for 100 Continue if it is large. */
    if (sends_body && !has_content_type)
        append_request_header(L, t, "Content-Type:");
    if (sends_body)
        append_request_header(L, t, "Expect:");
    t->headers_built = 1;
    t->headers_sends_body = sends_body;
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->request_headers);
    return NULL;
}

/* Forgets the previous answer: what the callbacks fill in starts empty. */
static void start_answer(transport *t)
{
    t->body.len = t->headers.len = t->header_bytes = 0;
    t->too_large = WITHIN_CAPS;
    t->skipping_headers = 0;
    t->head_done = 0;
    t->error[0] = '\0';
}

/* t:request(method, url, headers, body, options) -> status, headers, body | nil, err */
static int transport_request(lua_State *L)
{
    transport *t = check_transport(L);
    const char *method, *url, *body = NULL;
    size_t url_len, body_len = 0;
    long timeout_ms = t->timeout_ms, connect_timeout_ms = t->connect_timeout_ms;
    int sends_body;
    const char *problem;
    CURLcode code;
    CURL *easy = t->easy;

    lua_settop(L, 6);
    if (!easy)
        return push_usage_error(L, "attempt to use a closed transport");
    if (lua_type(L, 2) != LUA_TSTRING || !is_method_token(method = lua_tostring(L, 2)))
        return push_usage_error(L, "the HTTP method must be upper-case letters");
    if (lua_type(L, 3) != LUA_TSTRING)
        return push_usage_error(L, "the URL must be a string");
    url = lua_tolstring(L, 3, &url_len);
    if (has_line_break(url, url_len))
        return push_usage_error(L, "the URL holds a line break or a NUL");
    if (url_len > t->max_url_bytes)
        return push_usage_error(L, lua_pushfstring(L, "the URL is %d bytes long, above the limit of %d",
                                                   (int)(url_len > 0x7fffffff ? 0x7fffffff : url_len),
                                                   (int)t->max_url_bytes));
    if (!lua_isnil(L, 4) && lua_type(L, 4) != LUA_TTABLE)
        return push_usage_error(L, "headers must be a table of names to values");
    if (!lua_isnil(L, 5)) {
        if (lua_type(L, 5) != LUA_TSTRING)
            return push_usage_error(L, "the body must be a string or nil");
        body = lua_tolstring(L, 5, &body_len);
    }
    if (!lua_isnil(L, 6)) {
        if (lua_type(L, 6) != LUA_TTABLE)
            return push_usage_error(L, "the request options must be a table");
        if ((problem = opt_milliseconds(L, t, 6, "timeout", &timeout_ms))
            || (problem = opt_milliseconds(L, t, 6, "connect_timeout", &connect_timeout_ms)))
            return push_usage_error(L, problem);
    }
    /* The contract's framing: POST, PUT and PATCH always carry a body
     * (Content-Length: 0 when there is none); others only when given one. */
    sends_body = body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0
        || strcmp(method, "PATCH") == 0;
    if ((problem = set_request_headers(L, t, 4, sends_body)))
        return push_usage_error(L, problem);

    /* The handle keeps every option from the previous request: set them all. */
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(easy, CURLOPT_NOBODY, 0L);
    if (sends_body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body ? body : "");
    } else {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, sends_body ? "POST" : "GET") != 0)
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    /*
     * When a kept-alive connection gives no answer at all, libcurl sends the
     * request again on a new one by itself. The server may have acted on the
     * first (rented a number) and died before answering. libcurl cannot be
     * told not to, so only GET and HEAD, which change nothing, go out on a
     * reused connection; the others (rare calls) open a new one. The cosocket
     * transport re-sends only GET and HEAD too.
     */
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT,
                     (long)!(strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0));

    start_answer(t);
    drop_connections_with_pending_input(t);
    code = curl_easy_perform(easy);
    note_connection_version(t);
    /* The POST body is the caller's string: libcurl must not keep a pointer to it. */
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);

    if (code != CURLE_OK) {
        push_error(L, t, code);
    } else {
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        lua_pushinteger(L, (lua_Integer)status);
        if (t->success_headers || status < 200 || status >= 300)
            push_headers(L, &t->headers);
        else
            lua_newtable(L);
        lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
    }
    buffer_reset(&t->body);
    buffer_reset(&t->headers);
    return code == CURLE_OK ? 3 : 2;
}

/* --- lifetime ------------------------------------------------------------- */

/* close, __gc and __close: safe in any order and any number of times. */
static int transport_close(lua_State *L)
{
    transport *t = check_transport(L);
    if (t->easy) {
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    curl_slist_free_all(t->request_headers);
    t->request_headers = NULL;
    t->headers_built = 0;
    free(t->user_agent_line);
    t->user_agent_line = NULL;
    buffer_free(&t->body);
    buffer_free(&t->headers);
    return 0;
}

static int transport_tostring(lua_State *L)
{
    transport *t = check_transport(L);
    if (t->easy)
        lua_pushfstring(L, "sinchnumbers.transport (libcurl %s): %p", curl_version_info(CURLVERSION_NOW)->version, (void *)t);
    else
        lua_pushfstring(L, "sinchnumbers.transport (closed): %p", (void *)t);
    return 1;
}

/*
 * Keeps "User-Agent: <settings.user_agent>" as a line for the request header
 * list: CURLOPT_USERAGENT would have libcurl format that line anew for every
 * request, a share of a get's cost that callgrind makes plain (make bench
 * counts instructions per call).
 */
static void keep_user_agent(lua_State *L, transport *t, int settings)
{
    static const char prefix[] = "User-Agent: ";
    size_t len;
    const char *agent;

    get_setting(L, settings, "user_agent", LUA_TSTRING);
    agent = lua_tolstring(L, -1, &len);
    t->user_agent_line = malloc(sizeof prefix + len);
    if (!t->user_agent_line)
        luaL_error(L, "not enough memory for the user agent");
    memcpy(t->user_agent_line, prefix, sizeof prefix - 1);
    memcpy(t->user_agent_line + sizeof prefix - 1, agent, len);
    t->user_agent_line[sizeof prefix - 1 + len] = '\0';
    lua_pop(L, 1);
}

/* An optional string (checked by the contract) handed to libcurl, which
 * copies it; false is left to the caller. */
static void string_setting(lua_State *L, CURL *easy, int settings, const char *field, CURLoption option)
{
    lua_getfield(L, settings, field);
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TBOOLEAN) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "settings.%s must be a string or nil", field);
        curl_easy_setopt(easy, option, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
}

static void configure_handle(lua_State *L, transport *t, int settings)
{
    CURL *easy = t->easy;

    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM in threaded hosts such as nginx */
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, t);
    curl_easy_setopt(easy, CURLOPT_MAXCONNECTS, MAX_KEPT_CONNECTIONS);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* Stops a body announced with a Content-Length before any of it arrives. */
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_body_size);

    /* libcurl copies option strings, so the settings table need not outlive this. */
    string_setting(L, easy, settings, "ca_file", CURLOPT_CAINFO);
    string_setting(L, easy, settings, "client_cert", CURLOPT_SSLCERT);
    string_setting(L, easy, settings, "client_key", CURLOPT_SSLKEY);
    /* Left out, libcurl reads https_proxy, http_proxy and no_proxy from the
     * environment; false is no proxy at all, whatever the environment says. */
    lua_getfield(L, settings, "proxy");
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
        curl_easy_setopt(easy, CURLOPT_PROXY, "");
    lua_pop(L, 1);
    string_setting(L, easy, settings, "proxy", CURLOPT_PROXY);
    string_setting(L, easy, settings, "no_proxy", CURLOPT_NOPROXY);
    keep_user_agent(L, t, settings);
}

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

    t->timeout_ms = to_milliseconds(number_setting(L, 1, "timeout"));
    t->connect_timeout_ms = to_milliseconds(number_setting(L, 1, "connect_timeout"));
    t->max_body_size = (size_t)number_setting(L, 1, "max_body_size");
    t->max_header_bytes = (size_t)number_setting(L, 1, "max_header_bytes");
    t->max_url_bytes = (size_t)number_setting(L, 1, "max_url_bytes");
    t->max_seconds = number_setting(L, 1, "max_seconds");
    get_setting(L, 1, "success_headers", LUA_TBOOLEAN);
    t->success_headers = lua_toboolean(L, -1);
    lua_pop(L, 1);

    t->easy = curl_easy_init();
    if (!t->easy)
        return luaL_error(L, "libcurl could not make a handle");
    configure_handle(L, t, 1);
    return 1;
}

static const luaL_Reg transport_methods[] = {
    {"request", transport_request},
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

    luaL_newlib(L, module_functions);
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    return 1;
}
