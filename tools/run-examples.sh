#!/bin/sh
# Runs every example (examples/*.lua and examples/*/*.lua) against a fake
# Sinch server of its own, and prints one line per example. Fails if one fails.
#
#   LUA=lua5.4 BUILD=build/5.4 sh tools/run-examples.sh      (make examples)
#
# Each example runs under tools/with-fake.sh: a fresh fake/bin/sinchnumbers-fake
# on a free port, stopped by its pid afterwards, found through SINCH_PROJECT_ID,
# SINCH_KEY_ID, SINCH_KEY_SECRET, SINCH_NUMBERS_URL and SINCH_AUTH_URL. Every
# other SINCH_* variable is unset, so no example can reach the real service;
# SINCH_SERVICE_PLAN_ID and SINCH_NEW_SERVICE_PLAN_ID are set to made-up plans
# (the fake accepts any).
#
# An example that cannot run on its own here (a server, or one that needs
# nginx) says so in its first lines, and its spec runs it instead:
#   -- make examples: skip (a server; spec/webhook_example_spec.lua runs it)
set -u

LUA=${LUA:-lua5.4}
BUILD=${BUILD:-build/5.4}
TIMEOUT=${EXAMPLE_TIMEOUT:-60}   # seconds for one example
SKIP_MARKER='^-- make examples: skip'
export LUA BUILD

# Never the real service: drop every SINCH_* the caller has set.
for name in $(env | sed -n 's/^\(SINCH_[A-Za-z0-9_]*\)=.*/\1/p'); do
  unset "$name"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

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

  started=$(now)
  SINCH_SERVICE_PLAN_ID=test-service-plan SINCH_NEW_SERVICE_PLAN_ID=test-service-plan-2 \
    sh tools/with-fake.sh timeout "$TIMEOUT" "$LUA" "$example" < /dev/null > "$work/out" 2>&1
  status=$?
  took=$(elapsed "$started" "$(now)")

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
