#!/bin/sh
# run.sh BUILD [ASAN_BUILD]: runs every suite (cmocka units, the node API suite against the
# normal build, and again against the ASan+UBSan build) and ends with one line
# "N passed, M failed" summing them all. Exits non-zero if anything failed or could not run.
BUILD=${1:-build}
ASAN=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
passed=0
failed=0
broken=""
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

echo "== unit tests (cmocka)"
for t in "$BUILD"/test_*; do
  [ -x "$t" ] && [ -f "$t" ] || continue
  name=$(basename "$t")
  "$t" >"$log/$name.out" 2>&1
  rc=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$log/$name.out" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$log/$name.out" | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; broken="$broken $name"; fi
  passed=$((passed + p)); failed=$((failed + f))
  printf '  %-20s %3d passed, %d failed\n' "$name" "$p" "$f"
  [ "$f" -ne 0 ] && cat "$log/$name.out"
done

api_suite() { # label binary
  label=$1; bin=$2
  echo "== API tests ($label: $bin)"
  if [ ! -x "$bin" ]; then broken="$broken api-$label"; failed=$((failed + 1)); return; fi
  CAIRND="$ROOT/$bin" node --test --test-reporter=tap --test-concurrency=2 tests/api/ \
    >"$log/api-$label.out" 2>&1
  rc=$?
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log/api-$label.out" | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log/api-$label.out" | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; broken="$broken api-$label"; fi
  if [ "$p" -eq 0 ]; then f=$((f + 1)); broken="$broken api-$label(no tests ran)"; fi
  passed=$((passed + p)); failed=$((failed + f))
  printf '  %d passed, %d failed\n' "$p" "$f"
  if [ "$f" -ne 0 ]; then
    grep -E '^not ok|^# Subtest|error:|expected|actual|AddressSanitizer|runtime error' \
      "$log/api-$label.out" | grep -B1 -A6 'not ok' | head -150
  fi
}
api_suite normal "$BUILD/cairnd"
[ -n "$ASAN" ] && api_suite "asan+ubsan" "$ASAN/cairnd"

[ -n "$broken" ] && echo "suites that failed to run cleanly:$broken"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
