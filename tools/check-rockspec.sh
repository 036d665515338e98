#!/bin/sh
# Installs sinchnumbers the ways users do, each into a temporary tree, and runs
# tools/try-install.lua from outside the checkout with only that tree on the
# paths and its bin/ first on PATH (the library loads from the tree, fake.spawn
# starts the fake from it, the client talks to it), under Lua 5.4 and LuaJIT:
#   - `luarocks make` of the scm rockspec (which must list every module);
#   - `make install DESTDIR=... PREFIX=/usr/local`;
#   - `make dist` (its tarball reproducible), then
#     `luarocks install ./sinchnumbers-V-1.src.rock` into a fresh tree;
#   - `luarocks test` runs busted, given a busted rock in the tree.
# Every install takes `--deps-mode=none`: lua-cjson and luasocket come from
# Debian, as there is no LuaRocks server here.
set -eu
rockspec=sinchnumbers-scm-1.rockspec
checkout=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work" sinchnumbers csrc/*.o' EXIT
status=0
LUAS="5.4:lua5.4 5.1:luajit"

for file in $(cd lua && find sinchnumbers -name '*.lua' | sort); do
  module=$(echo "$file" | sed -e 's/\.lua$//' -e 's/\/init$//' -e 's/\//./g')
  if ! grep -q "\[\"$module\"\] = \"lua/$file\"" "$rockspec"; then
    echo "$rockspec does not list $module (lua/$file)"
    status=1
  fi
done

# try TREE LUA_VERSION INTERPRETER: the tree holds share/lua/V, lib/lua/V and bin/.
try() {
  if ! (cd "$work" && PATH="$1/bin:$PATH" \
        LUA_PATH="$1/share/lua/$2/?.lua;$1/share/lua/$2/?/init.lua;;" LUA_CPATH="$1/lib/lua/$2/?.so;;" \
        "$3" "$checkout/tools/try-install.lua" "$1"); then
    echo "$4 for $3 does not work"
    status=1
  fi
}

# luarocks_into TREE LUA_VERSION WHAT COMMAND ARGUMENT: a luarocks command, its log shown if it fails.
luarocks_into() {
  if luarocks --lua-version="$2" "$4" --deps-mode=none --tree "$1" "$5" > "$work/log" 2>&1; then
    return 0
  fi
  cat "$work/log"
  echo "$3 for Lua $2 failed"
  status=1
  return 1
}

for pair in $LUAS; do
  version=${pair%%:*} interpreter=${pair#*:}
  tree=$work/luarocks-make-$interpreter
  luarocks_into "$tree" "$version" "luarocks make" make "$rockspec" && try "$tree" "$version" "$interpreter" "luarocks make"
  # luarocks make leaves the core it built in ./sinchnumbers/, which ./?.so finds.
  rm -rf sinchnumbers csrc/*.o
done

for pair in $LUAS; do
  version=${pair%%:*} interpreter=${pair#*:}
  destdir=$work/make-install-$interpreter
  make_version=$version
  [ "$interpreter" = luajit ] && make_version=luajit
  if make --no-print-directory -s install LUA_VERSION="$make_version" DESTDIR="$destdir" PREFIX=/usr/local > "$work/log" 2>&1; then
    try "$destdir/usr/local" "$version" "$interpreter" "make install"
  else
    cat "$work/log"; echo "make install for $interpreter failed"; status=1
  fi
done

if make --no-print-directory -s dist > "$work/log" 2>&1; then
  first=$(md5sum build/dist/*.tar.gz)
  make --no-print-directory -s dist > "$work/log" 2>&1
  [ "$first" = "$(md5sum build/dist/*.tar.gz)" ] || { echo "make dist: the tarball differs from one run to the next"; status=1; }
  rock=$(ls "$checkout"/build/dist/*.src.rock)
  for pair in $LUAS; do
    version=${pair%%:*} interpreter=${pair#*:}
    tree=$work/src-rock-$interpreter
    luarocks_into "$tree" "$version" "luarocks install $(basename "$rock")" install "$rock" &&
      try "$tree" "$version" "$interpreter" "luarocks install $(basename "$rock")"
  done
else
  cat "$work/log"; echo "make dist failed"; status=1
fi

# luarocks test needs a busted rock; Debian's busted is not one, so a rock
# that only carries Debian's busted script stands in for it. LuaRocks looks
# for it in the configured trees only (not --tree): hence LUAROCKS_CONFIG.
stub=$work/busted-rock
mkdir -p "$stub"
cp "$(command -v busted)" "$stub/busted"
cat > "$stub/busted-2.1.1-1.rockspec" <<'EOF'
package = "busted"
version = "2.1.1-1"
source = { url = "file:///dev/null" }
build = { type = "none", install = { bin = { busted = "busted" } } }
EOF
tree=$work/luarocks-make-lua5.4
cd "$stub"
if luarocks_into "$tree" 5.4 "a busted rock" make busted-2.1.1-1.rockspec; then
  cd "$checkout"
  echo "rocks_trees = { \"$tree\" }" > "$work/luarocks-config.lua"
  if LUAROCKS_CONFIG=$work/luarocks-config.lua luarocks --lua-version=5.4 --tree "$tree" test "$rockspec" -- spec/version_spec.lua spec/fake_spec.lua > "$work/log" 2>&1; then
    echo "luarocks test: $(grep -E '^[0-9]+ success' "$work/log")"
  else
    cat "$work/log"; echo "luarocks test failed"; status=1
  fi
fi
cd "$checkout"
exit $status
