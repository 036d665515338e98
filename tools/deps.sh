#!/bin/sh
# Installs the Debian packages the project needs and does not have yet:
# with apt-get when run as root, otherwise it prints the command and stops.
#
# luajit2 is OpenResty's LuaJIT, the one nginx's Lua module links; Debian's
# plain `luajit` conflicts with it, so we never ask for that one.
set -eu

packages="
  make gcc clang pkg-config valgrind libclang-rt-14-dev
  lua5.1 lua5.2 lua5.3 lua5.4 luajit2
  liblua5.1-0-dev liblua5.2-dev liblua5.3-dev liblua5.4-dev libluajit2-5.1-dev
  libcurl4-openssl-dev libssl-dev curl openssl
  lua-cjson lua-socket lua-busted lua-check lua-ldoc lua-discount luarocks
  nginx libnginx-mod-http-lua
  lua-curl
"

missing=""
for p in $packages; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing >/dev/null
  # Debian starts nginx on port 80 when it is installed; the tests run their own.
  if command -v service >/dev/null 2>&1; then service nginx stop >/dev/null 2>&1 || true; fi
else
  echo "missing Debian packages:$missing"
  echo "install them with:"
  echo "  sudo apt-get update && sudo apt-get install -y$missing"
  exit 1
fi
