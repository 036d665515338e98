/*
 * One request on one libcurl easy handle (see request.h): the part of the
 * libcurl transport that the sequential Transport (transport.c) and the
 * Multi (multi.c) share. Nothing here is per call that can be kept: the
 * handle, the receive buffers and the request header list live as long as
 * the sn_request, so that a handle reused for the next request allocates
 * nothing while nothing changes.
 */
#include "request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

/* A buffer larger than this after a request is given back, not kept. */
#define KEEP_BUFFER_BYTES (256u * 1024u)

/* --- buffers -------------------------------------------------------------- */

static int buffer_append(sn_buffer *b, const char *data, size_t len)
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

static void buffer_reset(sn_buffer *b)
{
    if (b->cap > KEEP_BUFFER_BYTES) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
    b->len = 0;
}

static void buffer_free(sn_buffer *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* --- libcurl callbacks ---------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t count, void *userdata)
{
    sn_request *r = userdata;
    size_t len = size * count;

    /* CURLOPT_MAXFILESIZE only sees a Content-Length; a chunked body is capped here. */
    if (len > r->limits->max_body_size - r->body.len) {
        r->too_large = BODY_TOO_LARGE;
        return 0;
    }
    return buffer_append(&r->body, data, len) ? len : 0;
}

static size_t on_header(char *data, size_t size, size_t count, void *userdata)
{
    sn_request *r = userdata;
    size_t len = size * count;

    /* A new status line (after a 100 Continue, say) starts a new header block. */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        const char *space = memchr(data, ' ', len);
        r->headers.len = r->header_bytes = 0;
        r->head_done = 0;
        r->skipping_headers = !r->limits->success_headers && space && (size_t)(space - data) + 1 < len && space[1] == '2';
    }
    /* Counted even when not kept: the cap is about what the server sends. */
    if (len > r->limits->max_header_bytes - r->header_bytes) {
        r->too_large = HEADERS_TOO_LARGE;
        return 0;
    }
    r->header_bytes += len;
    if ((len == 2 && data[0] == '\r') || (len == 1 && data[0] == '\n'))
        r->head_done = 1;
    if (r->skipping_headers)
        return len;
    return buffer_append(&r->headers, data, len) ? len : 0;
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
static void push_headers(lua_State *L, const sn_buffer *raw)
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
static const char *error_kind(const sn_request *r, CURLcode code, int sent)
{
    if (r->too_large || code == CURLE_FILESIZE_EXCEEDED)
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

/*
 * nil, { kind, message, curl_code, sent }. `sent` is false only when not a
 * byte of the request left this process, which is what makes a POST safe
 * to try again.
 */
static int push_error(lua_State *L, sn_request *r, CURLcode code)
{
    long request_size = 0;
    int sent;
    curl_easy_getinfo(r->easy, CURLINFO_REQUEST_SIZE, &request_size);
    /* The request size counts a proxy's CONNECT too: when the proxy answered
     * one and the transfer never began (the tunnel refused, or TLS through it
     * failed), nothing of the request itself went out. */
    sent = request_size > 0 && !(tunnel_answered(r->easy) && !transfer_began(r->easy));
    /* libcurl holds one header line in a buffer of CURL_MAX_HTTP_HEADER
     * bytes and calls a longer one "Out of memory". */
    if (code == CURLE_OUT_OF_MEMORY && sent && !r->head_done)
        r->too_large = HEADER_LINE_TOO_LARGE;

    lua_pushnil(L);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, error_kind(r, code, sent));
    lua_setfield(L, -2, "kind");
    if (r->too_large == HEADERS_TOO_LARGE)
        lua_pushfstring(L, "response headers larger than the limit of %d bytes", (int)r->limits->max_header_bytes);
    else if (r->too_large == HEADER_LINE_TOO_LARGE)
        lua_pushfstring(L, "a response header line longer than libcurl's limit of %d bytes",
                        (int)CURL_MAX_HTTP_HEADER);
    else if (r->too_large || code == CURLE_FILESIZE_EXCEEDED)
        lua_pushfstring(L, "response larger than the limit of %d bytes",
                        (int)(r->limits->max_body_size > 0x7fffffff ? 0x7fffffff : r->limits->max_body_size));
    else
        lua_pushstring(L, r->error[0] ? r->error : curl_easy_strerror(code));
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, (lua_Integer)code);
    lua_setfield(L, -2, "curl_code");
    lua_pushboolean(L, sent);
    lua_setfield(L, -2, "sent");
    return 2;
}

int sn_push_usage_error(lua_State *L, const char *message)
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
static const char *opt_milliseconds(lua_State *L, const sn_request *r, int idx, const char *field, long *ms)
{
    const char *problem = NULL;
    lua_getfield(L, idx, field);
    if (!lua_isnil(L, -1)) {
        lua_Number seconds = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(seconds > 0) || seconds > r->limits->max_seconds) {
            /* The message takes the value's slot, so that it stays referenced. */
            problem = lua_pushfstring(L, "%s must be a number of seconds above 0 and at most %d",
                                      field, (int)r->limits->max_seconds);
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

/* On failure the list stays whole (and owned by r), so nothing leaks. */
static void append_request_header(lua_State *L, sn_request *r, const char *line)
{
    struct curl_slist *grown = curl_slist_append(r->request_headers, line);
    if (!grown)
        luaL_error(L, "not enough memory for the request headers");
    r->request_headers = grown;
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
static int headers_unchanged(lua_State *L, sn_request *r, int idx, int sends_body)
{
    const struct curl_slist *item = r->request_headers;
    size_t compared = 0;

    if (!r->headers_built || sends_body != r->headers_sends_body || lua_type(L, idx) != LUA_TTABLE)
        return 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t name_len, value_len;
        const char *name, *value;
        if (compared++ == r->headers_given || lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
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
    return compared == r->headers_given;
}

/*
 * Builds the request header list from the table at idx, unless the list of
 * the previous request says the same. Returns NULL and sets *problem on a
 * header that would break the request apart.
 */
static const char *set_request_headers(lua_State *L, sn_request *r, int idx, int sends_body)
{
    int has_content_type = 0, has_user_agent = 0;
    luaL_Buffer line;

    if (headers_unchanged(L, r, idx, sends_body))
        return NULL;

    /* The handle must never hold a pointer to a freed list, even if this raises. */
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(r->request_headers);
    r->request_headers = NULL;
    r->headers_built = 0;
    r->headers_given = 0;

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
            append_request_header(L, r, lua_tostring(L, -1));
            r->headers_given++;
            lua_pop(L, 2);
        }
    }

    if (!has_user_agent)
        append_request_header(L, r, r->limits->user_agent_line);
    /* With a body, libcurl would label it a form, and wait for 100 Continue if it is large. */
    if (sends_body && !has_content_type)
        append_request_header(L, r, "Content-Type:");
    if (sends_body)
        append_request_header(L, r, "Expect:");
    r->headers_built = 1;
    r->headers_sends_body = sends_body;
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->request_headers);
    return NULL;
}

/* Forgets the previous answer: what the callbacks fill in starts empty. */
static void start_answer(sn_request *r)
{
    r->body.len = r->headers.len = r->header_bytes = 0;
    r->too_large = WITHIN_CAPS;
    r->skipping_headers = 0;
    r->head_done = 0;
    r->error[0] = '\0';
}

const char *sn_request_prepare(lua_State *L, sn_request *r, int first, sn_body_mode mode)
{
    const int method_at = first, url_at = first + 1, headers_at = first + 2, body_at = first + 3, opts_at = first + 4;
    const sn_limits *limits = r->limits;
    const char *method, *url, *body = NULL;
    size_t url_len, body_len = 0;
    long timeout_ms = limits->timeout_ms, connect_timeout_ms = limits->connect_timeout_ms;
    int sends_body, idempotent = 0;
    const char *problem;
    CURL *easy = r->easy;

    if (lua_type(L, method_at) != LUA_TSTRING || !is_method_token(method = lua_tostring(L, method_at)))
        return "the HTTP method must be upper-case letters";
    if (lua_type(L, url_at) != LUA_TSTRING)
        return "the URL must be a string";
    url = lua_tolstring(L, url_at, &url_len);
    if (has_line_break(url, url_len))
        return "the URL holds a line break or a NUL";
    if (url_len > limits->max_url_bytes)
        return lua_pushfstring(L, "the URL is %d bytes long, above the limit of %d",
                               (int)(url_len > 0x7fffffff ? 0x7fffffff : url_len), (int)limits->max_url_bytes);
    if (!lua_isnil(L, headers_at) && lua_type(L, headers_at) != LUA_TTABLE)
        return "headers must be a table of names to values";
    if (!lua_isnil(L, body_at)) {
        if (lua_type(L, body_at) != LUA_TSTRING)
            return "the body must be a string or nil";
        body = lua_tolstring(L, body_at, &body_len);
    }
    if (!lua_isnil(L, opts_at)) {
        if (lua_type(L, opts_at) != LUA_TTABLE)
            return "the request options must be a table";
        if ((problem = opt_milliseconds(L, r, opts_at, "timeout", &timeout_ms))
            || (problem = opt_milliseconds(L, r, opts_at, "connect_timeout", &connect_timeout_ms)))
            return problem;
        lua_getfield(L, opts_at, "idempotent");
        if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TBOOLEAN)
            return "idempotent must be true, false or nil";
        idempotent = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    /* The contract's framing: POST, PUT and PATCH always carry a body
     * (Content-Length: 0 when there is none); others only when given one. */
    sends_body = body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0
        || strcmp(method, "PATCH") == 0;
    if ((problem = set_request_headers(L, r, headers_at, sends_body)))
        return problem;

    /* The handle keeps every option from the previous request: set them all. */
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(easy, CURLOPT_NOBODY, 0L);
    if (sends_body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(easy, mode == BODY_COPIED ? CURLOPT_COPYPOSTFIELDS : CURLOPT_POSTFIELDS, body ? body : "");
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
     * request again on a new one by itself, and cannot be told not to; the
     * contract's "Sending again" says which requests may go out twice so,
     * and so on a kept-alive connection. The others (a rent) open a new one.
     */
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT,
                     (long)!(idempotent || strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0));
    start_answer(r);
    return NULL;
}

int sn_request_push_result(lua_State *L, sn_request *r, CURLcode code)
{
    /* The body is no longer libcurl's to read (a borrowed one is the caller's string). */
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, NULL);
    if (code != CURLE_OK) {
        push_error(L, r, code);
    } else {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        lua_pushinteger(L, (lua_Integer)status);
        if (r->limits->success_headers || status < 200 || status >= 300)
            push_headers(L, &r->headers);
        else
            lua_newtable(L);
        lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.len);
    }
    buffer_reset(&r->body);
    buffer_reset(&r->headers);
    return code == CURLE_OK ? 3 : 2;
}

/* --- the handle and its settings ------------------------------------------ */

/*
 * Keeps "User-Agent: <settings.user_agent>" as a line for the request header
 * list: CURLOPT_USERAGENT would have libcurl format that line anew for every
 * request, a share of a get's cost that callgrind makes plain (make bench
 * counts instructions per call).
 */
static void keep_user_agent(lua_State *L, sn_limits *limits, int settings)
{
    static const char prefix[] = "User-Agent: ";
    size_t len;
    const char *agent;

    get_setting(L, settings, "user_agent", LUA_TSTRING);
    agent = lua_tolstring(L, -1, &len);
    limits->user_agent_line = malloc(sizeof prefix + len);
    if (!limits->user_agent_line)
        luaL_error(L, "not enough memory for the user agent");
    memcpy(limits->user_agent_line, prefix, sizeof prefix - 1);
    memcpy(limits->user_agent_line + sizeof prefix - 1, agent, len);
    limits->user_agent_line[sizeof prefix - 1 + len] = '\0';
    lua_pop(L, 1);
}

void sn_limits_read(lua_State *L, int idx, sn_limits *limits)
{
    limits->timeout_ms = to_milliseconds(number_setting(L, idx, "timeout"));
    limits->connect_timeout_ms = to_milliseconds(number_setting(L, idx, "connect_timeout"));
    limits->max_body_size = (size_t)number_setting(L, idx, "max_body_size");
    limits->max_header_bytes = (size_t)number_setting(L, idx, "max_header_bytes");
    limits->max_url_bytes = (size_t)number_setting(L, idx, "max_url_bytes");
    limits->max_seconds = number_setting(L, idx, "max_seconds");
    get_setting(L, idx, "success_headers", LUA_TBOOLEAN);
    limits->success_headers = lua_toboolean(L, -1);
    lua_pop(L, 1);
    keep_user_agent(L, limits, idx);
}

void sn_limits_free(sn_limits *limits)
{
    free(limits->user_agent_line);
    limits->user_agent_line = NULL;
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

static curl_socket_t open_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *address);
static int close_socket(void *userdata, curl_socket_t fd);

void sn_request_open(lua_State *L, sn_request *r, const sn_limits *limits, sn_connections *connections, int settings)
{
    CURL *easy = curl_easy_init();

    if (!easy)
        luaL_error(L, "libcurl could not make a handle");
    r->easy = easy;
    r->limits = limits;
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM in threaded hosts such as nginx */
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->error);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, connections);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, connections);
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
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)limits->max_body_size);

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
}

void sn_request_close(sn_request *r)
{
    if (r->easy) {
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    curl_slist_free_all(r->request_headers);
    r->request_headers = NULL;
    r->headers_built = 0;
    buffer_free(&r->body);
    buffer_free(&r->headers);
}

/* --- kept connections ----------------------------------------------------- */

/*
 * libcurl opens and closes every socket through these two, so that we know
 * the sockets of the connections kept. Never more than `capacity`: the
 * owner sets libcurl's own limit of kept connections below it.
 */
static curl_socket_t open_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *address)
{
    sn_connections *c = userdata;
    curl_socket_t fd;

    (void)purpose;
    if (c->count == c->capacity)
        return CURL_SOCKET_BAD;
    fd = socket(address->family, address->socktype, address->protocol);
    if (fd != CURL_SOCKET_BAD) {
        sn_socket *s = &c->list[c->count++];
        memset(s, 0, sizeof *s);
        s->fd = fd;
    }
    return fd;
}

static int close_socket(void *userdata, curl_socket_t fd)
{
    sn_connections *c = userdata;
    for (int i = 0; i < c->count; i++) {
        if (c->list[i].fd == fd) {
            c->list[i] = c->list[--c->count];
            break;
        }
    }
    return close(fd);
}

int sn_connections_init(sn_connections *c, int capacity)
{
    c->count = 0;
    c->capacity = capacity;
    c->list = calloc((size_t)capacity, sizeof *c->list);
    c->polled = calloc((size_t)capacity, sizeof *c->polled);
    if (!c->list || !c->polled) {
        sn_connections_free(c);
        return 0;
    }
    return 1;
}

void sn_connections_free(sn_connections *c)
{
    free(c->list);
    free(c->polled);
    c->list = NULL;
    c->polled = NULL;
    c->count = c->capacity = 0;
}

int sn_request_spoke_http1(const sn_request *r)
{
    long version = 0;
    curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &version);
    return version == CURL_HTTP_VERSION_1_0 || version == CURL_HTTP_VERSION_1_1;
}

/* Remembers whether the connection the request used speaks HTTP/1; it is idle now. */
void sn_connections_note(sn_connections *c, sn_request *r)
{
    curl_socket_t fd = CURL_SOCKET_BAD;
    int http1;
    curl_easy_getinfo(r->easy, CURLINFO_ACTIVESOCKET, &fd);
    if (fd == CURL_SOCKET_BAD)
        return;
    http1 = sn_request_spoke_http1(r);
    for (int i = 0; i < c->count; i++) {
        if (c->list[i].fd == fd) {
            c->list[i].http1 = http1;
            c->list[i].busy = 0;
        }
    }
}

/*
 * An idle HTTP/1 connection has nothing to say between answers. Bytes
 * waiting on one mean the server framed its last answer otherwise than we
 * read it (more after a Content-Length body, say): reused, those bytes
 * would be read as the next request's answer. Such a connection is shut
 * down here, so that libcurl finds it dead, closes it and opens another.
 * (An end of stream waiting is a connection the server closed: the same.)
 * One poll() looks at all of them.
 */
void sn_connections_drop_unclean(sn_connections *c)
{
    nfds_t watched = 0;
    for (int i = 0; i < c->count; i++) {
        if (c->list[i].http1 && !c->list[i].busy) {
            c->polled[watched].fd = c->list[i].fd;
            c->polled[watched].events = POLLIN;
            c->polled[watched].revents = 0;
            watched++;
        }
    }
    if (watched == 0 || poll(c->polled, watched, 0) <= 0)
        return;
    /* The polled ones are the list's idle HTTP/1 ones, in its order. One
     * shut down has nothing more to say: it is not looked at again. */
    watched = 0;
    for (int i = 0; i < c->count; i++) {
        if (c->list[i].http1 && !c->list[i].busy && c->polled[watched++].revents) {
            shutdown(c->list[i].fd, SHUT_RDWR);
            c->list[i].http1 = 0;
        }
    }
}

static int port_of(curl_socket_t fd, int peer)
{
    struct sockaddr_storage address;
    socklen_t len = sizeof address;
    if ((peer ? getpeername(fd, (struct sockaddr *)&address, &len) : getsockname(fd, (struct sockaddr *)&address, &len)) != 0)
        return -1;
    if (address.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&address)->sin_port);
    if (address.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
    return -1;
}

/*
 * libcurl names the connection a transfer of a Multi goes out on by its
 * ports only (CURLOPT_PREREQFUNCTION): every socket between those ports is
 * taken to be busy (two hosts on the same port may share a local port), so
 * that no connection in use is ever taken for an idle one.
 */
void sn_connections_busy(sn_connections *c, int local_port, int remote_port)
{
    for (int i = 0; i < c->count; i++) {
        sn_socket *s = &c->list[i];
        if (s->local_port <= 0) {
            s->local_port = port_of(s->fd, 0);
            s->remote_port = port_of(s->fd, 1);
        }
        if (s->local_port == local_port && s->remote_port == remote_port)
            s->busy = 1;
    }
}

void sn_connections_idle(sn_connections *c, int local_port, int remote_port, int http1)
{
    for (int i = 0; i < c->count; i++) {
        sn_socket *s = &c->list[i];
        if (s->local_port == local_port && s->remote_port == remote_port) {
            s->busy = 0;
            s->http1 = http1;
        }
    }
}
