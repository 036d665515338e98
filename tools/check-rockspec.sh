#!/bin/sh
# Installs the two rocks the ways users do, each way into a temporary tree:
# the library (sinchnumbers) first, then the fake (sinchnumbers-fake) beside it.
# After each, tools/try-install.lua runs from outside the checkout with only
# that tree on the paths (and its bin/ first on PATH), under Lua 5.4 and LuaJIT:
# the library alone loads from the tree, has no fake, and its client works
# without luasocket (kept off the paths), against a fake started from the
# checkout, and so does the tree's sinchnumbers command (--version, regions); with the fake installed, fake.spawn starts it from the tree and the
# client talks to it. The ways:
#   - `luarocks make` of the scm rockspecs (which must list every module);
#   - `make install`, then `make install-fake`, DESTDIR=... PREFIX=/usr/local;
#   - `make dist` (its tarball reproducible), then
#     `luarocks install` of ./sinchnumbers-V-1.src.rock and ./sinchnumbers-fake-V-1.src.rock;
#   - `luarocks test` runs busted, given a busted rock in the tree.
# Every install takes `--deps-mode=none`: lua-cjson and luasocket come from
# Debian, as there is no LuaRocks server here.
set -eu
library_rockspec=sinchnumbers-scm-1.rockspec
fake_rockspec=sinchnumbers-fake-scm-1.rockspec
checkout=$(pwd)
work=$(mktemp -d)
fake_pid=""
trap '[ -z "$fake_pid" ] || kill "$fake_pid" 2>/dev/null; rm -rf "$work" sinchnumbers csrc/*.o' EXIT
status=0
LUAS="5.4:lua5.4 5.1:luajit"

# listed ROCKSPEC FOLDER: every module under FOLDER (lua/ or fake/lua/) is in ROCKSPEC,
# an init.lua by its package's name (builtin build) or with .init (install.lua).
listed() {
  for file in $(cd "$2" && find sinchnumbers -name '*.lua' | sort); do
    module=$(echo "$file" | sed -e 's/\.lua$//' -e 's/\//./g')
    if ! grep -q -E "\[\"(${module%.init}|$module)\"\] = \"$2/$file\"" "$1"; then
      echo "$1 does not list $module ($2/$file)"
      status=1
    fi
  done
}
listed "$library_rockspec" lua
listed "$fake_rockspec" fake/lua

# The fake the library alone talks to, from the checkout; it goes when this script does.
lua5.4 fake/bin/sinchnumbers-fake --port 0 --parent-pid $$ > "$work/fake.out" 2>&1 &
fake_pid=$!
tries=100
until fake_url=$(sed -n '1{/^http:\/\//p;}' "$work/fake.out") && [ -n "$fake_url" ]; do
  tries=$((tries - 1))
  if [ "$tries" = 0 ] || ! kill -0 "$fake_pid" 2>/dev/null; then
    cat "$work/fake.out"; echo "the checkout's fake did not start"; exit 1
  fi
  sleep 0.05
done

# Only lua-cjson and argparse (the command's) of the system's modules, for the
# library alone: no luasocket.
for pair in $LUAS; do
  interpreter=${pair#*:}
  mkdir -p "$work/cjson-$interpreter" "$work/argparse-$interpreter"
  ln -s "$("$interpreter" -e 'io.write(package.searchpath("cjson", package.cpath))')" "$work/cjson-$interpreter/cjson.so"
  ln -s "$("$interpreter" -e 'io.write(package.searchpath("argparse", package.path))')" \
    "$work/argparse-$interpreter/argparse.lua"
done

# try STEP TREE LUA_VERSION INTERPRETER WHAT: STEP is library (the library alone) or
# fake (both rocks); the tree holds share/lua/V, lib/lua/V and bin/.
try() {
  if [ "$1" = library ]; then
    paths="$2/share/lua/$3/?.lua;$2/share/lua/$3/?/init.lua;$work/argparse-$4/?.lua" cpaths="$2/lib/lua/$3/?.so;$work/cjson-$4/?.so"
  else
    paths="$2/share/lua/$3/?.lua;$2/share/lua/$3/?/init.lua;;" cpaths="$2/lib/lua/$3/?.so;;"
  fi
  if ! (cd "$work" && PATH="$2/bin:$PATH" LUA_PATH="$paths" LUA_CPATH="$cpaths" \
        "$4" "$checkout/tools/try-install.lua" "$1" "$2" "$fake_url"); then
    echo "$5 for $4 does not work"
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
  luarocks_into "$tree" "$version" "luarocks make" make "$library_rockspec" &&
    try library "$tree" "$version" "$interpreter" "luarocks make $library_rockspec" &&
    luarocks_into "$tree" "$version" "luarocks make" make "$fake_rockspec" &&
    try fake "$tree" "$version" "$interpreter" "luarocks make $fake_rockspec"
  # luarocks make leaves the C modules it built in ./sinchnumbers/, which ./?.so finds.
  rm -rf sinchnumbers csrc/*.o
done

# make_into DESTDIR MAKE_LUA_VERSION TARGET: a make install target, its log shown if it fails.
make_into() {
  if make --no-print-directory -s "$3" LUA_VERSION="$2" DESTDIR="$1" PREFIX=/usr/local > "$work/log" 2>&1; then
    return 0
  fi
  cat "$work/log"
  echo "make $3 for $2 failed"
  status=1
  return 1
}

for pair in $LUAS; do
  version=${pair%%:*} interpreter=${pair#*:}
  destdir=$work/make-install-$interpreter
  make_version=$version
  [ "$interpreter" = luajit ] && make_version=luajit
  make_into "$destdir" "$make_version" install &&
    try library "$destdir/usr/local" "$version" "$interpreter" "make install" &&
    make_into "$destdir" "$make_version" install-fake &&
    try fake "$destdir/usr/local" "$version" "$interpreter" "make install-fake"
done

if make --no-print-directory -s dist > "$work/log" 2>&1; then
  first=$(md5sum build/dist/*.tar.gz)
  make --no-print-directory -s dist > "$work/log" 2>&1
  [ "$first" = "$(md5sum build/dist/*.tar.gz)" ] || { echo "make dist: the tarball differs from one run to the next"; status=1; }
  library_rock=$(ls "$checkout"/build/dist/sinchnumbers-[0-9]*.src.rock)
  fake_rock=$(ls "$checkout"/build/dist/sinchnumbers-fake-*.src.rock)
  for pair in $LUAS; do
    version=${pair%%:*} interpreter=${pair#*:}
    tree=$work/src-rock-$interpreter
    luarocks_into "$tree" "$version" "luarocks install $(basename "$library_rock")" install "$library_rock" &&
      try library "$tree" "$version" "$interpreter" "luarocks install $(basename "$library_rock")" &&
      luarocks_into "$tree" "$version" "luarocks install $(basename "$fake_rock")" install "$fake_rock" &&
      try fake "$tree" "$version" "$interpreter" "luarocks install $(basename "$fake_rock")"
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
  if LUAROCKS_CONFIG=$work/luarocks-config.lua luarocks --lua-version=5.4 --tree "$tree" test "$library_rockspec" -- spec/version_spec.lua spec/fake_spec.lua > "$work/log" 2>&1; then
    echo "luarocks test: $(grep -E '^[0-9]+ success' "$work/log")"
  else
    cat "$work/log"; echo "luarocks test failed"; status=1
  fi
fi
cd "$checkout"
exit $status
