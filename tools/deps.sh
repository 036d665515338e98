#!/bin/sh
# Installs the Debian packages that one make target needs and that are missing:
#
#   sh tools/deps.sh [--print] PROFILE     PROFILE: demo, docs, test or bench
#
# As root it runs apt-get; otherwise, or with --print, it prints the apt-get
# command and exits 1 (0 when nothing is missing). The profiles:
#   demo   make demo and make examples: build the core for Lua 5.4, run it and the fake
#   docs   make docs: LDoc
#   test   make test: every Lua, the C tools, nginx with its Lua module, busted,
#          luacheck, LuaRocks, argparse for the sinchnumbers command (and what
#          demo and docs need); its specs' pseudo-terminal is util-linux's
#          `script`, in bsdutils, which every Debian system has (Essential)
#   bench  make bench: the demo's, Lua 5.1 and LuaJIT, nginx with its Lua module, luacurl,
#          valgrind, Node.js and npm (the Sinch Node SDK beside ours)
#
# luajit2 is OpenResty's LuaJIT, the one nginx's Lua module links; Debian's
# plain `luajit` conflicts with it, so we never ask for that one.
#
# Installing never starts, stops or restarts a service: while apt-get runs, a
# policy-rc.d forbids it (Debian starts nginx on port 80 when it is installed;
# the tests and the benchmark run nginx on their own ports). A policy-rc.d that
# is there already is left as it is.
set -eu

demo="make gcc pkg-config libcurl4-openssl-dev libssl-dev lua5.4 liblua5.4-dev lua-cjson lua-socket"
docs="lua5.4 lua-ldoc lua-discount"
test="$demo $docs
  clang valgrind libclang-rt-14-dev curl openssl
  lua5.1 lua5.2 lua5.3 luajit2
  liblua5.1-0-dev liblua5.2-dev liblua5.3-dev libluajit2-5.1-dev
  lua-busted lua-check luarocks lua-argparse
  nginx libnginx-mod-http-lua
  lua-curl tinyproxy
  redis-server lua-redis lua-nginx-redis"
bench="$demo lua5.1 luajit2 liblua5.1-0-dev libluajit2-5.1-dev curl nginx libnginx-mod-http-lua lua-curl valgrind
  nodejs npm"

print_only=false
if [ "${1:-}" = --print ]; then print_only=true; shift; fi
case "${1:-}" in
  demo) packages=$demo ;;
  docs) packages=$docs ;;
  test) packages=$test ;;
  bench) packages=$bench ;;
  *) echo "usage: sh tools/deps.sh [--print] demo|docs|test|bench" >&2; exit 2 ;;
esac

# A package whose command another package brought counts as there: NodeSource's
# nodejs carries npm, and Debian's npm cannot be installed beside it.
provided_otherwise() {
  case "$1" in
    npm) command -v npm >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

missing=""
for p in $packages; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) provided_otherwise "$p" || missing="$missing $p" ;;
  esac
done

[ -z "$missing" ] && exit 0

if [ "$print_only" = true ] || [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages:$missing"
  echo "install them with:"
  echo "  sudo apt-get update && sudo apt-get install -y$missing"
  exit 1
fi

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  trap 'rm -f "$policy"' EXIT
  trap 'exit 130' INT TERM
  printf '#!/bin/sh\n# tools/deps.sh: no service starts while it installs packages.\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
