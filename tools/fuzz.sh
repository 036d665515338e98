#!/bin/sh
# Builds the libFuzzer harnesses in fuzz/ with clang (ASan, UBSan, LeakSanitizer)
# and runs each for a bounded time, then the Lua harness for the cosocket
# transport's reader (fuzz/cosocket_reader.lua, under LuaJIT as in OpenResty).
# Any crash, failed property, leak or sanitizer report fails the run (exit 1),
# after every harness has had its turn.
#
#   FUZZ_SECONDS  seconds per harness (default 60); 0 runs the seed corpus once, no fuzzing
#   FUZZ_TARGETS  the harnesses to run (default: all of them)
#   FUZZ_CFLAGS   extra compiler flags, e.g. -DFUZZ_STRICT_HEADERS
#   FUZZ_ARGS     extra libFuzzer flags, e.g. -jobs=2 or -dict=...
#   FUZZ_CC       the compiler (default clang: libFuzzer comes with clang)
#
# New inputs go to build/fuzz/corpus/<harness>/, never into fuzz/corpus/, which
# libFuzzer only reads. A crashing input is saved in build/fuzz/artifacts/<harness>/;
# rerun it with: build/fuzz/<harness> <file>
set -u
cd "$(dirname "$0")/.." || exit 1

seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"percent_encode base64 signature response header_line cosocket_reader"}
cc=${FUZZ_CC:-clang}
out=build/fuzz

# What each harness compiles beyond itself. Harnesses that reach static functions
# #include the .c file they test (codec_lua.c, request.c) instead of linking it.
sources_of() {
  case $1 in
    percent_encode|base64|signature) echo "csrc/codec.c" ;;
    response|header_line) echo "" ;;
    *) echo "unknown harness: $1" >&2; return 1 ;;
  esac
}

lua_inc=/usr/include/lua5.4
[ -f "$lua_inc/lua.h" ] || { echo "fuzz: no Lua 5.4 headers in $lua_inc: run 'make deps'" >&2; exit 1; }
runtime=$($cc -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null)
[ -f "$runtime" ] || { echo "fuzz: $cc has no libFuzzer runtime (libclang-rt-dev)" >&2; exit 1; }

sanitize="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
warnings="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
curl_cflags=$(pkg-config --cflags libcurl 2>/dev/null)
curl_libs=$(pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

# The Lua harness: plain Lua over a fake socket, fed the response corpus and
# mutations of it; it checks its own properties (see its header).
run_lua_harness() {
  log=$out/$1.log
  artifacts=$out/artifacts/$1
  lua=${FUZZ_LUA:-luajit}
  if "$lua" "fuzz/$1.lua" "$seconds" fuzz/corpus/response "$artifacts" > "$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz $1: ok, ${execs:-?} executions in ${seconds} s under $lua ($(find fuzz/corpus/response -type f | wc -l) seeds)"
  else
    echo "fuzz $1: FAILED (log $log)"
    tail -5 "$log"
    failed=1
  fi
}

failed=0
mkdir -p "$out"
for name in $targets; do
  if [ "$name" = cosocket_reader ]; then
    run_lua_harness "$name"
    continue
  fi
  extra=$(sources_of "$name") || { failed=1; continue; }
  bin=$out/$name
  log=$out/$name.log
  # shellcheck disable=SC2086
  if ! $cc -g -O1 $sanitize $warnings -std=c99 -D_POSIX_C_SOURCE=200809L \
       -I"$lua_inc" $curl_cflags ${FUZZ_CFLAGS:-} -o "$bin" "fuzz/$name.c" $extra \
       $curl_libs -lcrypto -llua5.4 > "$out/$name.build.log" 2>&1; then
    echo "fuzz $name: BUILD FAILED"; cat "$out/$name.build.log"
    failed=1
    continue
  fi

  scratch=$out/corpus/$name
  artifacts=$out/artifacts/$name/
  mkdir -p "$scratch" "$artifacts"
  if [ "$seconds" = 0 ]; then
    limit="-runs=0"
  else
    limit="-max_total_time=$seconds"
  fi
  # -timeout: an input that takes over 10 s is a hang, and a failure.
  # shellcheck disable=SC2086
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "./$bin" $limit -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts" ${FUZZ_ARGS:-} "$scratch" "fuzz/corpus/$name" > "$log" 2>&1
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$status" = 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|property does not hold' "$log"; then
    echo "fuzz $name: ok, ${execs:-?} executions in ${seconds} s ($(find "fuzz/corpus/$name" -type f | wc -l) seeds, $(find "$scratch" -type f | wc -l) inputs in $scratch)"
  else
    echo "fuzz $name: FAILED (exit $status, ${execs:-?} executions; log $log)"
    grep -E 'ERROR:|runtime error:|property does not hold|SUMMARY|Test unit written|^    #[0-9] ' "$log" | head -30
    failed=1
  fi
done
exit $failed
