/*
 * The response path of the transport, driven as libcurl drives it: each
 * header line through on_header (a status line first, a second block after
 * "HTTP/1.1 100 Continue"), then the body in chunks through on_body, then
 * push_headers building the Lua table that t:request returns. Each input is
 * played twice on the same transport, with buffer_reset between, as two
 * requests on one kept-alive handle are.
 *
 * request.c is #included rather than linked: on_body, on_header,
 * push_headers, error_kind and the buffers are static there, and a harness
 * that reached them through a real transfer would need a server and would
 * fuzz the network instead of our code.
 *
 * Input: byte 0 gives max_body_size (1 to 256), byte 1 the sizes of the body
 * chunks (two alternating sizes of 1 to 16), byte 2 a mode: 0x00-0x3f makes
 * Lua run out of memory after that many allocations inside push_headers,
 * 0xff adds header lines of 256 KiB - 4 KiB + 28 * byte 1 bytes in all after
 * the status line (so that the lines of the input cross the 256 KiB header
 * cap, or just stay under it). The rest is the response: header lines up to a
 * blank line (more blocks when the next line starts "HTTP/"), then the body.
 *
 * Properties:
 *   - the header and body buffers hold exactly the bytes fed since the last
 *     status line (headers) or since the start (body), never more than the
 *     caps (256 KiB, max_body_size);
 *   - too_large is set exactly when a line or a chunk would pass its cap, that
 *     call and no other returns 0 (which makes libcurl stop), and error_kind
 *     then says "too_large";
 *   - push_headers leaves one table on the Lua stack, whose keys are non-empty
 *     strings without A-Z, ':', CR or LF and whose values are strings, equal
 *     to the table the rules in request.c (lines whose name is not an RFC
 *     9110 token left out, lower-case name, value trimmed of
 *     SP HT CR LF, repeats joined with ", ") give when applied here anew;
 *   - out of memory at any allocation in push_headers raises a memory error
 *     without a leak; buffer_free and lua_close leave nothing behind.
 *
 * libcurl 7.88 fails a transfer whose header line has a CR before its colon
 * (lib/headers.c), so such a block never reaches push_headers; the harness
 * does the same unless built with -DFUZZ_STRICT_HEADERS.
 */
#include "../csrc/request.c"

/* The contract's header cap (contract.MAX_HEADER_BYTES), as new() sets it. */
#define FUZZ_MAX_HEADER_BYTES (256u * 1024u)

#include "fuzz_common.h"

#define SYNTHETIC_STATUS "HTTP/1.1 200 OK\r\n"

typedef struct {
    const char *p;
    size_t len;
} span;

static CURL *easy; /* for push_error's curl_easy_getinfo; never performs */

/*
 * The padding lines, made once: "X-Pad-NN: aaa...\r\n", PAD_LINE bytes each,
 * and the last, shorter one made per input: 4 KiB lines rather than one of
 * 256 KiB, as ASan maps each large block afresh, and a run that fills the
 * header buffer (itself a large block) already takes some milliseconds.
 */
#define PAD_LINE 4096
#define PAD_LINES (FUZZ_MAX_HEADER_BYTES / PAD_LINE + 2)
static char *pad_lines, pad_last[2 * PAD_LINE];

static size_t add_padding(span *lines, size_t count, size_t total)
{
    size_t full = total / PAD_LINE, rest = total % PAD_LINE;
    if (full > 0 && rest < 32) {
        full--;
        rest += PAD_LINE;
    }
    for (size_t i = 0; i < full; i++)
        lines[count++] = (span){pad_lines + i * PAD_LINE, PAD_LINE};
    if (rest) {
        memset(pad_last, 'a', rest);
        memcpy(pad_last, "X-Pad-Last: ", 12);
        memcpy(pad_last + rest - 2, "\r\n", 2);
        lines[count++] = (span){pad_last, rest};
    }
    return count;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    easy = curl_easy_init();
    FUZZ_CHECK(easy != NULL);
    pad_lines = malloc(PAD_LINES * PAD_LINE);
    FUZZ_CHECK(pad_lines != NULL);
    memset(pad_lines, 'a', PAD_LINES * PAD_LINE);
    for (size_t i = 0; i < PAD_LINES; i++) {
        char *line = pad_lines + i * PAD_LINE;
        memcpy(line, "X-Pad-", 6);
        line[6] = (char)('0' + i / 10);
        line[7] = (char)('0' + i % 10);
        memcpy(line + 8, ": ", 2);
        memcpy(line + PAD_LINE - 2, "\r\n", 2);
    }
    return 0;
}

static int starts_status(span s)
{
    return s.len >= 5 && memcmp(s.p, "HTTP/", 5) == 0;
}

static int is_blank(span s)
{
    return (s.len == 1 && s.p[0] == '\n') || (s.len == 2 && s.p[0] == '\r' && s.p[1] == '\n');
}

/* What libcurl 7.88 refuses before push_headers could see it. */
static int libcurl_refuses(span s)
{
#ifdef FUZZ_STRICT_HEADERS
    (void)s;
    return 0;
#else
    if (starts_status(s) || is_blank(s))
        return 0;
    const char *cr = memchr(s.p, '\r', s.len), *colon = memchr(s.p, ':', s.len);
    return cr && (!colon || cr < colon);
#endif
}

/* A call of a libcurl callback with its own heap copy, so ASan sees any read past it. */
static size_t call_callback(size_t (*callback)(char *, size_t, size_t, void *),
                            span s, sn_request *t)
{
    char *copy = malloc(s.len ? s.len : 1);
    FUZZ_CHECK(copy != NULL);
    if (s.len)
        memcpy(copy, s.p, s.len);
    size_t r = callback(copy, 1, s.len, t);
    free(copy);
    return r;
}

static int call_push_headers(lua_State *L)
{
    const sn_buffer *raw = lua_touserdata(L, 1);
    push_headers(L, raw);
    FUZZ_CHECK(lua_gettop(L) == 2 && lua_istable(L, 2));
    return 1;
}

static int is_trim_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The header table the documented rules give, built here independently. */
static void push_expected_headers(lua_State *L, const span *lines, size_t first, size_t count)
{
    lua_newtable(L);
    for (size_t i = first; i < count; i++) {
        span s = lines[i];
        const char *colon = memchr(s.p, ':', s.len);
        if (starts_status(s) || !colon || !fuzz_is_token(s.p, (size_t)(colon - s.p)))
            continue;
        size_t name_len = (size_t)(colon - s.p);
        char *name = malloc(name_len);
        FUZZ_CHECK(name != NULL);
        for (size_t j = 0; j < name_len; j++)
            name[j] = (s.p[j] >= 'A' && s.p[j] <= 'Z') ? (char)(s.p[j] - 'A' + 'a') : s.p[j];
        const char *v = colon + 1, *v_end = s.p + s.len;
        while (v < v_end && is_trim_space(*v))
            v++;
        while (v_end > v && is_trim_space(v_end[-1]))
            v_end--;
        lua_pushlstring(L, name, name_len);
        free(name);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushlstring(L, v, (size_t)(v_end - v));
        } else {
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, v, (size_t)(v_end - v));
            lua_concat(L, 3);
        }
        lua_rawset(L, -3);
    }
}

/* The table at -2 (from push_headers) against the expected one at -1. */
static void check_header_table(lua_State *L)
{
    size_t actual = 0, expected = 0;
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        size_t key_len;
        FUZZ_CHECK(lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING);
        const char *key = lua_tolstring(L, -2, &key_len);
        FUZZ_CHECK(key_len > 0);
        for (size_t i = 0; i < key_len; i++)
            FUZZ_CHECK(!(key[i] >= 'A' && key[i] <= 'Z') && key[i] != ':' && key[i] != '\r'
                       && key[i] != '\n');
        lua_pushvalue(L, -2);
        lua_rawget(L, -4); /* the expected table: key, value, expected value */
        FUZZ_CHECK(lua_type(L, -1) == LUA_TSTRING && lua_rawequal(L, -1, -2));
        lua_pop(L, 2);
        actual++;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        expected++;
    }
    FUZZ_CHECK(actual == expected);
}

/*
 * One request's worth of callbacks on t. Returns nothing; checks as it goes.
 */
static void play(sn_request *t, lua_State *L, fuzz_alloc *a, const span *lines, size_t count,
                 span body, size_t chunk_a, size_t chunk_b, long budget)
{
    size_t model_len = 0, block_first = 0, fed = 0;
    int stopped = 0, refused = 0;

    /* What transport_request does before curl_easy_perform. */
    start_answer(t);

    for (fed = 0; fed < count; fed++) {
        span s = lines[fed];
        if (starts_status(s)) {
            model_len = 0;
            block_first = fed;
        }
        int over = s.len > FUZZ_MAX_HEADER_BYTES - model_len;
        size_t r = call_callback(on_header, s, t);
        FUZZ_CHECK(t->too_large == (over ? HEADERS_TOO_LARGE : WITHIN_CAPS));
        if (over) {
            FUZZ_CHECK(r == 0);
            stopped = 1;
            break;
        }
        FUZZ_CHECK(r == s.len);
        model_len += s.len;
        FUZZ_CHECK(t->headers.len == model_len && t->headers.len <= FUZZ_MAX_HEADER_BYTES);
        FUZZ_CHECK(t->headers.cap >= t->headers.len);
        refused |= libcurl_refuses(s);
    }
    /* The kept block is exactly the lines since the last status line. */
    {
        size_t at = 0;
        for (size_t i = block_first; i < fed && !stopped; i++) {
            FUZZ_CHECK(memcmp(t->headers.data + at, lines[i].p, lines[i].len) == 0);
            at += lines[i].len;
        }
        FUZZ_CHECK(stopped || at == t->headers.len);
    }

    if (!stopped) {
        size_t taken = 0;
        if (body.len == 0) {
            /* libcurl may call the write callback once with no data for an empty body. */
            FUZZ_CHECK(on_body((char *)body.p, 1, 0, t) == 0);
            FUZZ_CHECK(!t->too_large && t->body.len == 0);
        }
        for (int k = 0; taken < body.len; k++) {
            size_t n = k % 2 ? chunk_b : chunk_a;
            if (n > body.len - taken)
                n = body.len - taken;
            int over = taken + n > t->limits->max_body_size;
            span chunk = {body.p + taken, n};
            size_t r = call_callback(on_body, chunk, t);
            FUZZ_CHECK(t->too_large == (over ? BODY_TOO_LARGE : WITHIN_CAPS));
            if (over) {
                FUZZ_CHECK(r == 0);
                stopped = 1;
                break;
            }
            FUZZ_CHECK(r == n);
            taken += n;
            FUZZ_CHECK(t->body.len == taken && t->body.len <= t->limits->max_body_size);
        }
        FUZZ_CHECK(t->body.len == taken);
        FUZZ_CHECK(taken == 0 || memcmp(t->body.data, body.p, taken) == 0);
        FUZZ_CHECK(t->too_large == (body.len > t->limits->max_body_size ? BODY_TOO_LARGE : WITHIN_CAPS));
    }
    FUZZ_CHECK(t->body.len <= t->limits->max_body_size);
    FUZZ_CHECK(strcmp(error_kind(t, CURLE_WRITE_ERROR, 1), "too_large") == 0 || !t->too_large);
    FUZZ_CHECK(strcmp(error_kind(t, CURLE_WRITE_ERROR, 1), "network") == 0 || t->too_large);

    if (stopped) {
        /* t:request returns nil and the error; check its shape. */
        FUZZ_CHECK(push_error(L, t, CURLE_WRITE_ERROR) == 2);
        FUZZ_CHECK(lua_isnil(L, -2) && lua_istable(L, -1));
        lua_getfield(L, -1, "kind");
        FUZZ_CHECK(lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "too_large") == 0);
        lua_getfield(L, -2, "message"); /* names the cap that stopped it */
        FUZZ_CHECK(lua_type(L, -1) == LUA_TSTRING
                   && (strstr(lua_tostring(L, -1), "response headers") != NULL)
                          == (t->too_large == HEADERS_TOO_LARGE));
        lua_pop(L, 4);
    } else if (!refused) {
        lua_pushlightuserdata(L, &t->headers);
        if (fuzz_lua_call(L, a, call_push_headers, 1, 1, budget) == LUA_OK) {
            push_expected_headers(L, lines, block_first, count);
            check_header_table(L);
            lua_pop(L, 2);
        }
    }
    FUZZ_CHECK(lua_gettop(L) == 0);

    /* What transport_request does after it. */
    buffer_reset(&t->body);
    buffer_reset(&t->headers);
    FUZZ_CHECK(t->body.len == 0 && t->headers.len == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t max_body = 1 + (size_t)data[0];
    size_t chunk_a = 1 + (data[1] & 15), chunk_b = 1 + (data[1] >> 4);
    unsigned mode = data[2];
    size_t pad_len = mode == 0xff ? FUZZ_MAX_HEADER_BYTES - 4096 + data[1] * 28u : 0;
    long budget = mode < 0x40 ? (long)mode : -1;
    const char *p = (const char *)data + 3, *end = (const char *)data + size;

    /* The lines, with a status line first as libcurl always gives one. */
    span *lines = malloc((size + 3 + PAD_LINES) * sizeof *lines);
    size_t count = 0;
    FUZZ_CHECK(lines != NULL);
    if (!(end - p >= 5 && memcmp(p, "HTTP/", 5) == 0))
        lines[count++] = (span){SYNTHETIC_STATUS, sizeof SYNTHETIC_STATUS - 1};
    while (p < end) {
        if (pad_len && count == 1) {
            count = add_padding(lines, count, pad_len); /* right after the status line */
            pad_len = 0;
        }
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        span s = {p, eol ? (size_t)(eol - p + 1) : (size_t)(end - p)};
        lines[count++] = s;
        p += s.len;
        if (is_blank(s) && !(end - p >= 5 && memcmp(p, "HTTP/", 5) == 0))
            break; /* the end of the last header block: the rest is the body */
    }
    if (pad_len && count == 1 && lines[0].p[lines[0].len - 1] == '\n')
        count = add_padding(lines, count, pad_len); /* (libcurl gives whole lines only) */
    span body = {p, (size_t)(end - p)};

    fuzz_alloc a;
    lua_State *L = fuzz_lua_open(&a);
    sn_limits limits;
    sn_request t;
    memset(&limits, 0, sizeof limits);
    memset(&t, 0, sizeof t);
    limits.success_headers = 1; /* as sinchnumbers.transport.curl makes it by default: every header block is kept */
    limits.max_body_size = max_body;
    limits.max_header_bytes = FUZZ_MAX_HEADER_BYTES;
    t.limits = &limits;
    t.easy = easy;

    play(&t, L, &a, lines, count, body, chunk_a, chunk_b, budget);
    play(&t, L, &a, lines, count, body, chunk_b, chunk_a, -1);

    buffer_free(&t.body);
    buffer_free(&t.headers);
    FUZZ_CHECK(t.body.data == NULL && t.headers.data == NULL);
    fuzz_lua_close(L, &a);
    free(lines);
    return 0;
}
