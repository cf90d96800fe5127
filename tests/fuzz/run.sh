#!/bin/sh
# tests/fuzz/run.sh: runs the libFuzzer harnesses of a fuzz build (meson -Dfuzz=true).
#   run.sh one FUZZ_BUILD NAME SECONDS   one harness over its seed corpus, then fuzzing for
#                                        SECONDS in a throwaway corpus (make test); exit 1 on a
#                                        crash, leak, sanitizer report or broken invariant, with
#                                        the reproducer's path printed
#   run.sh long FUZZ_BUILD SECONDS [NAME...]
#                                        every harness (or those named) SECONDS each, one at a
#                                        time under nice, growing FUZZ_BUILD/corpus/NAME, and adds
#                                        the executions to docs/fuzzing.md (make fuzz); with
#                                        FUZZ_RUNS=N in the environment a harness also stops
#                                        after N executions
# Reproducers are kept under FUZZ_BUILD/artifacts/NAME/; replay one with
# `FUZZ_BUILD/fuzz_NAME FILE`. A crash fixed in the code gets its input committed as
# tests/fuzz/corpus/NAME/regress-WHAT, so every later run replays it.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mode=$1
FB=$2
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# fuzz NAME SECONDS CORPUS LOG: runs one harness; returns its status.
fuzz() {
  name=$1; secs=$2; corpus=$3; logf=$4
  art="$FB/artifacts/$name"
  mkdir -p "$art" "$corpus"
  "$FB/fuzz_$name" -max_total_time="$secs" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$art/" "$corpus" "$ROOT/tests/fuzz/corpus/$name" \
    >"$logf" 2>&1
}

# report NAME LOG STATUS: one line for a harness; the reproducer and the report on failure.
report() {
  name=$1; logf=$2; rc=$3
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$logf" | tail -1)
  # 72: stopped by SIGINT/SIGTERM (Ctrl-C on make fuzz); what ran before it still counts
  if [ "$rc" -eq 72 ] && grep -q 'libFuzzer: run interrupted' "$logf"; then rc=0; fi
  if [ "$rc" -eq 0 ] && ! grep -q -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error' "$logf"; then
    printf '  %-16s ok, %s executions\n' "$name" "${execs:-?}"
    return 0
  fi
  repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$logf" | tail -1)
  printf '  %-16s FAILED (exit %d)%s\n' "$name" "$rc" "${repro:+, reproducer: $repro}"
  grep -E 'invariant broken|runtime error|ERROR: |SUMMARY|^ *#[0-9] ' "$logf" |
    awk '{ print } /SUMMARY/ { exit }' | head -16 | sed 's/^/    /'
  return 1
}

case "$mode" in
one)
  name=$3; secs=${4:-8}
  work=$(mktemp -d)
  fuzz "$name" "$secs" "$work/corpus" "$work/log"
  report "$name" "$work/log" $?
  rc=$?
  rm -rf "$work"
  exit $rc
  ;;
long)
  secs=${3:-60}
  shift 3
  names="$*"
  if [ -z "$names" ]; then
    for f in "$FB"/fuzz_*; do
      [ -f "$f" ] && [ -x "$f" ] && names="$names ${f##*/fuzz_}"
    done
  fi
  failed=0
  for name in $names; do
    logf="$FB/fuzz-$name.log"
    fuzz "$name" "$secs" "$FB/corpus/$name" "$logf"
    rc=$?
    if report "$name" "$logf" $rc; then
      execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$logf" | tail -1)
      files=$(ls "$FB/corpus/$name" | wc -l)
      python3 "$ROOT/tools/fuzzrecord.py" "$ROOT/docs/fuzzing.md" "$name" "${execs:-0}" "$files"
    else
      failed=$((failed + 1))
    fi
  done
  [ "$failed" -eq 0 ]
  ;;
*)
  echo "usage: run.sh one FUZZ_BUILD NAME SECONDS | run.sh long FUZZ_BUILD SECONDS [NAME...]" >&2
  exit 2
  ;;
esac
