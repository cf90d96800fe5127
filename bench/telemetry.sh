#!/usr/bin/env bash
# bench/telemetry.sh: inference-telemetry ingest over loopback, batches of 1000 events from
# CLIENTS concurrent clients (bench/telemetry.c), on SQLite (one instance) and on PostgreSQL (one
# instance, then two on one database, each run into a fresh database), beside the raw write
# ceiling of the same database (the same aggregation and inserts in a tight loop, no
# HTTP/JSON/validation). Each run ingests SMALL (default 1M) events, then up to EVENTS (default
# 10M), and times the p50/p99 of a 30-day telemetry query after each, once compaction is done.
# Each part's events are spread evenly over the last 30 days, in time order, as a fleet sends
# them. DBS="sqlite postgres" picks the databases.
source "$(dirname "$0")/lib.sh"
EVENTS=${EVENTS:-10000000}
SMALL=${SMALL:-1000000}
CLIENTS=${CLIENTS:-4}
QUERIES=${QUERIES:-200}
DBS=${DBS:-sqlite postgres}
need sqlite3 sqlite3
make -C "$ROOT" build >/dev/null
B="$ROOT/build/cairn-bench-telemetry"
TOK=bench
D=$(mktemp -d /tmp/cairn-tele-XXXXXX)
trap 'backend_cleanup; rm -rf "$D"' EXIT
DAY=86400000
NOW=$(($(date +%s) * 1000))
START=$((NOW - 30 * DAY))
SPAN=$((30 * DAY - 60000))
RESULTS=()
LAGS=()
declare -A RAW

start_cairnd() { # start_cairnd PORT DB_URL -> appends to PIDS
  CAIRN_ADMIN_TOKEN=$TOK "$ROOT/build/cairnd" serve --listen "127.0.0.1:$1" --db "$2" \
    --blobs "file://$D/blobs" --threads 4 2>>"$D/cairnd-$1.log" >/dev/null & PIDS+=($!)
  wait_http "http://127.0.0.1:$1/healthz"
}

sessions() { # sessions URL -> events a 30-day query counts
  "$B" query 1 $((START - 60000)) $((NOW + 60000)) default tele "$TOK" "$1" | awk '{split($3, a, ","); print a[1]}'
}

partials() { # uncompacted aggregates left in the telemetry store
  if [ "$DB" = postgres ]; then
    psql -tAqh 127.0.0.1 -p "$(pg_port)" -U postgres -d "${CUR_URL##*/}" \
      -c "SELECT COUNT(*) FROM telemetry_partials"
  else
    local f=${CUR_URL#sqlite://}
    sqlite3 "${f%.db}-telemetry.db" "SELECT COUNT(*) FROM telemetry_partials"
  fi
}

wait_compacted() { # wait_compacted URL N: a query counts N events and every partial is compacted
  for _ in $(seq 1 1200); do
    [ "$(sessions "$1")" = "$2" ] && [ "$(partials)" = 0 ] && return 0; sleep 0.5
  done
  echo "bench: telemetry never reached $2 compacted events" >&2; return 1
}

ingest() { # ingest N URL [URL2] -> "seconds events/s"; events spread over START..START+SPAN
  "$B" http "$1" "$CLIENTS" "$START" "$SPAN" default tele "$TOK" "${@:2}" | awk '{print $2, $3}'
}

query_p99() { # query_p99 URL -> "p50 p99"
  "$B" query "$QUERIES" $((START - 60000)) $((NOW + 60000)) default tele "$TOK" "$1" | awk '{print $1, $2}'
}

pg_port() { echo "$DB_URL" | sed 's/.*:\([0-9]*\)\/.*/\1/'; }

# run_mode LABEL INSTANCES: a fresh telemetry store; SMALL events, wait for compaction, queries;
# EVENTS - SMALL more, wait, queries. Appends a row to RESULTS.
run_mode() {
  local label=$1 inst=$2 url u1 u2="" r1 r2 s1 s2
  url=$DB_URL
  if [ "$DB" = postgres ]; then
    psql -qh 127.0.0.1 -p "$(pg_port)" -U postgres -c "CREATE DATABASE $label" >/dev/null
    url="${DB_URL%/*}/$label"
  else
    mkdir -p "$D/$label"; url="sqlite://$D/$label/cairn.db"
  fi
  CUR_URL=$url
  local p1 p2
  p1=$(free_port); start_cairnd "$p1" "$url"; u1="http://127.0.0.1:$p1"
  if [ "$inst" = 2 ]; then p2=$(free_port); start_cairnd "$p2" "$url"; u2="http://127.0.0.1:$p2"; fi
  A="Authorization: Bearer $TOK"
  curl -fs -XPOST -H "$A" -H 'Content-Type: application/json' -d '{"name":"tele"}' "$u1/api/v1/org/default/models" >/dev/null
  curl -fs -XPOST -H "$A" -H 'Content-Type: application/json' -d '{"version":"1.0.0"}' "$u1/api/v1/org/default/models/tele/versions" >/dev/null
  echo "[$DB, $inst instance(s)] ingesting $SMALL events, $CLIENTS clients"
  read -r s1 r1 < <(ingest "$SMALL" "$u1" $u2)
  local c0=$SECONDS
  wait_compacted "$u1" "$SMALL"
  local lag1=$((SECONDS - c0))
  read -r q1_50 q1_99 < <(query_p99 "$u1")
  echo "[$DB, $inst instance(s)] ingesting $((EVENTS - SMALL)) more events"
  read -r s2 r2 < <(ingest $((EVENTS - SMALL)) "$u1" $u2)
  c0=$SECONDS
  wait_compacted "$u1" "$EVENTS"
  local lag2=$((SECONDS - c0))
  read -r q2_50 q2_99 < <(query_p99 "$u1")
  local all
  all=$(awk -v n="$EVENTS" -v a="$s1" -v b="$s2" 'BEGIN {printf "%.0f", n / (a + b)}')
  RESULTS+=("$DB|$inst|$r1|$q1_50|$q1_99|$r2|$all|$q2_50|$q2_99")
  LAGS+=("$DB, $inst instance(s): every partial compacted within ${lag1} s of the end of the first part, ${lag2} s of the rest")
  cleanup; PIDS=()
  # Dropped once measured, so its autovacuum does not run into the next run's figures.
  if [ "$DB" = postgres ]; then
    psql -qh 127.0.0.1 -p "$(pg_port)" -U postgres -c "DROP DATABASE $label" >/dev/null
  fi
}

for DB in $DBS; do
  rm -rf "$D"/*
  backend_setup "$D"
  if [ "$DB" = postgres ]; then
    run_mode one 1
    run_mode two 2
  else
    run_mode one 1
  fi
  # The raw ceiling: the same aggregation and inserts of the first SMALL events into a fresh
  # telemetry store, no HTTP.
  if [ "$DB" = postgres ]; then
    psql -qh 127.0.0.1 -p "$(pg_port)" -U postgres -c "CREATE DATABASE raw" >/dev/null
    RAW_URL="${DB_URL%/*}/raw"
  else
    RAW_URL="sqlite://$D/raw-telemetry.db"
  fi
  RAW[$DB]=$("$B" raw "$SMALL" "$CLIENTS" "$START" "$SPAN" "$RAW_URL" | awk '{print $3}')
  [ "$DB" = postgres ] && { sh "$ROOT/tests/support/pg.sh" stop "$PG_DIR" >/dev/null 2>&1 || true; PG_DIR=""; }
done

echo
echo "telemetry ingest: $EVENTS events over 30 days, batches of 1000, $CLIENTS clients over loopback;"
echo "first $SMALL (~$((SMALL / 43200)) events a minute, ~$((1000 * 43200 / SMALL)) partials a batch), then $((EVENTS - SMALL)) more; 30-day query x $QUERIES after each"
printf '%-9s %-10s %-12s %-12s %-8s %-18s %-14s %-14s %s\n' db instances "first ev/s" "raw ceiling" "HTTP/raw" "query p50/p99 ms" "rest ev/s" "overall ev/s" "query p50/p99 ms at $EVENTS"
for row in "${RESULTS[@]}"; do
  IFS='|' read -r db inst r1 a1 b1 r2 all a2 b2 <<<"$row"
  raw=${RAW[$db]}
  printf '%-9s %-10s %-12s %-12s %-8s %-18s %-14s %-14s %s\n' "$db" "$inst" "$r1" "$raw" \
    "$(awk -v a="$r1" -v b="$raw" 'BEGIN {printf "%.0f%%", 100*a/b}')" "$a1 / $b1" "$r2" "$all" "$a2 / $b2"
done
printf '%s\n' "${LAGS[@]}"
echo "goals: >= 200,000 events/s on SQLite; PostgreSQL two instances > one; 30-day p99 < 20 ms, flat from 1M to 10M"
