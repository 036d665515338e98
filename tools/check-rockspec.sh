#!/bin/sh
# Checks the rockspec against the tree: every module listed, and a
# `luarocks make` into a temporary tree that loads under Lua 5.4 and LuaJIT.
set -eu
rockspec=$(ls ./*.rockspec)
status=0

for file in $(cd lua && find sinchnumbers -name '*.lua' | sort); do
  module=$(echo "$file" | sed -e 's/\.lua$//' -e 's/\/init$//' -e 's/\//./g')
  if ! grep -q "\[\"$module\"\] = \"lua/$file\"" "$rockspec"; then
    echo "$rockspec does not list $module (lua/$file)"
    status=1
  fi
done

tree=$(mktemp -d)
trap 'rm -rf "$tree" sinchnumbers csrc/*.o' EXIT
for pair in 5.4:lua5.4 5.1:luajit; do
  version=${pair%%:*}
  interpreter=${pair#*:}
  if ! luarocks --lua-version="$version" make --deps-mode=none --tree "$tree" "$rockspec" > "$tree/log" 2>&1; then
    cat "$tree/log"
    status=1
    continue
  fi
  # shellcheck disable=SC2016
  if LUA_PATH="$tree/share/lua/$version/?.lua;$tree/share/lua/$version/?/init.lua;;" \
     LUA_CPATH="$tree/lib/lua/$version/?.so;;" \
     "$interpreter" -e 'local core = require "sinchnumbers.core"
                        assert(package.searchpath == nil or package.searchpath("sinchnumbers.core", package.cpath):find("'"$tree"'", 1, true))
                        io.write("luarocks make: sinchnumbers.core ", core.version, " loads under ", jit and jit.version or _VERSION, "\n")'; then
    :
  else
    status=1
  fi
done
exit $status
