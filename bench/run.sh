#!/bin/sh
# make bench: the client's cost on top of the network, against a local nginx
# stub with keep-alive, next to
#   (a) raw libcurl in C (bench/raw_curl.c): one reused handle, no parsing;
#   (b) sinchnumbers (bench/client.lua) under Lua 5.4, LuaJIT and 5.1;
#   (c) the same calls by hand with luacurl + lua-cjson (bench/handwritten.lua)
#       where luacurl loads (LuaJIT and 5.1).
# Then the section "Many calls at once" (bench/many.lua): 200 GETs with 20 in
# flight against a server that answers after 100 ms (bench/many.conf), by
# client:map under Lua 5.4 and LuaJIT and inside nginx on light threads
# (bench/many_openresty.conf), beside libcurl's multi interface in C
# (bench/multi_curl.c), the same job by hand in Lua on the transport's Multi
# (bench/many_hand.lua) and the Sinch Node SDK (bench/node/many.js), with the
# client's JSON decode of the same answers timed alone and instructions
# counted (callgrind); then the rate budget over 2,000 items and map's memory
# over 20,000.
# Writes bench/RESULTS.md (bench/report.lua, bench/many_report.lua) and prints
# it, writes the README's table from it, and fails if a target was missed
# (bench/summary.lua). BENCH_SECTION=calls or many (make bench SECTION=many)
# runs one section and writes its results to build/bench/RESULTS-<section>.md
# instead, leaving the README alone.
#
# The timing is for a shared machine: many short rounds, and the programs
# taking turns. Pass 0 runs each program once for BENCH_MEMORY_ROUNDS (25)
# rounds of BENCH_GET_N (4000) get calls, 100,000 in one process for the
# memory check, and as many rounds of BENCH_PAGE_N (40) page calls; then
# BENCH_PASSES (8) passes, alternately forwards and backwards through the
# programs, run each for BENCH_ROUNDS (5) rounds of both. Other settings:
# BENCH_LUAS ("5.4 luajit 5.1"), BENCH_CALLGRIND (1: count instructions too),
# BENCH_OUT (bench/RESULTS.md). The section "Many calls at once": BENCH_MANY_PASSES (3)
# passes of BENCH_MANY_ROUNDS (2) rounds of BENCH_MANY_N (200) GETs with BENCH_MANY_CONCURRENCY (20) in flight,
# BENCH_MANY_RATE_N (2000; 0: none) items at BENCH_MANY_RATE_LIMIT (50) under Lua 5.4,
# BENCH_MANY_LUAS ("5.4 luajit") for the plain Lua runs.
# Expects the C modules built for each Lua: make LUA_VERSION=<v>.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)

MEMORY_ROUNDS="${BENCH_MEMORY_ROUNDS:-25}"
ROUNDS="${BENCH_ROUNDS:-5}"
export BENCH_GET_N="${BENCH_GET_N:-4000}"
export BENCH_PAGE_N="${BENCH_PAGE_N:-40}"
export BENCH_PROJECT=51bc3f40-f266-4ca8-8938-a1ed0ff32b9a
LUAS="${BENCH_LUAS:-5.4 luajit 5.1}"
PASSES="${BENCH_PASSES:-8}"
SECTION="${BENCH_SECTION:-all}"
case $SECTION in
  all) OUT="${BENCH_OUT:-bench/RESULTS.md}" ;;
  calls|many) OUT="${BENCH_OUT:-build/bench/RESULTS-$SECTION.md}" ;;
  *) echo "bench: BENCH_SECTION is all, calls or many, not $SECTION" >&2; exit 2 ;;
esac
runs() { [ "$SECTION" = all ] || [ "$SECTION" = "$1" ]; } # runs <section>: whether this run has it
lua_path="$ROOT/bench/?.lua;$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
TOKEN=eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIn0.eyJzdWIiOiJrZXkiLCJzY29wZSI6IiJ9.c2lnbmF0dXJl
started=$(date +%s)

prefix=$(mktemp -d /tmp/sinchnumbers-bench.XXXXXX)
trap 'stop' EXIT
trap 'exit 130' INT TERM

# --- the programs ---------------------------------------------------------
mkdir -p build/bench "$prefix/tmp" "$prefix/json"
for program in raw_curl multi_curl; do
  ${CC:-cc} -O2 -g -Wall -Wextra -Werror -std=c99 -o build/bench/$program bench/$program.c \
    $(pkg-config --cflags --libs libcurl)
done
lua5.4 bench/fixtures.lua "$prefix/json"
# The Node SDK, as its lock file pins it (node_modules is not committed).
if runs many; then (cd bench/node && npm ci --no-audit --no-fund --loglevel=error > /dev/null); fi

lua_of() { case $1 in luajit) echo luajit ;; *) echo "lua$1" ;; esac; } # lua_of <version>: its interpreter

# --- the servers ----------------------------------------------------------
user=""
[ "$(id -u)" = 0 ] && user="user root;"   # workers would lose the prefix as nobody
started_pids=""
stop() {
  for pid in $started_pids; do
    kill -QUIT "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
  done
  started_pids=""
  rm -rf "$prefix"
}
# start_nginx <config template> <name>: runs nginx on a free loopback port
# (its $port), with the template's @PREFIX@, @PORT@, @USER@, @PROJECT@,
# @TOKEN@ and @ROOT@ filled in, and waits until it answers.
start_nginx() {
  for attempt in 1 2 3; do
    port=$(lua5.4 -e 'local s = assert(require("socket").bind("127.0.0.1", 0)); print((select(2, s:getsockname()))); s:close()')
    sed -e "s#@PREFIX@#$prefix#g; s#@PORT@#$port#g; s#@USER@#$user#; s#@PROJECT@#$BENCH_PROJECT#g; s#@TOKEN@#$TOKEN#g; s#@ROOT@#$ROOT#g" \
      "$1" > "$prefix/$2.conf"
    if nginx -p "$prefix" -c "$prefix/$2.conf" -e "$prefix/$2-error.log" 2>"$prefix/start.log"; then break; fi
    [ $attempt = 3 ] && { cat "$prefix/start.log" "$prefix/$2-error.log" >&2; exit 1; }
  done
  started_pids="$started_pids $(cat "$prefix/$2.pid")"
  i=0
  until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
    i=$((i + 1)); [ $i -lt 50 ] || { echo "bench: $2 does not answer" >&2; exit 1; }; sleep 0.1
  done
}
if runs calls; then
  start_nginx bench/stub.conf nginx
  export BENCH_BASE_URL="http://127.0.0.1:$port"
fi
if runs many; then
  start_nginx bench/many.conf many
  export BENCH_MANY_URL="http://127.0.0.1:$port" BENCH_MANY_BODY="$prefix/json/active_number.json"
  start_nginx bench/many_openresty.conf openresty
  openresty_url="http://127.0.0.1:$port"
fi

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
  echo "settings	$MEMORY_ROUNDS	$ROUNDS	$BENCH_GET_N	$BENCH_PAGE_N	$PASSES"
} > "$prefix/machine.tsv"

if runs calls; then
  # --- the runs -------------------------------------------------------------
  # Every program runs once per pass, the passes alternating forwards and
  # backwards, so that a change in the machine's load during the run falls on
  # all of them alike; the report pools the rounds of all passes.
  results="$prefix/results.tsv"
  jobs="$prefix/jobs"
  : > "$results"
  echo "raw C" > "$jobs"
  for v in $LUAS; do
    interpreter=$(lua_of "$v")
    if [ ! -f "build/$v/sinchnumbers/codec.so" ] || [ ! -f "build/$v/sinchnumbers/transport/libcurl.so" ]; then
      echo "bench: no build/$v/sinchnumbers/{codec,transport/libcurl}.so (make LUA_VERSION=$v): skipping Lua $v" >&2
      continue
    fi
    echo "sinchnumbers $v $interpreter bench/client.lua" >> "$jobs"
    if LUA_CPATH="$ROOT/build/$v/?.so;;" "$interpreter" -e 'require "curl"' 2>/dev/null; then
      echo "handwritten $v $interpreter bench/handwritten.lua" >> "$jobs"
    fi
  done

  # invoke <program> <lua> <interpreter> <script> [<command prefix...>]: one run,
  # its lines on stdout; rounds, calls and warm-up come from BENCH_* variables.
  invoke() {
    inv_name=$1 inv_lua=$2 inv_interpreter=$3 inv_script=$4; shift 4
    if [ "$inv_name" = raw ]; then
      "$@" build/bench/raw_curl "$BENCH_BASE_URL" "$BENCH_PROJECT" "$TOKEN"
    else
      LUA_PATH="$lua_path" LUA_CPATH="$ROOT/build/$inv_lua/?.so;;" "$@" "$inv_interpreter" "$inv_script"
    fi
  }

  label() { # label <program> <lua> <pass>: prefix every line of $prefix/out
    awk -v label="$1	$2	$3	" '{ print label $0 }' "$prefix/out" >> "$results"
  }

  pass=0
  while [ "$pass" -le "$PASSES" ]; do
    if [ $((pass % 2)) = 0 ]; then order=cat; else order=tac; fi
    if [ "$pass" = 0 ]; then BENCH_ROUNDS=$MEMORY_ROUNDS; else BENCH_ROUNDS=$ROUNDS; fi
    export BENCH_ROUNDS
    $order "$jobs" > "$jobs.pass"
    while read -r name lua interpreter script; do
      echo "bench: pass $pass: $name under $lua ..." >&2
      invoke "$name" "$lua" "$interpreter" "$script" < /dev/null > "$prefix/out" \
        || { echo "bench: $name under $lua failed" >&2; exit 1; }
      label "$name" "$lua" "$pass"
    done < "$jobs.pass"
    pass=$((pass + 1))
  done

  # Instructions per call in user space (valgrind's callgrind), which a busy
  # machine does not disturb: three short runs of each program, the differences
  # giving the cost of CG_GET more get calls and of CG_PAGE more page calls.
  CG_GET=1000 CG_PAGE=40
  count_instructions() { # <program> <lua> <interpreter> <script> <get n> <page n>: total Ir
    BENCH_ROUNDS=1 BENCH_GET_N=$5 BENCH_PAGE_N=$6 BENCH_WARMUP_GET=100 BENCH_WARMUP_PAGE=5 \
      invoke "$1" "$2" "$3" "$4" valgrind -q --tool=callgrind --callgrind-out-file="$prefix/callgrind.out" \
      < /dev/null > /dev/null 2> "$prefix/valgrind.log" || { tail -5 "$prefix/valgrind.log" >&2; return 1; }
    sed -n 's/^\(summary\|totals\): *//p' "$prefix/callgrind.out" | head -1
  }
  if [ "${BENCH_CALLGRIND:-1}" = 1 ] && command -v valgrind > /dev/null; then
    while read -r name lua interpreter script; do
      echo "bench: instructions: $name under $lua ..." >&2
      # valgrind 3.19 cannot read a clang-built shared object (DWARF 5): the table goes without.
      if base=$(count_instructions "$name" "$lua" "$interpreter" "$script" 200 10) \
          && more_get=$(count_instructions "$name" "$lua" "$interpreter" "$script" $((200 + CG_GET)) 10) \
          && more_page=$(count_instructions "$name" "$lua" "$interpreter" "$script" 200 $((10 + CG_PAGE))); then
        printf 'get\tinstructions\t%d\npage\tinstructions\t%d\n' \
          $(((more_get - base) / CG_GET)) $(((more_page - base) / CG_PAGE)) > "$prefix/out"
        label "$name" "$lua" callgrind
      else
        echo "bench: valgrind failed for $name under $lua: no instruction counts for it" >&2
      fi
    done < "$jobs"
  fi
fi

# --- many calls at once ----------------------------------------------------
# The timing in passes, alternately forwards and backwards through the
# programs (as the first section does), so that a change in the machine's
# load falls on all alike: the C reference and the Node SDK on the server's
# /fast and /delay parts, sinchnumbers (bench/many.lua) and the same by hand
# (bench/many_hand.lua) under each Lua of MANY_LUAS, and inside nginx, BENCH_MANY_ROUNDS rounds of each case a pass;
# the report pools the rounds. Then the instructions, the memory and the
# rate budget.
many="$prefix/many.tsv"
: > "$many"
MANY_LUAS="${BENCH_MANY_LUAS-5.4 luajit}"   # empty: none
MANY_PASSES="${BENCH_MANY_PASSES:-3}"
many_label() { # many_label <program> <engine>: prefix every line of $prefix/out
  awk -v label="$1	$2	" '{ print label $0 }' "$prefix/out" >> "$many"
}
many_timing() { # many_timing <program> [<lua>]: one run of its timing rounds, labelled
  case $1 in
    multi_curl|node)
      for case in fast delay; do
        if [ "$1" = multi_curl ]; then
          build/bench/multi_curl "$BENCH_MANY_URL/$case" "$BENCH_PROJECT" "$TOKEN" $case > "$prefix/out"
          many_label multi_curl C
        else
          node bench/node/many.js "$BENCH_MANY_URL/$case" "$BENCH_PROJECT" $case > "$prefix/out"
          many_label node "Node $(node -v)"
        fi
      done ;;
    openresty)
      curl -sS -f -G -m 600 "$openresty_url/many" --data-urlencode "BENCH_MANY_URL=$BENCH_MANY_URL" \
        --data-urlencode "BENCH_MANY_BODY=$BENCH_MANY_BODY" \
        --data-urlencode "BENCH_MANY_N=${BENCH_MANY_N:-200}" --data-urlencode "BENCH_MANY_ROUNDS=$BENCH_MANY_ROUNDS" \
        --data-urlencode "BENCH_MANY_CONCURRENCY=${BENCH_MANY_CONCURRENCY:-20}" > "$prefix/out" \
        || { cat "$prefix/openresty-error.log" >&2; exit 1; }
      many_label sinchnumbers openresty ;;
    sinchnumbers)
      LUA_PATH="$lua_path" LUA_CPATH="$ROOT/build/$2/?.so;;" $(lua_of "$2") bench/many.lua timing > "$prefix/out"
      many_label sinchnumbers "$2" ;;
    hand)
      for case in fast delay; do
        LUA_PATH="$lua_path" LUA_CPATH="$ROOT/build/$2/?.so;;" $(lua_of "$2") bench/many_hand.lua \
          "$BENCH_MANY_URL/$case" "$BENCH_PROJECT" "$TOKEN" $case > "$prefix/out"
        many_label hand "$2"
      done ;;
  esac
}
if runs many; then
  export BENCH_MANY_ROUNDS="${BENCH_MANY_ROUNDS:-2}"
  {
    echo multi_curl; echo node
    for v in $MANY_LUAS; do echo "sinchnumbers $v"; echo "hand $v"; done
    echo openresty
  } > "$prefix/many-jobs"
  pass=1
  while [ "$pass" -le "$MANY_PASSES" ]; do
    if [ $((pass % 2)) = 1 ]; then order=cat; else order=tac; fi
    $order "$prefix/many-jobs" > "$prefix/many-jobs.pass"
    while read -r program lua; do
      echo "bench: many calls: pass $pass: $program ${lua:-} ..." >&2
      many_timing "$program" $lua < /dev/null
    done < "$prefix/many-jobs.pass"
    pass=$((pass + 1))
  done
  # Instructions per call in user space (callgrind), steady where the CPU
  # times are not: runs of 1 and of 3 rounds after the warm-up, their
  # difference over 2 rounds of BENCH_MANY_N calls; for the C reference and
  # for map under each Lua, with the 100 ms server, and for the decode alone.
  many_instructions() { # many_instructions <case> <command...>: instructions per call
    mi_case=$1; shift
    for mi_rounds in 1 3; do
      BENCH_MANY_ROUNDS=$mi_rounds BENCH_MANY_CASES=$mi_case valgrind -q --tool=callgrind \
        --callgrind-out-file="$prefix/callgrind-$mi_rounds.out" "$@" < /dev/null > /dev/null 2> "$prefix/valgrind.log" \
        || { tail -5 "$prefix/valgrind.log" >&2; return 1; }
    done
    echo $(( ($(sed -n 's/^\(summary\|totals\): *//p' "$prefix/callgrind-3.out" | head -1) \
      - $(sed -n 's/^\(summary\|totals\): *//p' "$prefix/callgrind-1.out" | head -1)) / (2 * ${BENCH_MANY_N:-200}) ))
  }
  if [ "${BENCH_CALLGRIND:-1}" = 1 ] && command -v valgrind > /dev/null; then
    echo "bench: many calls: instructions ..." >&2
    if count=$(many_instructions delay build/bench/multi_curl "$BENCH_MANY_URL/delay" "$BENCH_PROJECT" "$TOKEN" delay); then
      printf 'delay\tinstructions\t%d\n' "$count" > "$prefix/out"
      many_label multi_curl C
    fi
    for v in $MANY_LUAS; do
      : > "$prefix/counts"
      for case in delay decode; do
        if count=$(LUA_PATH="$lua_path" LUA_CPATH="$ROOT/build/$v/?.so;;" many_instructions $case \
            "$(lua_of "$v")" bench/many.lua timing); then
          printf '%s\tinstructions\t%d\n' "$case" "$count" >> "$prefix/counts"
        fi
      done
      mv "$prefix/counts" "$prefix/out"
      many_label sinchnumbers "$v"
      if count=$(LUA_PATH="$lua_path" LUA_CPATH="$ROOT/build/$v/?.so;;" many_instructions delay \
          "$(lua_of "$v")" bench/many_hand.lua "$BENCH_MANY_URL/delay" "$BENCH_PROJECT" "$TOKEN" delay); then
        printf 'delay\tinstructions\t%d\n' "$count" > "$prefix/out"
        many_label hand "$v"
      fi
    done
  fi
  for v in $MANY_LUAS; do
    echo "bench: many calls: memory under $v ..." >&2
    LUA_PATH="$lua_path" LUA_CPATH="$ROOT/build/$v/?.so;;" $(lua_of "$v") bench/many.lua memory > "$prefix/out"
    many_label sinchnumbers "$v"
  done
  if [ "${BENCH_MANY_RATE_N:-2000}" -gt 0 ]; then
    echo "bench: many calls: ${BENCH_MANY_RATE_N:-2000} items at rate_limit = ${BENCH_MANY_RATE_LIMIT:-50} under 5.4 ..." >&2
    : > "$prefix/rate.log"   # the token requests of the runs above are logged there too
    LUA_PATH="$lua_path" LUA_CPATH="$ROOT/build/5.4/?.so;;" lua5.4 bench/many.lua rate
    lua5.4 bench/many_rate.lua "$prefix/rate.log" "${BENCH_MANY_RATE_LIMIT:-50}" > "$prefix/out"
    many_label sinchnumbers 5.4
  fi
fi

echo "load_after	$(cut -d' ' -f1-3 /proc/loadavg)" >> "$prefix/machine.tsv"
echo "seconds	$(( $(date +%s) - started ))" >> "$prefix/machine.tsv"
{
  if runs calls; then lua5.4 bench/report.lua "$results" "$prefix/machine.tsv"; fi
  if runs many; then lua5.4 bench/many_report.lua "$many" "$prefix/machine.tsv"; fi
} > "$prefix/RESULTS.md"
mkdir -p "$(dirname "$OUT")"
mv "$prefix/RESULTS.md" "$OUT"
cat "$OUT"
# The README's table from this run (not from a trial run written elsewhere),
# and a failure naming each missed target.
if [ "$OUT" = bench/RESULTS.md ] && [ "$SECTION" = all ]; then readme=README.md; else readme=""; fi
lua5.4 bench/summary.lua "$OUT" $readme
