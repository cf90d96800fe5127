#!/usr/bin/env bash
# bench/catalog.sh: list, search, facets and versions list at MODELS models (default 100,000,
# 10 versions each), cairnd vs nginx serving the identical response bytes (the ceiling).
# Prints min/median/max of RUNS runs of wrk -t1 -c32 per figure.
# Backends: --db sqlite|postgres (a throwaway local cluster), --blobs file|s3 (s3rver);
# INSTANCES="1 2" (default "1") measures, on the same seeded data, one cairnd and then two on
# the same database, each loaded by its own wrk -c16 at once (round-robin across instances;
# the req/s is their sum; the cold read goes to the instance that did not make the write).
# CONSISTENCY=strict|notify (default strict) is cairnd's --read-consistency (docs/consistency.md):
# on PostgreSQL, notify learns the catalog revision by LISTEN/NOTIFY instead of per request.
source "$(dirname "$0")/lib.sh"
parse_backend_flags "$@"
INSTANCES=${INSTANCES:-1}
for n in $INSTANCES; do case "$n" in 1|2) ;; *) echo "bench: INSTANCES is a list of 1 and 2" >&2; exit 2;; esac; done
MODELS=${MODELS:-100000}
VERSIONS=${VERSIONS:-10}
need wrk wrk
make -C "$ROOT" build >/dev/null
D=$(mktemp -d /tmp/cairn-bench-XXXXXX)
trap 'backend_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$D"' EXIT
backend_setup "$D"
echo "seeding $MODELS models x $VERSIONS versions..."
"$ROOT/build/cairn-bench-seed" "$DB_URL" "$MODELS" "$VERSIONS"
# A bulk load leaves PostgreSQL without statistics until autovacuum comes by: plan with them.
if [ "$DB" = postgres ]; then psql -q "$DB_URL" -c ANALYZE >/dev/null; fi
P=$(free_port); P2=$P; NP=$(free_port); TOK=bench-admin-token
start_cairnd() { # start_cairnd PORT
  env "${BACKEND_ENV[@]}" CAIRN_ADMIN_TOKEN=$TOK "$ROOT/build/cairnd" serve --listen 127.0.0.1:$1 \
    --db "$DB_URL" --blobs "$BLOBS_URL" --threads "${THREADS:-4}" \
    --read-consistency "${CONSISTENCY:-strict}" >/dev/null 2>>"$D/cairnd.log" & PIDS+=($!)
  wait_http "http://127.0.0.1:$1/healthz"
}
start_cairnd "$P"
CPID=${PIDS[-1]}
N=1
cairn_load() { # cairn_load PATH -> "rps p50 p99" over the instance(s)
  if [ "$N" = 2 ]; then
    wrk_pair "http://127.0.0.1:$P$1" "http://127.0.0.1:$P2$1" "Authorization: Bearer $TOK"
  else
    wrk_run "http://127.0.0.1:$P$1" "Authorization: Bearer $TOK"
  fi
}
mkdir -p "$D/static"
declare -A EP=(
  [list]="/api/v1/org/bench/models"
  [search_common]="/api/v1/org/bench/models?search=llama"
  [search_rare]="/api/v1/org/bench/models?search=zebracorn"
  [facets_0]="/api/v1/org/bench/models/facets"
  [facets_1]="/api/v1/org/bench/models/facets?framework=gguf"
  [facets_3]="/api/v1/org/bench/models/facets?framework=gguf&license=mit&tags=nlp"
  [versions]="/api/v1/org/bench/models/model-$(printf %06d $((MODELS / 2)))/versions"
)
ORDER="list search_common search_rare facets_0 facets_1 facets_3 versions"
for k in $ORDER; do
  curl -fs -H "Authorization: Bearer $TOK" "http://127.0.0.1:$P${EP[$k]}" >"$D/static/$k.json"
done
start_nginx "$D" "$NP" "$D/static"
for N in $INSTANCES; do
if [ "$N" = 2 ] && [ "$P2" = "$P" ]; then P2=$(free_port); start_cairnd "$P2"; fi
[ "$N" = 1 ] && P2=$P
echo
echo "== $N instance(s), db=$DB, --read-consistency ${CONSISTENCY:-strict}"
printf '%-14s %8s | %-20s | %-26s %-22s %-22s | %-26s %-20s | %s\n' endpoint bytes "cold ms (after write)" \
  "cairnd req/s min/med/max" "p50 ms" "p99 ms" "nginx req/s min/med/max" "nginx p99 ms" "cairnd/nginx"
touch_catalog() { # a write, so the next request of each endpoint is computed, not cached
  curl -fs -XPATCH -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
    -d "{\"summary\":\"touch $RANDOM\"}" "http://127.0.0.1:$P/api/v1/org/bench/models/model-000001" >/dev/null
}
for k in $ORDER; do
  cr=""; c50=""; c99=""; nr=""; n99=""; cold=""
  for _ in $(seq "$RUNS"); do
    touch_catalog
    t=$(curl -fs -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOK" "http://127.0.0.1:$P2${EP[$k]}")
    cold="$cold $(awk -v t="$t" 'BEGIN {printf "%.1f", t*1000}')"
  done
  for _ in $(seq "$RUNS"); do
    read -r a b c < <(cairn_load "${EP[$k]}")
    cr="$cr $a"; c50="$c50 $b"; c99="$c99 $c"
    read -r a b c < <(wrk_run "http://127.0.0.1:$NP/$k.json")
    nr="$nr $a"; n99="$n99 $c"
  done
  ratio=$(awk -v x="$(median "$cr")" -v y="$(median "$nr")" 'BEGIN {printf "%.0f%%", 100*x/y}')
  printf '%-14s %8s | %-20s | %-26s %-22s %-22s | %-26s %-20s | %s\n' "$k" "$(stat -c %s "$D/static/$k.json")" \
    "$(stats "$cold")" "$(stats "$cr")" "$(stats "$c50")" "$(stats "$c99")" "$(stats "$nr")" "$(stats "$n99")" "$ratio"
done
done
echo
echo "goals: facets and search p99 < 25 ms; versions list >= 50% of nginx req/s"
echo "cairnd peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$CPID/status)"
