/*
 * Header lines both ways: sn_split_header_line, which reads each response
 * header line, and set_request_headers, which turns the caller's header table
 * into the request's header lines (where a stray CR, LF or NUL would let a
 * value start a header, or a request, of its own).
 *
 * request.c is #included rather than linked: set_request_headers is static
 * there, and reaching it through t:request would need a server.
 *
 * Input: byte 0 is a set of flags (bit 0: the request sends a body; bit 1:
 * add a header whose value is a number; bit 2: make Lua run out of memory
 * after (byte 1 % 32) allocations inside set_request_headers). The rest is
 * lines: each whole line goes to sn_split_header_line, and each line with a
 * ':' becomes one header of the table, name before the first ':', value after
 * it, with a VT byte (0x0b) standing for LF, which cannot be in a line, and in
 * the name a US byte (0x1f) for ':', which cannot be before the first ':'.
 *
 * Properties of sn_split_header_line(line):
 *   - it returns 0 exactly for a line without ':' or whose bytes before the
 *     first ':' are not an RFC 9110 token (so a status line, "HTTP/1.1 ...",
 *     and an obsolete folded line, starting with white space, give 0);
 *   - otherwise the name is the bytes before the first ':', and the value is
 *     inside the line, after that ':', and is what follows it with SP HT CR LF
 *     taken off both ends.
 * Properties of set_request_headers(table):
 *   - it refuses the table (and leaves it to the caller to report) exactly
 *     when a name or value is not a string, or a name is not a token (empty,
 *     or holding anything but letters, digits and !#$%&'*+-.^_`|~), or a
 *     value holds CR, LF or NUL;
 *   - otherwise the list libcurl gets holds exactly one "name: value" (or
 *     "name;" for an empty value) per header but the framing ones
 *     (Content-Length, Transfer-Encoding, Connection, of any case), then "User-Agent: ..." unless
 *     the table has one, then "Content-Type:" when a body
 *     is sent without a Content-Type of any case, then "Expect:" when a body is
 *     sent, and no entry
 *     holds CR or LF;
 *   - out of memory inside it raises a memory error and leaks nothing once
 *     the request is closed, as sn_request_close frees the list.
 */
#include "../csrc/request.c"

#include "fuzz_common.h"

static CURL *easy; /* set_request_headers sets CURLOPT_HTTPHEADER on it; it never performs */

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    easy = curl_easy_init();
    FUZZ_CHECK(easy != NULL);
    return 0;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void check_split(const char *line, size_t len)
{
    /* A heap copy of exactly len bytes, so ASan sees a read past the line. */
    char *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL);
    if (len)
        memcpy(copy, line, len);
    const char *name = NULL, *value = NULL;
    size_t name_len = 0, value_len = 0;
    int r = sn_split_header_line(copy, len, &name, &name_len, &value, &value_len);

    const char *colon = len ? memchr(copy, ':', len) : NULL;
    int want = colon && fuzz_is_token(copy, (size_t)(colon - copy));
    FUZZ_CHECK(r == want);
    if (r) {
        FUZZ_CHECK(name == copy && name_len == (size_t)(colon - copy));
        size_t start = name_len + 1, stop = len;
        while (start < stop && is_ws(copy[start]))
            start++;
        while (stop > start && is_ws(copy[stop - 1]))
            stop--;
        FUZZ_CHECK(value == copy + start && value_len == stop - start);
        FUZZ_CHECK(value >= colon + 1 && value + value_len <= copy + len);
    }
    free(copy);
}

static int has_byte(const char *s, size_t len, char c)
{
    return len && memchr(s, c, len) != NULL;
}

static sn_request *current;
static int current_sends_body;

static int call_set_request_headers(lua_State *L)
{
    const char *problem;
    /* As in transport_request: the header table is argument 4 of 6. */
    lua_settop(L, 1);
    for (int i = 0; i < 3; i++) {
        lua_pushnil(L);
        lua_insert(L, 1);
    }
    lua_settop(L, 6);
    problem = set_request_headers(L, current, 4, current_sends_body);
    lua_pushstring(L, problem ? problem : "");
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int sends_body = data[0] & 1, number_value = data[0] & 2;
    long budget = data[0] & 4 ? (long)(data[1] % 32) : -1;
    const char *p = (const char *)data + 2, *end = (const char *)data + size;

    check_split((const char *)data, size);

    fuzz_alloc a;
    lua_State *L = fuzz_lua_open(&a);
    lua_newtable(L);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = eol ? (size_t)(eol - p + 1) : (size_t)(end - p);
        check_split(p, len);
        size_t text_len = eol ? len - 1 : len;
        const char *colon = memchr(p, ':', text_len);
        if (colon) {
            char *buf = malloc(text_len);
            FUZZ_CHECK(buf != NULL);
            size_t name_len = (size_t)(colon - p);
            for (size_t i = 0; i < text_len; i++)
                buf[i] = p[i] == '\v' ? '\n' : (p[i] == '\x1f' && i < name_len) ? ':' : p[i];
            lua_pushlstring(L, buf, name_len);
            lua_pushlstring(L, buf + name_len + 1, text_len - name_len - 1);
            lua_rawset(L, -3);
            free(buf);
        }
        p += len;
    }
    if (number_value) {
        lua_pushliteral(L, "X-Number");
        lua_pushinteger(L, 42);
        lua_rawset(L, -3);
    }

    /* What the table should give, worked out here. */
    int invalid = 0, has_content_type = 0, has_user_agent = 0;
    size_t entries = 0, framing = 0;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            invalid = 1;
        } else {
            size_t nl, vl;
            const char *n = lua_tolstring(L, -2, &nl), *v = lua_tolstring(L, -1, &vl);
            if (!fuzz_is_token(n, nl) || has_byte(v, vl, '\r') || has_byte(v, vl, '\n')
                || has_byte(v, vl, '\0'))
                invalid = 1;
            if (nl == 12 && strncasecmp(n, "content-type", 12) == 0)
                has_content_type = 1;
            if (nl == 10 && strncasecmp(n, "user-agent", 10) == 0)
                has_user_agent = 1;
            if (fuzz_is_framing_header(n, nl))
                framing++;
        }
        entries++;
        lua_pop(L, 1);
    }

    sn_limits limits;
    sn_request t;
    memset(&limits, 0, sizeof limits);
    memset(&t, 0, sizeof t);
    limits.user_agent_line = (char *)"User-Agent: fuzz"; /* what keep_user_agent makes */
    t.limits = &limits;
    t.easy = easy;
    current = &t;
    current_sends_body = sends_body;
    lua_pushvalue(L, 1);
    if (fuzz_lua_call(L, &a, call_set_request_headers, 1, 1, budget) == LUA_OK) {
        const char *problem = lua_tostring(L, -1);
        FUZZ_CHECK(invalid == (problem[0] != '\0'));
        if (invalid) {
            FUZZ_CHECK(strcmp(problem, "header names and values must be strings") == 0
                       || strncmp(problem, "a header name must be a token", 29) == 0);
        } else {
            /* The list, as a set, against a line made here for each header. */
            size_t listed = 0;
            const char *last = NULL, *before_last = NULL;
            lua_newtable(L);
            for (struct curl_slist *item = t.request_headers; item; item = item->next) {
                FUZZ_CHECK(item->data && !strchr(item->data, '\r') && !strchr(item->data, '\n'));
                lua_pushstring(L, item->data);
                lua_pushboolean(L, 1);
                lua_rawset(L, -3);
                before_last = last;
                last = item->data;
                listed++;
            }
            FUZZ_CHECK(listed == entries - framing + !has_user_agent + (sends_body && !has_content_type)
                                 + (sends_body ? 1 : 0));
            if (sends_body) {
                FUZZ_CHECK(last && strcmp(last, "Expect:") == 0);
                if (!has_content_type)
                    FUZZ_CHECK(before_last && strcmp(before_last, "Content-Type:") == 0);
            }
            lua_pushnil(L);
            while (lua_next(L, 1)) {
                size_t nl, vl;
                const char *n = lua_tolstring(L, -2, &nl), *v = lua_tolstring(L, -1, &vl);
                luaL_Buffer line;
                if (fuzz_is_framing_header(n, nl)) {
                    lua_pop(L, 1);
                    continue;
                }
                luaL_buffinit(L, &line);
                luaL_addlstring(&line, n, nl);
                if (vl) {
                    luaL_addlstring(&line, ": ", 2);
                    luaL_addlstring(&line, v, vl);
                } else {
                    luaL_addchar(&line, ';');
                }
                luaL_pushresult(&line); /* table, key, value, line */
                lua_rawget(L, -4);
                FUZZ_CHECK(lua_toboolean(L, -1));
                lua_pop(L, 2);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    FUZZ_CHECK(lua_gettop(L) == 0);
    fuzz_lua_close(L, &a);
    /* What sn_request_close does with the list; and libcurl must not keep it. */
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(t.request_headers);
    return 0;
}
