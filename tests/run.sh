#!/bin/sh
# run.sh BUILD [ASAN_BUILD [FUZZ_BUILD]]: runs every suite and ends with one line "N passed, M failed"
# summing them all; exits non-zero if anything failed or could not run. The suites:
#   cmocka units (test_store twice: on SQLite and on PostgreSQL);
#   each libFuzzer harness of FUZZ_BUILD (tests/fuzz/) over its seed corpus and for FUZZ_SECONDS
#   (default 8) more, one test each: a crash, leak, sanitizer report or broken invariant fails it
#   and prints the reproducer's path;
#   the node API suite on SQLite + file blobs, with the normal build and the ASan+UBSan build;
#   the node API suite again on PostgreSQL + S3 (s3rver), then the scale-out suite (two cairnd
#   on one database and bucket); then the web UI in Chromium (tests/ui/). PostgreSQL is a throwaway cluster (tests/support/pg.sh) and S3 is
#   s3rver (tests/support/s3rver.mjs), both on 127.0.0.1 and stopped by PID at exit.
BUILD=${1:-build}
ASAN=${2:-}
FUZZ=${3:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
passed=0
failed=0
broken=""
log=$(mktemp -d)
pgdir="/tmp/cairn-test-pg-$$"
s3dir="/tmp/cairn-test-s3-$$"
s3pid=""
cleanup() {
  sh tests/support/pg.sh stop "$pgdir" >/dev/null 2>&1
  [ -n "$s3pid" ] && kill "$s3pid" 2>/dev/null && wait "$s3pid" 2>/dev/null
  rm -rf "$log" "$s3dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The PostgreSQL cluster the PostgreSQL suites share; each test makes its own database.
pgport=$(sh tests/support/pg.sh start "$pgdir" 2>"$log/pg.err") || {
  echo "could not start PostgreSQL:"; cat "$log/pg.err"; pgport=""; }
# The S3 server (s3rver) the S3 suites share; each test server keeps its blobs under its own
# prefix of the bucket cairn-test.
node tests/support/s3rver.mjs "$s3dir" >"$log/s3.port" 2>"$log/s3.err" &
s3pid=$!
for _ in $(seq 1 100); do [ -s "$log/s3.port" ] && break; sleep 0.1; done
s3port=$(head -1 "$log/s3.port")
[ -n "$s3port" ] || { echo "could not start s3rver:"; cat "$log/s3.err"; }

unit_one() { # label binary [env...]: one cmocka binary, counted from its summary lines
  label=$1; bin=$2; shift 2
  out="$log/unit-$(echo "$label" | tr -c 'A-Za-z0-9_\n' '_').out"
  env "$@" "$bin" >"$out" 2>&1
  rc=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$out" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$out" | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; broken="$broken $label"; fi
  passed=$((passed + p)); failed=$((failed + f))
  printf '  %-20s %3d passed, %d failed\n' "$label" "$p" "$f"
  [ "$f" -ne 0 ] && grep -v '"level":"info"' "$out"
}

echo "== unit tests (cmocka)"
for t in "$BUILD"/test_*; do
  [ -x "$t" ] && [ -f "$t" ] || continue
  unit_one "$(basename "$t")" "$t"
done
echo "== unit tests on PostgreSQL"
if [ -n "$pgport" ]; then
  unit_one "test_store (pg)" "$BUILD/test_store" CAIRN_TEST_PG="127.0.0.1:$pgport"
  unit_one "test_search_cache (pg)" "$BUILD/test_search_cache" CAIRN_TEST_PG="127.0.0.1:$pgport"
else
  broken="$broken unit-pg"; failed=$((failed + 1))
fi

if [ -n "$FUZZ" ]; then
  echo "== fuzz harnesses ($FUZZ, ${FUZZ_SECONDS:-8} s each)"
  nf=0
  for f in "$FUZZ"/fuzz_*; do
    [ -f "$f" ] && [ -x "$f" ] || continue
    nf=$((nf + 1))
    if sh tests/fuzz/run.sh one "$FUZZ" "${f##*/fuzz_}" "${FUZZ_SECONDS:-8}"; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
    fi
  done
  if [ "$nf" -eq 0 ]; then broken="$broken fuzz(no harnesses built)"; failed=$((failed + 1)); fi
fi

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
  sk=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$log/api-$label.out" | tail -1)
  printf '  %d passed, %d failed' "$p" "$f"
  # A skip is never silent: name each (they run in the suite whose backend they need).
  if [ "${sk:-0}" -gt 0 ]; then
    printf ', %d skipped:\n' "$sk"
    grep -E '^ *ok .* # SKIP' "$log/api-$label.out" | sed 's/^ */    /'
  else
    echo
  fi
  if [ "$f" -ne 0 ]; then
    # every failing test, nested subtests included, with its error lines
    grep -E '^ *not ok|^ *# Subtest|error:|expected|actual|code:|cause|AddressSanitizer|runtime error' \
      "$log/api-$label.out" | grep -B2 -A8 'not ok' | head -200
  fi
}
api_suite normal "$BUILD/cairnd" tests/api/
[ -n "$ASAN" ] && api_suite "asan+ubsan" "$ASAN/cairnd" tests/api/
if [ -n "$pgport" ] && [ -n "$s3port" ]; then
  both="CAIRN_TEST_PG=127.0.0.1:$pgport CAIRN_TEST_S3=http://127.0.0.1:$s3port"
  # shellcheck disable=SC2086 # $both is two assignments
  api_suite "postgres+s3" "$BUILD/cairnd" tests/api/ $both
  # shellcheck disable=SC2086
  api_suite "scale-out, postgres+s3" "$BUILD/cairnd" tests/scaleout/ $both
else
  broken="$broken api-postgres+s3"; failed=$((failed + 1))
fi

# The web UI in Chromium (playwright-core driving Debian's chromium, no browser download).
ui_suite() {
  echo "== UI tests (chromium)"
  if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
    broken="$broken ui(no chromium)"; failed=$((failed + 1)); return
  fi
  env CAIRND="$ROOT/$BUILD/cairnd" timeout -k 10 900 node --test --test-reporter=tap --test-concurrency=2 tests/ui/ \
    >"$log/ui.out" 2>&1
  rc=$?
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log/ui.out" | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log/ui.out" | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; broken="$broken ui"; fi
  if [ "$p" -eq 0 ]; then f=$((f + 1)); broken="$broken ui(no tests ran)"; fi
  passed=$((passed + p)); failed=$((failed + f))
  printf '  %d passed, %d failed\n' "$p" "$f"
  if [ "$f" -ne 0 ]; then
    grep -E '^not ok|error:|expected|actual' "$log/ui.out" | head -80
  fi
}
ui_suite

[ -n "$broken" ] && echo "suites that failed to run cleanly:$broken"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
