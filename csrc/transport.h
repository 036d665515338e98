/* The libcurl HTTP transport (sinchnumbers.transport.libcurl): what the fuzzers reach. */
#ifndef SINCHNUMBERS_TRANSPORT_H
#define SINCHNUMBERS_TRANSPORT_H

#include <stddef.h>
#include "compat.h"

/*
 * Splits one raw response header line ("Name: value\r\n") into its name and
 * its value without the surrounding white space. Returns 0 for a status
 * line, a blank line or anything without a colon. Exposed for the fuzzers.
 */
SN_INTERNAL int sn_split_header_line(const char *line, size_t len,
                         const char **name, size_t *name_len,
                         const char **value, size_t *value_len);

#endif
