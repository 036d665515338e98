#!/bin/sh
# Runs one command against a fake Sinch server of its own, in a checkout:
#
#   sh tools/with-fake.sh lua5.4 examples/all_active_numbers.lua US
#
# Starts fake/bin/sinchnumbers-fake (under $LUA, default lua5.4) on a free
# loopback port, and runs the command with the fake's credentials and URLs in
# SINCH_PROJECT_ID, SINCH_KEY_ID, SINCH_KEY_SECRET, SINCH_NUMBERS_URL and
# SINCH_AUTH_URL, and this checkout's modules on LUA_PATH and LUA_CPATH (the
# C modules from $BUILD, default build/5.4). Stops the fake by its pid when the
# command ends, and exits with the command's status.
set -u

LUA=${LUA:-lua5.4}
BUILD=${BUILD:-build/5.4}
STARTUP=5   # seconds for the fake to print its URL

if [ $# = 0 ]; then
  echo "usage: sh tools/with-fake.sh COMMAND [ARGUMENT...]" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) c_modules=$BUILD ;; *) c_modules=$root/$BUILD ;; esac

fake_output=$(mktemp)
"$LUA" "$root/fake/bin/sinchnumbers-fake" --port 0 > "$fake_output" 2>&1 < /dev/null &
fake_pid=$!
trap 'kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; rm -f "$fake_output"' EXIT
trap 'exit 130' INT TERM

tries=$((STARTUP * 20))
url=""
while [ -z "$url" ]; do
  url=$(sed -n '1{/^http:\/\//p;}' "$fake_output")
  [ -n "$url" ] && break
  if [ "$tries" = 0 ] || ! kill -0 "$fake_pid" 2>/dev/null; then
    echo "with-fake: the fake server did not start:" >&2
    cat "$fake_output" >&2
    exit 1
  fi
  sleep 0.05
  tries=$((tries - 1))
done

export SINCH_PROJECT_ID=test-project SINCH_KEY_ID=test-key-id SINCH_KEY_SECRET=test-key-secret
export SINCH_NUMBERS_URL="$url" SINCH_AUTH_URL="$url/oauth2/token"
export LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;$root/fake/lua/?.lua;$root/fake/lua/?/init.lua;${LUA_PATH:-;}"
export LUA_CPATH="$c_modules/?.so;${LUA_CPATH:-;}"
"$@"
status=$?
exit "$status"
