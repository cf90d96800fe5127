#!/usr/bin/env bash
# bench/mixed.sh: catalog reads while the catalog changes. At MODELS models (default 100,000,
# 10 versions each) a writer makes RATE (default 10) catalog changes per second (create, PATCH,
# tag change, version publish: each moves the catalog revision, so no response cache helps)
# while wrk (-c CONNS, default 8) reads list, search and facets with 0, 1 and 3 filters, one
# endpoint at a time, RUNS times DUR seconds each. Goal: read p99 < 25 ms for every endpoint.
# At the end the facet counts of the server (in-memory index) are compared with a second
# server on the same database counting them with SQL GROUP BY (--facet-index off).
# Backends: --db sqlite|postgres (a throwaway local cluster). CONSISTENCY=strict|notify (default
# strict) is cairnd's --read-consistency (docs/consistency.md).
source "$(dirname "$0")/lib.sh"
parse_backend_flags "$@"
MODELS=${MODELS:-100000}
VERSIONS=${VERSIONS:-10}
RATE=${RATE:-10}
CONNS=${CONNS:-8}
need wrk wrk
make -C "$ROOT" build >/dev/null
D=$(mktemp -d /tmp/cairn-mixed-XXXXXX)
trap 'rm -f "$D/stop"; touch "$D/stop"; backend_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$D"' EXIT
backend_setup "$D"
echo "seeding $MODELS models x $VERSIONS versions..."
"$ROOT/build/cairn-bench-seed" "$DB_URL" "$MODELS" "$VERSIONS"
# PostgreSQL: VACUUM too, so autovacuum's pass over the million freshly written rows does not
# land in the first endpoint's measurement (what a bulk import is followed by anyway).
if [ "$DB" = postgres ]; then psql -q "$DB_URL" -c "VACUUM ANALYZE" >/dev/null; fi
TOK=bench-admin-token
start_cairnd() { # start_cairnd PORT [ARGS...]
  local port=$1; shift
  env "${BACKEND_ENV[@]}" CAIRN_ADMIN_TOKEN=$TOK "$ROOT/build/cairnd" serve --listen 127.0.0.1:$port \
    --db "$DB_URL" --blobs "$BLOBS_URL" --read-consistency "${CONSISTENCY:-strict}" "$@" >/dev/null 2>>"$D/cairnd.log" & PIDS+=($!)
  wait_http "http://127.0.0.1:$port/healthz"
}
P=$(free_port)
start_cairnd "$P"
CPID=${PIDS[-1]}
A="Authorization: Bearer $TOK"
declare -A EP=(
  [list]="/api/v1/org/bench/models"
  [search_common]="/api/v1/org/bench/models?search=llama"
  [search_rare]="/api/v1/org/bench/models?search=zebracorn"
  [facets_0]="/api/v1/org/bench/models/facets"
  [facets_1]="/api/v1/org/bench/models/facets?framework=gguf"
  [facets_3]="/api/v1/org/bench/models/facets?framework=gguf&license=mit&tags=nlp"
)
ORDER="list search_common search_rare facets_0 facets_1 facets_3"
rm -f "$D/stop"
python3 "$ROOT/bench/writer.py" "http://127.0.0.1:$P" "$TOK" bench "$RATE" "$D/stop" >"$D/writer.out" &
WPID=$!
T0=$(date +%s.%N)
echo
echo "== db=$DB (--read-consistency ${CONSISTENCY:-strict}), $MODELS models, writer at $RATE changes/s, wrk -t1 -c$CONNS, $RUNS x ${DUR}s per endpoint"
printf '%-14s | %-26s | %-22s | %-22s | %s\n' endpoint "req/s min/med/max" "p50 ms" "p99 ms" "p99 < 25 ms"
for k in $ORDER; do
  rps=""; p50=""; p99=""
  for _ in $(seq "$RUNS"); do
    out=$(wrk -t1 -c"$CONNS" -d"${DUR}"s --latency -H "$A" "http://127.0.0.1:$P${EP[$k]}")
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    [ "${n:-0}" -gt 0 ] || { echo "bench: wrk completed 0 requests on $k" >&2; exit 1; }
    if echo "$out" | grep -q "Non-2xx"; then echo "bench: non-2xx answers on $k" >&2; exit 1; fi
    rps="$rps $(echo "$out" | awk '/Requests\/sec/ {print $2}')"
    p50="$p50 $(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')")"
    p99="$p99 $(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")"
  done
  ok=$(awk -v x="$(median "$p99")" 'BEGIN {print (x < 25) ? "yes" : "NO"}')
  printf '%-14s | %-26s | %-22s | %-22s | %s\n' "$k" "$(stats "$rps")" "$(stats "$p50")" "$(stats "$p99")" "$ok"
done
touch "$D/stop"
wait "$WPID"
T1=$(date +%s.%N)
read -r changes errors <"$D/writer.out"
awk -v c="$changes" -v e="$errors" -v t0="$T0" -v t1="$T1" \
  'BEGIN {printf "writer: %d changes in %.1f s (%.1f/s), %d failed\n", c, t1 - t0, c / (t1 - t0), e}'
# The counts after the run, from the index and from SQL, must be the same.
P2=$(free_port)
start_cairnd "$P2" --facet-index off
agree=yes
for k in facets_0 facets_1 facets_3; do
  a=$(curl -fs -H "$A" "http://127.0.0.1:$P${EP[$k]}")
  b=$(curl -fs -H "$A" "http://127.0.0.1:$P2${EP[$k]}")
  if [ "$a" != "$b" ]; then agree=NO; echo "facet counts differ on $k:"; echo " index: $a"; echo " SQL:   $b"; fi
done
echo "facet counts (in-memory index) equal SQL GROUP BY after the run: $agree"
echo "cairnd peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$CPID/status" 2>/dev/null || echo '?')"
