/*
 * One HTTP request on one libcurl easy handle, as the transport contract
 * (lua/sinchnumbers/transport/contract.lua) says it is made and answered:
 * what the sequential Transport (transport.c) and the Multi (multi.c) share.
 * The request's arguments are checked and put on the handle, the answer is
 * collected by libcurl's callbacks within the caps, and pushed as
 * `status, headers, body` or `nil, err` with the error classified. The
 * kept connections are watched here too, so that bytes waiting on an idle
 * HTTP/1 connection never become the next answer. Internal: nothing here
 * leaves the shared object.
 */
#ifndef SINCHNUMBERS_REQUEST_H
#define SINCHNUMBERS_REQUEST_H

#include <stddef.h>
#include <poll.h>
#include <curl/curl.h>
#include "compat.h"

typedef struct {
    char *data;
    size_t len, cap;
} sn_buffer;

/* What the settings (contract.settings) fix for every request of an object. */
typedef struct {
    int success_headers;                /* make the header table of a 2xx answer too */
    char *user_agent_line;              /* "User-Agent: ...", sent unless the caller gives one */
    size_t max_body_size, max_header_bytes, max_url_bytes;
    long timeout_ms, connect_timeout_ms;
    lua_Number max_seconds;             /* the longest timeout a request may ask for */
} sn_limits;

/* A socket libcurl opened through us, and whether its connection last
 * carried HTTP/1 (where bytes can arrive between answers). */
typedef struct {
    curl_socket_t fd;
    int http1;
    int busy;                           /* a transfer of a Multi is on it (see sn_connections_busy) */
    int local_port, remote_port;        /* 0 until looked up */
} sn_socket;

/* The sockets of the connections one object keeps (a Transport's handle, or
 * a Multi's shared cache): room for `capacity`, the rest refused. */
typedef struct {
    sn_socket *list;
    struct pollfd *polled;              /* room for one poll() over all of them */
    int count, capacity;
} sn_connections;

typedef struct {
    CURL *easy;                         /* NULL when not made or closed */
    const sn_limits *limits;
    struct curl_slist *request_headers; /* freed on the next request or on close */
    int headers_built;                  /* request_headers is complete (not cut short by an error) */
    size_t headers_given;               /* how many of its lines came from the caller's table */
    int headers_sends_body;             /* what the list was built for */
    int skipping_headers;               /* this block's are not wanted: a 2xx without success_headers */
    sn_buffer body, headers;
    /* Set when a cap stops the transfer: ours, or libcurl's for one header line. */
    enum { WITHIN_CAPS, BODY_TOO_LARGE, HEADERS_TOO_LARGE, HEADER_LINE_TOO_LARGE } too_large;
    size_t header_bytes;                /* of this header block, kept or not */
    int head_done;                      /* the blank line after the answer's headers came */
    char error[CURL_ERROR_SIZE];
} sn_request;

/* How the body of a request reaches libcurl: the Transport's is the caller's
 * string, alive until the call returns; a Multi's transfer outlives the call,
 * so libcurl copies it. */
typedef enum { BODY_BORROWED, BODY_COPIED } sn_body_mode;

/* Reads the limits from the settings table at idx; raises on settings that
 * did not come from the contract. sn_limits_free frees what it allocated. */
SN_INTERNAL void sn_limits_read(lua_State *L, int idx, sn_limits *limits);
SN_INTERNAL void sn_limits_free(sn_limits *limits);

/* Makes r's easy handle with the settings table at idx (TLS files, proxy)
 * and the callbacks; its sockets are watched in `connections`. Raises when
 * libcurl cannot make one. */
SN_INTERNAL void sn_request_open(lua_State *L, sn_request *r, const sn_limits *limits,
                                 sn_connections *connections, int settings);
SN_INTERNAL void sn_request_close(sn_request *r);

/*
 * Checks the arguments at first..first+4 (method, url, headers, body, opts)
 * and puts them on the handle, ready to perform. Returns NULL, or the
 * problem in words (a string on the Lua stack or a literal) when the request
 * is refused before anything is sent.
 */
SN_INTERNAL const char *sn_request_prepare(lua_State *L, sn_request *r, int first, sn_body_mode mode);

/* After the transfer ended with `code`: pushes status, headers, body (3) or
 * nil, err (2) and returns how many; readies r for the next request. */
SN_INTERNAL int sn_request_push_result(lua_State *L, sn_request *r, CURLcode code);

/* nil, { kind = "invalid_argument", message, sent = false }: 2. */
SN_INTERNAL int sn_push_usage_error(lua_State *L, const char *message);

/* The connections of one object: capacity sockets at most. 0 when out of memory. */
SN_INTERNAL int sn_connections_init(sn_connections *c, int capacity);
SN_INTERNAL void sn_connections_free(sn_connections *c);
/* After a transfer on r's handle ended: whether it went over HTTP/1.0 or 1.1. */
SN_INTERNAL int sn_request_spoke_http1(const sn_request *r);
/* After a transfer on r's handle ended: notes its connection's HTTP version, and that it is idle. */
SN_INTERNAL void sn_connections_note(sn_connections *c, sn_request *r);
/* Shuts down every idle HTTP/1 connection with bytes waiting (see request.c). */
SN_INTERNAL void sn_connections_drop_unclean(sn_connections *c);
/* A Multi's transfer is on the connection between these ports: not idle. */
SN_INTERNAL void sn_connections_busy(sn_connections *c, int local_port, int remote_port);
/* That transfer ended: the connection is idle, and spoke HTTP/1 or not. */
SN_INTERNAL void sn_connections_idle(sn_connections *c, int local_port, int remote_port, int http1);

/*
 * Splits one raw response header line ("Name: value\r\n") into its name and
 * its value without the surrounding white space. Returns 0 for a status
 * line, a blank line or anything without a colon. Exposed for the fuzzers.
 */
SN_INTERNAL int sn_split_header_line(const char *line, size_t len,
                         const char **name, size_t *name_len,
                         const char **value, size_t *value_len);

#endif
