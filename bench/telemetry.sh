#!/usr/bin/env bash
# bench/telemetry.sh: inference-telemetry ingest over loopback, batches of 1000 events from
# CLIENTS concurrent clients (bench/telemetry.c), on SQLite and on PostgreSQL (one instance, then
# two on the same database), beside the raw write ceiling of the same database (the same
# aggregation and inserts in a tight loop, no HTTP/JSON/validation); then the p50/p99 of a
# 30-day telemetry query after SMALL (default 1M) and after EVENTS (default 10M) events.
# Events are spread evenly over the last 30 days. DBS="sqlite postgres" picks the databases.
source "$(dirname "$0")/lib.sh"
EVENTS=${EVENTS:-10000000}
SMALL=${SMALL:-1000000}
PG_EVENTS=${PG_EVENTS:-2000000}
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
    psql -tAqh 127.0.0.1 -p "$(echo "$DB_URL" | sed 's/.*:\([0-9]*\)\/.*/\1/')" -U postgres -d bench \
      -c "SELECT COUNT(*) FROM telemetry_partials"
  else
    sqlite3 "$D/cairn-telemetry.db" "SELECT COUNT(*) FROM telemetry_partials"
  fi
}

wait_compacted() { # wait_compacted URL N: a query counts N events and every partial is compacted
  for _ in $(seq 1 1200); do
    [ "$(sessions "$1")" = "$2" ] && [ "$(partials)" = 0 ] && return 0; sleep 0.5
  done
  echo "bench: telemetry never reached $2 compacted events" >&2; return 1
}

ingest() { # ingest N URL [URL2] -> events/s; START..START+SPAN offset by the run
  "$B" http "$1" "$CLIENTS" "$START" "$SPAN" default tele "$TOK" "${@:2}" | awk '{print $3}'
}

query_p99() { # query_p99 URL -> "p50 p99"
  "$B" query "$QUERIES" $((START - 60000)) $((NOW + 60000)) default tele "$TOK" "$1" | awk '{print $1, $2}'
}

for DB in $DBS; do
  rm -rf "$D"/*
  backend_setup "$D"
  P1=$(free_port)
  start_cairnd "$P1" "$DB_URL"
  U1="http://127.0.0.1:$P1"
  A="Authorization: Bearer $TOK"
  curl -fs -XPOST -H "$A" -H 'Content-Type: application/json' -d '{"name":"tele"}' "$U1/api/v1/org/default/models" >/dev/null
  curl -fs -XPOST -H "$A" -H 'Content-Type: application/json' -d '{"version":"1.0.0"}' "$U1/api/v1/org/default/models/tele/versions" >/dev/null
  if [ "$DB" = sqlite ]; then
    small=$SMALL; total=$EVENTS
  else
    small=$((PG_EVENTS / 2)); total=$PG_EVENTS
  fi
  echo "[$DB] ingesting $small events, $CLIENTS clients, one instance"
  r1=$(ingest "$small" "$U1")
  wait_compacted "$U1" "$small"
  read -r q1_50 q1_99 < <(query_p99 "$U1")
  if [ "$DB" = postgres ]; then
    P2=$(free_port)
    start_cairnd "$P2" "$DB_URL"
    echo "[$DB] ingesting $((total - small)) more events, $CLIENTS clients, two instances"
    r2=$(ingest $((total - small)) "$U1" "http://127.0.0.1:$P2")
  else
    echo "[$DB] ingesting $((total - small)) more events, $CLIENTS clients, one instance"
    r2=$(ingest $((total - small)) "$U1")
  fi
  wait_compacted "$U1" "$total"
  read -r q2_50 q2_99 < <(query_p99 "$U1")
  # The raw ceiling: the same aggregation and inserts into a fresh telemetry store, no HTTP.
  if [ "$DB" = postgres ]; then
    psql -qh 127.0.0.1 -p "${DB_URL##*:}" -U postgres -c "CREATE DATABASE raw" >/dev/null 2>&1 || \
      psql -qh 127.0.0.1 -p "$(echo "$DB_URL" | sed 's/.*:\([0-9]*\)\/.*/\1/')" -U postgres -c "CREATE DATABASE raw" >/dev/null
    RAW_URL="${DB_URL%/*}/raw"
  else
    RAW_URL="sqlite://$D/raw-telemetry.db"
  fi
  raw=$("$B" raw "$small" "$CLIENTS" "$START" "$SPAN" "$RAW_URL" | awk '{print $3}')
  RESULTS+=("$DB|$small|$r1|$raw|$q1_50|$q1_99|$total|$r2|$q2_50|$q2_99")
  cleanup; PIDS=()
  [ "$DB" = postgres ] && { sh "$ROOT/tests/support/pg.sh" stop "$PG_DIR" >/dev/null 2>&1 || true; PG_DIR=""; }
done

echo
echo "telemetry ingest, batches of 1000, $CLIENTS clients over loopback; 30-day query x $QUERIES"
printf '%-9s %-30s %-12s %-14s %-7s %-22s %-34s %s\n' db "first run: events, events/s" "raw ceiling" "HTTP/raw" "" "30-day query p50/p99 ms" "second run: events, events/s" "30-day query p50/p99 ms"
for row in "${RESULTS[@]}"; do
  IFS='|' read -r db n1 r1 raw a1 b1 n2 r2 a2 b2 <<<"$row"
  second="one instance"; [ "$db" = postgres ] && second="two instances"
  printf '%-9s %-30s %-12s %-14s %-7s %-22s %-34s %s\n' "$db" "$n1 @ $r1/s" "$raw/s" \
    "$(awk -v a="$r1" -v b="$raw" 'BEGIN {printf "%.0f%%", 100*a/b}')" "" "$a1 / $b1" \
    "+$((n2 - n1)) @ $r2/s ($second)" "$a2 / $b2 (at $n2)"
done
echo "goals: >= 200,000 events/s on SQLite; PostgreSQL two instances > one; 30-day p99 < 20 ms, flat from 1M to 10M"
