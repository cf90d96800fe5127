#!/usr/bin/env bash
# bench/manifest.sh: GET /api/v1/manifest with MODELS models (default 200,000: 100,000 public),
# cold (first GET after a change) and warm, plain and gzip, vs nginx serving the same bytes.
source "$(dirname "$0")/lib.sh"
MODELS=${MODELS:-200000}
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
# The first GET after a change, COLD times (default 50) each way: a PATCH (one entry changes),
# then one plain GET; another PATCH, then one gzip GET. p50/p99/max over the samples. The
# models touched are public (even-numbered), so each change is in the manifest.
COLD=${COLD:-50}
cold=""; coldgz=""
touch_model() {
  curl -fs -XPATCH -H "$A" -H 'Content-Type: application/json' -d "{\"summary\":\"touch $1\"}" \
    "http://127.0.0.1:$P/api/v1/org/bench/models/model-$(printf %06d $(( 2 * (($1 * 7919) % (MODELS / 2)) )))" >/dev/null
}
curl -fs -o /dev/null "$M"; curl -fs -o /dev/null -H 'Accept-Encoding: gzip' "$M" # built once at start
for i in $(seq "$COLD"); do
  touch_model "$i"
  t=$(curl -fs -o /dev/null -w '%{time_total}' "$M")
  cold="$cold $(awk -v t="$t" 'BEGIN {printf "%.1f", t*1000}')"
  touch_model "$((i + COLD))"
  t=$(curl -fs -o /dev/null -H 'Accept-Encoding: gzip' -w '%{time_total}' "$M")
  coldgz="$coldgz $(awk -v t="$t" 'BEGIN {printf "%.1f", t*1000}')"
done
pctl() { echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {i=int(NR*0.99+0.999); if (i>NR) i=NR; printf "%s/%s/%s", a[int((NR+1)/2)], a[i], a[NR]}'; }
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
echo "first GET after a change, $COLD samples each, ms p50/p99/max: plain $(pctl "$cold"); gzip $(pctl "$coldgz")"
printf '%-36s %-30s %-24s %s\n' "warm, plain: cairnd" "$(stats "$wp")" "$(stats "$wp99")" "$(pct "$wp" "$np")"
printf '%-36s %-30s %-24s %s\n' "warm, plain: nginx" "$(stats "$np")" "$(stats "$np99")" ""
printf '%-36s %-30s %-24s %s\n' "warm, gzip: cairnd" "$(stats "$wg")" "$(stats "$wg99")" "$(pct "$wg" "$ng")"
printf '%-36s %-30s %-24s %s\n' "warm, gzip: nginx" "$(stats "$ng")" "$(stats "$ng99")" ""
echo "goals: first GET after a change p99 <= 50 ms; warm gzip >= 80% of nginx"
