#!/usr/bin/env bash
# bench/seed.sh: seeds MODELS models x VERSIONS versions (default 100,000 x 10) through the
# store (build/cairn-bench-seed: store_artifact_insert, store_version_insert,
# store_artifact_refresh, transactions of 2,000 models) into a fresh SQLite file and a fresh
# PostgreSQL database (a throwaway local cluster, tests/support/pg.sh), in one run, and prints
# the seconds, models/s and PostgreSQL's rate as a share of SQLite's (the goal: >= 25%).
# PostgreSQL is seeded twice: in bulk transactions (store_tx_begin_bulk: inserts pipelined,
# a duplicate fails the batch at its commit) and with --wait (every insert waits for its
# answer, as in a request). Each database is checked afterwards: row counts and the
# denormalized latest version agree with the seeder's input.
source "$(dirname "$0")/lib.sh"
MODELS=${MODELS:-100000}
VERSIONS=${VERSIONS:-10}
make -C "$ROOT" build >/dev/null
D=$(mktemp -d /tmp/cairn-bench-XXXXXX)
trap 'backend_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$D"' EXIT
DB=postgres
backend_setup "$D" >/dev/null
PG_URL=$DB_URL
PG_ADMIN=${PG_URL%/bench}/postgres
psql -q "$PG_ADMIN" -c "CREATE DATABASE bench_wait" >/dev/null
run() { # run LABEL URL [FLAG]
  local label=$1 url=$2; shift 2
  local out s
  out=$("$ROOT/build/cairn-bench-seed" "$url" "$MODELS" "$VERSIONS" "$@" 2>>"$D/seed.log")
  s=$(echo "$out" | sed -n 's/.* in \([0-9.]*\) s$/\1/p')
  [ -n "$s" ] || { echo "bench: seeding $label failed: $out" >&2; tail -3 "$D/seed.log" >&2; exit 1; }
  echo "$s"
}
check() { # check LABEL COUNT_MODELS COUNT_VERSIONS PUBLISHED_LATEST
  local want_v=$((MODELS * VERSIONS)) want_latest="1.$((VERSIONS - 2)).0"
  [ "$VERSIONS" -lt 2 ] && want_latest=""
  if [ "$2" != "$MODELS" ] || [ "$3" != "$want_v" ] || [ "$4" != "$MODELS" ]; then
    echo "bench: $1 holds $2 models, $3 versions, $4 with latest $want_latest (want $MODELS, $want_v, $MODELS)" >&2
    exit 1
  fi
}
latest_q="SELECT COUNT(*) FROM artifacts WHERE latest_version = '1.$((VERSIONS - 2)).0' AND version_count = $((VERSIONS - 1))"
echo "seeding $MODELS models x $VERSIONS versions through the store; $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
t_sqlite=$(run sqlite "sqlite://$D/cairn.db")
check sqlite "$(sqlite3 "$D/cairn.db" "SELECT COUNT(*) FROM artifacts")" \
  "$(sqlite3 "$D/cairn.db" "SELECT COUNT(*) FROM versions")" "$(sqlite3 "$D/cairn.db" "$latest_q")"
t_bulk=$(run "postgres bulk" "$PG_URL")
check "postgres bulk" "$(psql -qAt "$PG_URL" -c "SELECT COUNT(*) FROM artifacts")" \
  "$(psql -qAt "$PG_URL" -c "SELECT COUNT(*) FROM versions")" "$(psql -qAt "$PG_URL" -c "$latest_q")"
t_wait=$(run "postgres --wait" "${PG_ADMIN%/postgres}/bench_wait" --wait)
check "postgres --wait" "$(psql -qAt "${PG_ADMIN%/postgres}/bench_wait" -c "SELECT COUNT(*) FROM artifacts")" \
  "$(psql -qAt "${PG_ADMIN%/postgres}/bench_wait" -c "SELECT COUNT(*) FROM versions")" \
  "$(psql -qAt "${PG_ADMIN%/postgres}/bench_wait" -c "$latest_q")"
printf '%-44s %9s %10s %s\n' database seconds models/s "share of SQLite's rate"
row() { awk -v l="$1" -v t="$2" -v ref="$t_sqlite" -v m="$MODELS" \
  'BEGIN {printf "%-44s %9.1f %10.0f %s\n", l, t, m / t, (l ~ /^sqlite/) ? "" : sprintf("%.0f%%", 100 * ref / t)}'; }
row "sqlite" "$t_sqlite"
row "postgres, bulk transactions (pipelined)" "$t_bulk"
row "postgres, --wait (each insert waits)" "$t_wait"
echo "checked: each database holds $MODELS models, $((MODELS * VERSIONS)) versions, latest and count right"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
