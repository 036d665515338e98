/* The libcurl HTTP transport object: sinchnumbers.core.transport{...}. */
#ifndef SINCHNUMBERS_TRANSPORT_H
#define SINCHNUMBERS_TRANSPORT_H

#include <stddef.h>
#include "compat.h"

/* core.transport(options): a new transport object (its constructor). */
SN_INTERNAL int sn_transport_new(lua_State *L);

/* Registers the transport's metatable; called once from luaopen. */
SN_INTERNAL void sn_transport_register(lua_State *L);

/*
 * Splits one raw response header line ("Name: value\r\n") into its name and
 * its value without the surrounding white space. Returns 0 for a status
 * line, a blank line or anything without a colon. Exposed for the fuzzers.
 */
SN_INTERNAL int sn_split_header_line(const char *line, size_t len,
                         const char **name, size_t *name_len,
                         const char **value, size_t *value_len);

#endif
