#!/bin/sh
# Runs the whole suite: the busted specs under every Lua in $LUAS, luacheck,
# the memory check, the rockspec, the docs, the examples, the README's code
# blocks, a fuzzing pass and a search of the logs for the key secret. Ends
# with the one line CI reads: "N passed, N failed".
set -u

passed=0
failed=0
logs=build/test-logs
mkdir -p "$logs"

count() { # count <passed> <failed>: add to the totals
  passed=$((passed + $1))
  failed=$((failed + $2))
}

for version in $LUAS; do
  case $version in luajit) interpreter=luajit ;; *) interpreter=lua$version ;; esac
  echo "== specs under $interpreter"
  busted --lua="$interpreter" --cpath="build/$version/?.so" -o utfTerminal ${SPECS:-} > "$logs/$version.log" 2>&1
  status=$?
  cat "$logs/$version.log"
  summary=$(grep -E '^[0-9]+ success' "$logs/$version.log" | tail -1)
  if [ -z "$summary" ]; then
    echo "busted under $interpreter ended without a summary (exit $status)"
    count 0 1
    continue
  fi
  ok=$(echo "$summary" | sed -E 's/^([0-9]+) success.*/\1/')
  bad=$(( $(echo "$summary" | sed -E 's/.* ([0-9]+) failures? \/ ([0-9]+) errors?.*/\1 + \2/') ))
  count "$ok" "$bad"
  # busted failing without a failed spec (a crash after the summary, say) still fails.
  [ "$status" = 0 ] || [ "$bad" -gt 0 ] || count 0 1
done

echo "== plain busted, as a contributor types it"
# No flags: .busted must pick Lua 5.4 and the C modules `make` built, whatever `lua` is.
if busted spec/webhooks_spec.lua > "$logs/plain-busted.log" 2>&1; then
  grep -E '^[0-9]+ success' "$logs/plain-busted.log"
  count 1 0
else
  cat "$logs/plain-busted.log"
  count 0 1
fi

echo "== luacheck"
dirs=""
for d in lua fake spec examples bench tools; do [ -d "$d" ] && dirs="$dirs $d"; done
# shellcheck disable=SC2086
if luacheck --no-color -q $dirs; then count 1 0; else count 0 1; fi

echo "== memory"
if sh tools/check-memory.sh; then count 1 0; else count 0 1; fi

echo "== installs of the library, then the fake: luarocks make, make install, make dist and its .src.rocks, luarocks test"
if sh tools/check-rockspec.sh > "$logs/rockspec.log" 2>&1; then
  grep -E 'the library alone works|fake.spawn and the client work|^luarocks test' "$logs/rockspec.log"
  count 1 0
else
  cat "$logs/rockspec.log"
  count 0 1
fi

echo "== docs and examples"
if make --no-print-directory -s docs; then count 1 0; else count 0 1; fi
if make --no-print-directory -s examples; then count 1 0; else count 0 1; fi

echo "== the README's code blocks"
if lua5.4 tools/check-readme.lua; then count 1 0; else count 0 1; fi

echo "== fuzz (${FUZZ_SECONDS:-60} s each)"
if sh tools/fuzz.sh; then count 1 0; else count 0 1; fi

echo "== secrets in the logs"
# The fake's default key secret, or the Basic credentials made from it, in
# any spec's output (passing or failing) means something printed a secret.
if grep -l -F -e test-key-secret -e "$(printf 'test-key-id:test-key-secret' | base64)" \
     "$logs"/*.log build/memory/*.log 2>/dev/null; then
  echo "the files above hold the key secret"
  count 0 1
else
  count 1 0
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
