#!/bin/sh
# Runs every example (examples/*.lua and examples/*/*.lua) against a fake
# Sinch server of its own, and prints one line per example. Fails if one fails.
#
#   LUA=lua5.4 BUILD=build/5.4 sh tools/run-examples.sh      (make examples)
#
# Each example gets a fresh fake/bin/sinchnumbers-fake on a free port, stopped by
# its pid afterwards, and finds it through the environment: SINCH_PROJECT_ID,
# SINCH_KEY_ID and SINCH_KEY_SECRET (the fake's credentials), SINCH_NUMBERS_URL
# and SINCH_AUTH_URL (the fake's URLs). Every other SINCH_* variable is
# unset, so no example can reach the real service. SINCH_SERVICE_PLAN_ID is
# set to a made-up plan (the fake accepts any).
#
# An example that cannot run on its own here (a server, or one that needs
# nginx) says so in its first lines, and its spec runs it instead:
#   -- make examples: skip (a server; spec/webhook_example_spec.lua runs it)
set -u

LUA=${LUA:-lua5.4}
BUILD=${BUILD:-build/5.4}
TIMEOUT=${EXAMPLE_TIMEOUT:-60}   # seconds for one example
STARTUP=5                        # seconds for the fake to print its URL
SKIP_MARKER='^-- make examples: skip'

export LUA_PATH="lua/?.lua;lua/?/init.lua;fake/lua/?.lua;fake/lua/?/init.lua;;"
export LUA_CPATH="$BUILD/?.so;;"

# Never the real service: drop every SINCH_* the caller has set.
for name in $(env | sed -n 's/^\(SINCH_[A-Za-z0-9_]*\)=.*/\1/p'); do
  unset "$name"
done

work=$(mktemp -d)
fake_pid=""
stop_fake() {
  if [ -n "$fake_pid" ]; then
    kill "$fake_pid" 2>/dev/null
    wait "$fake_pid" 2>/dev/null
    fake_pid=""
  fi
}
trap 'stop_fake; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# Starts a fake; sets fake_pid and fake_url, or returns 1.
start_fake() {
  : > "$work/fake.out"
  "$LUA" fake/bin/sinchnumbers-fake --port 0 > "$work/fake.out" 2>&1 &
  fake_pid=$!
  tries=$((STARTUP * 20))
  while [ "$tries" -gt 0 ]; do
    fake_url=$(sed -n '1{/^http:\/\//p;}' "$work/fake.out")
    [ -n "$fake_url" ] && return 0
    kill -0 "$fake_pid" 2>/dev/null || break
    sleep 0.05
    tries=$((tries - 1))
  done
  return 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f s", b - a }'; }

passed=0
failed=0
skipped=0
for example in examples/*.lua examples/*/*.lua; do
  [ -f "$example" ] || continue
  marker=$(head -n 5 "$example" | grep -m 1 "$SKIP_MARKER")
  if [ -n "$marker" ]; then
    printf 'skip  %-40s %s\n' "$example" "$(echo "$marker" | sed "s/$SKIP_MARKER *//")"
    skipped=$((skipped + 1))
    continue
  fi

  if ! start_fake; then
    printf 'FAIL  %-40s the fake server did not start\n' "$example"
    sed 's/^/      /' "$work/fake.out"
    stop_fake
    failed=$((failed + 1))
    continue
  fi

  started=$(now)
  SINCH_PROJECT_ID=test-project SINCH_KEY_ID=test-key-id SINCH_KEY_SECRET=test-key-secret \
  SINCH_NUMBERS_URL="$fake_url" SINCH_AUTH_URL="$fake_url/oauth2/token" \
  SINCH_SERVICE_PLAN_ID=test-service-plan \
    timeout "$TIMEOUT" "$LUA" "$example" < /dev/null > "$work/out" 2>&1
  status=$?
  took=$(elapsed "$started" "$(now)")
  stop_fake

  if [ "$status" = 0 ]; then
    printf 'ok    %-40s %s\n' "$example" "$took"
    passed=$((passed + 1))
  else
    if [ "$status" = 124 ]; then reason="timed out after $TIMEOUT s"; else reason="exit $status"; fi
    printf 'FAIL  %-40s %s, %s\n' "$example" "$reason" "$took"
    tail -n 20 "$work/out" | sed 's/^/      /'
    failed=$((failed + 1))
  fi
done

echo "examples: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
