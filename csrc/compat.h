/*
 * One source for Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT.
 *
 * Only the few 5.2+ auxiliary functions this module uses are provided for
 * PUC Lua 5.1; LuaJIT 2.1 already has them (its lauxlib.h defines luaL_newlib).
 */
#ifndef SINCHNUMBERS_COMPAT_H
#define SINCHNUMBERS_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

/*
 * Keep every symbol but luaopen_* inside the shared object, whatever flags
 * the build passes (LuaRocks' builtin backend passes none of ours): the
 * functions shared between our files are declared SN_INTERNAL.
 */
#if defined(__GNUC__)
#define SN_INTERNAL __attribute__((visibility("hidden")))
#define SN_EXPORT __attribute__((visibility("default")))
#else
#define SN_INTERNAL
#define SN_EXPORT
#endif

#if LUA_VERSION_NUM == 501 && !defined(luaL_newlib)
#define luaL_newlib(L, l) (lua_newtable(L), luaL_register(L, NULL, l))
#define luaL_setfuncs(L, l, nup) luaL_register(L, NULL, l)
#endif

#if LUA_VERSION_NUM == 501
#define lua_rawlen lua_objlen
/* A userdata's one Lua value: its environment table on 5.1 and LuaJIT. */
#define lua_setuservalue lua_setfenv
#define lua_getuservalue lua_getfenv
#endif

#endif
