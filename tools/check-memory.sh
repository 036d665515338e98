#!/bin/sh
# Runs the specs that drive the C modules under valgrind and under AddressSanitizer
# (with LeakSanitizer and UBSan). Any invalid access or leak in our code fails.
#
#   MEMORY_SPECS  the spec files to run (default: every spec that loads the C modules)
set -u

specs=${MEMORY_SPECS:-"spec/transport_contract_spec.lua spec/codec_spec.lua spec/tasks_curl_spec.lua spec/tasks_curl_http2_spec.lua $(ls spec/client_*_spec.lua 2>/dev/null | tr '\n' ' ')"}
busted=$(command -v busted)
# --ignore-lua: .busted names lua5.4 for a plain `busted`, and busted would run
# itself again under it, in a child that valgrind does not follow.
logs=build/memory
mkdir -p "$logs"
failed=0

echo "== memory: valgrind (lua5.4)"
if valgrind --quiet --error-exitcode=97 --leak-check=full \
     --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
     lua5.4 "$busted" --ignore-lua --cpath='build/5.4/?.so' -o TAP $specs > "$logs/valgrind.log" 2>&1; then
  echo "valgrind: no errors, no leaks ($(grep -c '^ok' "$logs/valgrind.log") specs)"
else
  echo "valgrind: FAILED (see $logs/valgrind.log)"; grep -E '==[0-9]+==|^not ok' "$logs/valgrind.log" | head -40
  failed=1
fi

echo "== memory: AddressSanitizer + UBSan (clang, lua5.4)"
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
make --no-print-directory -s CC=clang BUILD=build/asan-5.4 CFLAGS="-O1 -g $sanitize" LDFLAGS="$sanitize" build || exit 1
runtime=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
asan_pass() {
  ASAN_OPTIONS=detect_leaks=1:exitcode=98 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LD_PRELOAD="$runtime" lua5.4 "$busted" --ignore-lua --cpath='build/asan-5.4/?.so' -o TAP $specs > "$logs/asan.log" 2>&1
}
# LeakSanitizer's own tracer now and then crashes at exit ("Tracer caught
# signal 11 ... LeakSanitizer has encountered a fatal error"), after every
# spec passed: that is no finding about our code, so one more pass decides.
asan_tool_crashed() {
  grep -q 'LeakSanitizer has encountered a fatal error' "$logs/asan.log" && ! grep -q '^not ok' "$logs/asan.log" \
    && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer: detected)|runtime error' "$logs/asan.log"
}
if asan_pass || { asan_tool_crashed && echo "asan: LeakSanitizer itself crashed at exit; running the pass again" \
    && cp "$logs/asan.log" "$logs/asan-first.log" && asan_pass; }; then
  echo "asan: no errors, no leaks ($(grep -c '^ok' "$logs/asan.log") specs)"
else
  echo "asan: FAILED (see $logs/asan.log)"; grep -vE '^ok' "$logs/asan.log" | head -40
  failed=1
fi
exit $failed
