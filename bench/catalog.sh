#!/usr/bin/env bash
# bench/catalog.sh: list, search, facets and versions list at MODELS models (default 100,000,
# 10 versions each), cairnd vs nginx serving the identical response bytes (the ceiling).
# Prints min/median/max of RUNS runs of wrk -t1 -c32 per figure.
source "$(dirname "$0")/lib.sh"
MODELS=${MODELS:-100000}
VERSIONS=${VERSIONS:-10}
need wrk wrk
make -C "$ROOT" build >/dev/null
D=$(mktemp -d /tmp/cairn-bench-XXXXXX)
trap 'cleanup; rm -rf "$D"' EXIT
echo "seeding $MODELS models x $VERSIONS versions..."
"$ROOT/build/cairn-bench-seed" "sqlite://$D/cairn.db" "$MODELS" "$VERSIONS"
P=$(free_port); NP=$(free_port); TOK=bench-admin-token
CAIRN_ADMIN_TOKEN=$TOK "$ROOT/build/cairnd" serve --listen 127.0.0.1:$P --db "sqlite://$D/cairn.db" \
  --blobs "$D/blobs" --threads "${THREADS:-4}" >/dev/null 2>"$D/cairnd.log" & PIDS+=($!)
wait_http "http://127.0.0.1:$P/healthz"
CPID=${PIDS[-1]}
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
printf '\n%-14s %8s | %-20s | %-26s %-22s %-22s | %-26s %-20s | %s\n' endpoint bytes "cold ms (after write)" \
  "cairnd req/s min/med/max" "p50 ms" "p99 ms" "nginx req/s min/med/max" "nginx p99 ms" "cairnd/nginx"
touch_catalog() { # a write, so the next request of each endpoint is computed, not cached
  curl -fs -XPATCH -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
    -d "{\"summary\":\"touch $RANDOM\"}" "http://127.0.0.1:$P/api/v1/org/bench/models/model-000001" >/dev/null
}
for k in $ORDER; do
  cr=""; c50=""; c99=""; nr=""; n99=""; cold=""
  for _ in $(seq "$RUNS"); do
    touch_catalog
    t=$(curl -fs -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOK" "http://127.0.0.1:$P${EP[$k]}")
    cold="$cold $(awk -v t="$t" 'BEGIN {printf "%.1f", t*1000}')"
  done
  for _ in $(seq "$RUNS"); do
    read -r a b c < <(wrk_run "http://127.0.0.1:$P${EP[$k]}" "Authorization: Bearer $TOK")
    cr="$cr $a"; c50="$c50 $b"; c99="$c99 $c"
    read -r a b c < <(wrk_run "http://127.0.0.1:$NP/$k.json")
    nr="$nr $a"; n99="$n99 $c"
  done
  ratio=$(awk -v x="$(median "$cr")" -v y="$(median "$nr")" 'BEGIN {printf "%.0f%%", 100*x/y}')
  printf '%-14s %8s | %-20s | %-26s %-22s %-22s | %-26s %-20s | %s\n' "$k" "$(stat -c %s "$D/static/$k.json")" \
    "$(stats "$cold")" "$(stats "$cr")" "$(stats "$c50")" "$(stats "$c99")" "$(stats "$nr")" "$(stats "$n99")" "$ratio"
done
echo
echo "goals: facets and search p99 < 25 ms; versions list >= 50% of nginx req/s"
echo "cairnd peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$CPID/status)"
