#!/usr/bin/env bash
# bench/manifest.sh: GET /api/v1/manifest with MODELS models (default 100,000; half public),
# cold (first GET after a change) and warm, plain and gzip, vs nginx serving the same bytes.
source "$(dirname "$0")/lib.sh"
MODELS=${MODELS:-100000}
need wrk wrk
make -C "$ROOT" build >/dev/null
D=$(mktemp -d /tmp/cairn-manifest-XXXXXX)
trap 'cleanup; rm -rf "$D"' EXIT
echo "seeding $MODELS models x 3 versions..."
"$ROOT/build/cairn-bench-seed" "sqlite://$D/cairn.db" "$MODELS" 3 2>/dev/null
P=$(free_port); NP=$(free_port); TOK=bench
CAIRN_ADMIN_TOKEN=$TOK "$ROOT/build/cairnd" serve --listen 127.0.0.1:$P --db "sqlite://$D/cairn.db" \
  --blobs "$D/blobs" 2>"$D/cairnd.log" >/dev/null & PIDS+=($!)
wait_http "http://127.0.0.1:$P/healthz"
M="http://127.0.0.1:$P/api/v1/manifest"
A="Authorization: Bearer $TOK"
cold=""
for i in $(seq "$RUNS"); do
  curl -fs -XPATCH -H "$A" -H 'Content-Type: application/json' -d "{\"summary\":\"touch $i\"}" \
    "http://127.0.0.1:$P/api/v1/org/bench/models/model-000000" >/dev/null
  t=$(curl -fs -o /dev/null -w '%{time_total}' "$M")
  cold="$cold $(awk -v t="$t" 'BEGIN {printf "%.1f", t*1000}')"
done
mkdir -p "$D/static"
curl -fs "$M" >"$D/static/manifest.json"
curl -fs -H 'Accept-Encoding: gzip' "$M" >"$D/static/manifest.json.gz"
start_nginx "$D" "$NP" "$D/static"
wp=""; wp99=""; np=""; np99=""; wg=""; wg99=""; ng=""; ng99=""
for _ in $(seq "$RUNS"); do
  read -r a b c < <(wrk_run "$M"); wp="$wp $a"; wp99="$wp99 $c"
  read -r a b c < <(wrk_run "http://127.0.0.1:$NP/manifest.json"); np="$np $a"; np99="$np99 $c"
  read -r a b c < <(wrk_run "$M" "Accept-Encoding: gzip"); wg="$wg $a"; wg99="$wg99 $c"
  read -r a b c < <(wrk_run "http://127.0.0.1:$NP/manifest.json.gz"); ng="$ng $a"; ng99="$ng99 $c"
done
pct() { awk -v x="$(median "$1")" -v y="$(median "$2")" 'BEGIN {printf "%.0f%%", 100*x/y}'; }
echo
echo "manifest: $(stat -c %s "$D/static/manifest.json") bytes plain, $(stat -c %s "$D/static/manifest.json.gz") gzip; $RUNS runs, min/median/max"
printf '%-36s %-30s %-24s %s\n' figure "req/s" "p99 ms" "vs nginx (same bytes)"
printf '%-36s %-30s %-24s %s\n' "cold GET after a change (ms)" "$(stats "$cold")" "" ""
printf '%-36s %-30s %-24s %s\n' "warm, plain: cairnd" "$(stats "$wp")" "$(stats "$wp99")" "$(pct "$wp" "$np")"
printf '%-36s %-30s %-24s %s\n' "warm, plain: nginx" "$(stats "$np")" "$(stats "$np99")" ""
printf '%-36s %-30s %-24s %s\n' "warm, gzip: cairnd" "$(stats "$wg")" "$(stats "$wg99")" "$(pct "$wg" "$ng")"
printf '%-36s %-30s %-24s %s\n' "warm, gzip: nginx" "$(stats "$ng")" "$(stats "$ng99")" ""
echo "goal: warm >= 80% of nginx"
