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

typedef struct multi sn_multi;

/* transport:multi(size): pushes a Multi of at least `size` handles (index
 * `size`) with the settings table at index `settings`, or nil, err
 * (invalid_argument) for a bad size. It is the one *kept (made, or grown,
 * when needed), lent until it is closed; while that one is lent, one of its
 * own. */
SN_INTERNAL int sn_multi_lend(lua_State *L, sn_multi **kept, int settings, int size);

/* The transport closes: the Multi it keeps is freed, or, while lent, left
 * to its handle, which frees it when it closes. */
SN_INTERNAL void sn_multi_drop_kept(sn_multi **kept);

#endif
