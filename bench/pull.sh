#!/usr/bin/env bash
# bench/pull.sh: `cairn pull` of a SIZE_MB model (default 2048) vs `curl` of the same presigned
# URL (the ceiling), wall time, RUNS runs each, same machine, loopback.
source "$(dirname "$0")/lib.sh"
SIZE_MB=${SIZE_MB:-2048}
make -C "$ROOT" build >/dev/null
D=$(mktemp -d /tmp/cairn-pull-XXXXXX)
trap 'cleanup; rm -rf "$D"' EXIT
F="$D/model.bin"
(set +o pipefail; openssl enc -aes-128-ctr -pass pass:pull -nosalt -in /dev/zero 2>/dev/null |
  head -c "$((SIZE_MB << 20))" >"$F")
P=$(free_port); TOK=bench
CAIRN_ADMIN_TOKEN=$TOK "$ROOT/build/cairnd" serve --listen 127.0.0.1:$P --db "sqlite://$D/c.db" \
  --blobs "$D/blobs" --secret bench 2>"$D/cairnd.log" >/dev/null & PIDS+=($!)
wait_http "http://127.0.0.1:$P/healthz"
export CAIRN_SERVER="http://127.0.0.1:$P" CAIRN_TOKEN=$TOK HOME="$D/home"
"$ROOT/build/cairn" push default/pullbench@1.0.0 "$F" --publish >/dev/null
URL=$(curl -fs -H "Authorization: Bearer $TOK" \
  "http://127.0.0.1:$P/api/v1/org/default/models/pullbench/versions/1.0.0/download-urls" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["resources"][0]["url"])')
tc=""; tu=""
for i in $(seq "$RUNS"); do
  rm -rf "$D/out"; mkdir -p "$D/out"
  t0=$(date +%s.%N); "$ROOT/build/cairn" pull default/pullbench@1.0.0 -o "$D/out" >/dev/null
  tc="$tc $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b-a}')"
  t0=$(date +%s.%N); curl -fs -o "$D/curl.bin" "$URL"
  tu="$tu $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b-a}')"
  cmp -s "$D/out/model.bin" "$F" || { echo "pull: bytes differ"; exit 1; }
done
echo "cairn pull of ${SIZE_MB} MiB: $(stats "$tc") s (min/median/max; includes sha256 verify + rename)"
echo "curl of the same presigned URL: $(stats "$tu") s"
awk -v a="$(median "$tc")" -v b="$(median "$tu")" 'BEGIN {printf "cairn pull takes %.0f%% of curl'"'"'s time\n", 100*a/b}'
