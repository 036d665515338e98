#!/bin/sh
# make bench: the client's cost on top of the network, against a local nginx
# stub with keep-alive, next to
#   (a) raw libcurl in C (bench/raw_curl.c): one reused handle, no parsing;
#   (b) sinchnumbers (bench/client.lua) under Lua 5.4, LuaJIT and 5.1;
#   (c) the same calls by hand with luacurl + lua-cjson (bench/handwritten.lua)
#       where luacurl loads (LuaJIT and 5.1).
# Writes bench/RESULTS.md (bench/report.lua) and prints it.
#
# Settings (environment): BENCH_PASSES (3) passes over all programs, each
# program making BENCH_ROUNDS (5) rounds of BENCH_GET_N (20000) get calls and
# of BENCH_PAGE_N (1000) page calls per pass; BENCH_LUAS ("5.4 luajit 5.1");
# BENCH_OUT (bench/RESULTS.md).
# Expects the C core built for each Lua: make LUA_VERSION=<v>.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)

export BENCH_ROUNDS="${BENCH_ROUNDS:-5}"
export BENCH_GET_N="${BENCH_GET_N:-20000}"
export BENCH_PAGE_N="${BENCH_PAGE_N:-1000}"
export BENCH_PROJECT=51bc3f40-f266-4ca8-8938-a1ed0ff32b9a
LUAS="${BENCH_LUAS:-5.4 luajit 5.1}"
PASSES="${BENCH_PASSES:-3}"
OUT="${BENCH_OUT:-bench/RESULTS.md}"
TOKEN=eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIn0.eyJzdWIiOiJrZXkiLCJzY29wZSI6IiJ9.c2lnbmF0dXJl
started=$(date +%s)

prefix=$(mktemp -d /tmp/sinchnumbers-bench.XXXXXX)
nginx_pid=""
stop() {
  if [ -n "$nginx_pid" ]; then
    kill -QUIT "$nginx_pid" 2>/dev/null || true
    i=0
    while kill -0 "$nginx_pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$nginx_pid" 2>/dev/null || true
    nginx_pid=""
  fi
  rm -rf "$prefix"
}
trap stop EXIT
trap 'exit 130' INT TERM

# --- the programs ---------------------------------------------------------
mkdir -p build/bench "$prefix/tmp" "$prefix/json"
${CC:-cc} -O2 -g -Wall -Wextra -Werror -std=c99 -o build/bench/raw_curl bench/raw_curl.c \
  $(pkg-config --cflags --libs libcurl)
lua5.4 bench/fixtures.lua "$prefix/json"

# --- the stub -------------------------------------------------------------
user=""
[ "$(id -u)" = 0 ] && user="user root;"   # workers would lose the prefix as nobody
for attempt in 1 2 3; do
  port=$(lua5.4 -e 'local s = assert(require("socket").bind("127.0.0.1", 0)); print((select(2, s:getsockname()))); s:close()')
  sed -e "s#@PREFIX@#$prefix#g; s#@PORT@#$port#g; s#@USER@#$user#; s#@PROJECT@#$BENCH_PROJECT#g; s#@TOKEN@#$TOKEN#g" \
    bench/stub.conf > "$prefix/nginx.conf"
  if nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" 2>"$prefix/start.log"; then break; fi
  [ $attempt = 3 ] && { cat "$prefix/start.log" "$prefix/error.log" >&2; exit 1; }
done
nginx_pid=$(cat "$prefix/nginx.pid")
export BENCH_BASE_URL="http://127.0.0.1:$port"
i=0
until curl -s -o /dev/null "$BENCH_BASE_URL/"; do
  i=$((i + 1)); [ $i -lt 50 ] || { echo "the stub does not answer" >&2; exit 1; }; sleep 0.1
done

# --- the machine ----------------------------------------------------------
{
  echo "cpu	$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "cores	$(nproc)"
  echo "kernel	$(uname -srm)"
  echo "os	Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
  echo "lua	$(lua5.4 -v 2>&1 | cut -d' ' -f1-2), $(luajit -v 2>&1 | cut -d' ' -f1-2), $(lua5.1 -v 2>&1 | cut -d' ' -f1-2)"
  echo "libcurl	$(curl-config --version 2>/dev/null || pkg-config --modversion libcurl)"
  echo "cjson	$(lua5.4 -e 'print(require("cjson")._VERSION)')"
  echo "nginx	$(nginx -v 2>&1 | sed 's/.*nginx\///')"
  echo "load_before	$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "settings	$BENCH_ROUNDS	$BENCH_GET_N	$BENCH_PAGE_N	$PASSES"
} > "$prefix/machine.tsv"

# --- the runs -------------------------------------------------------------
# Every program runs once per pass, the passes alternating forwards and
# backwards, so that a change in the machine's load during the run falls on
# all of them alike; the report pools the rounds of all passes.
results="$prefix/results.tsv"
jobs="$prefix/jobs"
: > "$results"
lua_path="$ROOT/bench/?.lua;$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
echo "raw C" > "$jobs"
for v in $LUAS; do
  case $v in luajit) interpreter=luajit ;; *) interpreter=lua$v ;; esac
  if [ ! -f "build/$v/sinchnumbers/core.so" ]; then
    echo "bench: no build/$v/sinchnumbers/core.so (make LUA_VERSION=$v): skipping Lua $v" >&2
    continue
  fi
  echo "sinchnumbers $v $interpreter bench/client.lua" >> "$jobs"
  if LUA_CPATH="$ROOT/build/$v/?.so;;" "$interpreter" -e 'require "curl"' 2>/dev/null; then
    echo "handwritten $v $interpreter bench/handwritten.lua" >> "$jobs"
  fi
done

run_job() { # run_job <pass> <program> <lua> [<interpreter> <script>]: label its lines
  if [ "$2" = raw ]; then
    set -- "$1" "$2" "$3" build/bench/raw_curl "$BENCH_BASE_URL" "$BENCH_PROJECT" "$TOKEN" \
      "$BENCH_ROUNDS" "$BENCH_GET_N" "$BENCH_PAGE_N"
  fi
  job_pass=$1 job_name=$2 job_lua=$3; shift 3
  echo "bench: pass $job_pass: $job_name under $job_lua ..." >&2
  if ! LUA_PATH="$lua_path" LUA_CPATH="$ROOT/build/$job_lua/?.so;;" "$@" > "$prefix/out"; then
    echo "bench: $job_name under $job_lua failed" >&2
    exit 1
  fi
  awk -v label="$job_name	$job_lua	$job_pass	" '{ print label $0 }' "$prefix/out" >> "$results"
}

pass=1
while [ "$pass" -le "$PASSES" ]; do
  if [ $((pass % 2)) = 1 ]; then order=cat; else order=tac; fi
  $order "$jobs" > "$jobs.pass"
  while read -r name lua interpreter script; do
    run_job "$pass" "$name" "$lua" $interpreter $script < /dev/null
  done < "$jobs.pass"
  pass=$((pass + 1))
done

echo "load_after	$(cut -d' ' -f1-3 /proc/loadavg)" >> "$prefix/machine.tsv"
echo "seconds	$(( $(date +%s) - started ))" >> "$prefix/machine.tsv"
lua5.4 bench/report.lua "$results" "$prefix/machine.tsv" > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
