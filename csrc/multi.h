/* The Multi object of sinchnumbers.transport.libcurl (multi.c): many transfers at once. */
#ifndef SINCHNUMBERS_MULTI_H
#define SINCHNUMBERS_MULTI_H

#include <curl/curl.h>
#include "compat.h"

/* CURLOPT_PREREQFUNCTION (7.80) tells which connection a transfer took;
 * before it, a transport has no `multi` method. */
#define SN_HAVE_MULTI (LIBCURL_VERSION_NUM >= 0x075000)

/* Makes the Multi's metatable; once, when the module opens. */
SN_INTERNAL void sn_multi_register(lua_State *L);

/* Pushes a new Multi with the settings table at index `settings` and the
 * size at index `size`, or nil, err (invalid_argument) for a bad size. */
SN_INTERNAL int sn_multi_new(lua_State *L, int settings, int size);

#endif
