#!/usr/bin/env bash
# bench/transfer.sh: one SIZE_MB file (default 2048), in one run, side by side:
#   upload:   cairnd PUT (hash + fsync before 201) vs `openssl dgst -sha256` and `sha256sum`
#             of the same file (the hashing floor) vs the disk floor (the same bytes written
#             with O_DIRECT and fsynced, and read back with O_DIRECT, i.e. cold, by dd) vs a
#             monolithic blob upload to Debian's docker-registry (the peer; it does not fsync).
#             The upload's ratio is taken to the lower of the hashing and disk-write floors.
#   download: cairnd presigned URL vs nginx sendfile of the same file (the ceiling) vs
#             docker-registry, all read by the same client (1 MiB recv), with server %CPU.
#   OCI:      the same file as an OCI blob through cairn's /v2/ (docs/oci.md): a monolithic
#             POST ?digest= (what docker-registry is timed with) and c/image's way (POST, one
#             streamed PATCH without Content-Range, PUT ?digest=), and GET /v2/.../blobs/,
#             side by side with docker-registry and with cairn's own /api/v1 figures.
# Backends: --db sqlite|postgres, --blobs file|s3 (s3rver on loopback: uploads stream into a
# multipart upload and are copied to the content key; the presigned URL then points at the
# store itself, so the download figure is s3rver's, with cairn's CPU beside it).
# INSTANCES=2 adds two rows: two uploads at once (one per instance, same database and store,
# as a round-robin load balancer would spread them) and two downloads at once; MB/s is the sum.
source "$(dirname "$0")/lib.sh"
parse_backend_flags "$@"
SIZE_MB=${SIZE_MB:-2048}
INSTANCES=${INSTANCES:-1}
need docker-registry docker-registry
make -C "$ROOT" build >/dev/null
D=$(mktemp -d /tmp/cairn-transfer-XXXXXX)
trap 'backend_cleanup; rm -rf "$D"' EXIT
backend_setup "$D"
F="$D/file.bin"
echo "making a ${SIZE_MB} MiB file..."
(set +o pipefail; openssl enc -aes-128-ctr -pass pass:cairn -nosalt -in /dev/zero 2>/dev/null |
  head -c "$((SIZE_MB << 20))" >"$F")
SUM=$(openssl dgst -sha256 -r "$F" | cut -d' ' -f1)
BYTES=$(stat -c %s "$F")
mbps() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.0f", b/s/1e6}'; }
now() { date +%s.%N; }
el() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b-a}'; }

P=$(free_port); TOK=bench
env "${BACKEND_ENV[@]}" CAIRN_ADMIN_TOKEN=$TOK "$ROOT/build/cairnd" serve --listen 127.0.0.1:$P \
  --db "$DB_URL" --blobs "$BLOBS_URL" --secret bench-secret 2>"$D/cairnd.log" >/dev/null & PIDS+=($!)
CPID=$!
wait_http "http://127.0.0.1:$P/healthz"
A="Authorization: Bearer $TOK"
curl -fs -XPOST -H "$A" -H 'Content-Type: application/json' -d '{"version":"1.0.0"}' \
  "http://127.0.0.1:$P/api/v1/org/default/models/bench/versions" >/dev/null
if [ "$INSTANCES" = 2 ]; then
  P2=$(free_port)
  env "${BACKEND_ENV[@]}" CAIRN_ADMIN_TOKEN=$TOK "$ROOT/build/cairnd" serve --listen 127.0.0.1:$P2 \
    --db "$DB_URL" --blobs "$BLOBS_URL" --secret bench-secret 2>"$D/cairnd2.log" >/dev/null & PIDS+=($!)
  wait_http "http://127.0.0.1:$P2/healthz"
fi
up2=""; dn2=""

RP=$(free_port)
cat >"$D/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $D/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$RP}
YML
docker-registry serve "$D/registry.yml" >"$D/registry.log" 2>&1 & PIDS+=($!)
RPID=$!
wait_http "http://127.0.0.1:$RP/v2/"

NP=$(free_port); mkdir -p "$D/static"; ln "$F" "$D/static/file.bin"
start_nginx "$D" "$NP" "$D/static"
sleep 0.3; NPID=$(pgrep -P "$(cat "$D/nginx.pid")" | head -1)

up_oci=""; up_ocp=""; dn_oci=""; cpu_oci=""
up_c=""; up_o=""; up_s=""; up_r=""; dw=""; dr=""; dn_c=""; dn_n=""; dn_r=""; cpu_c=""; cpu_n=""; cpu_r=""
for i in $(seq "$RUNS"); do
  t0=$(now); openssl dgst -sha256 "$F" >/dev/null; up_o="$up_o $(mbps "$BYTES" "$(el "$t0" "$(now)")")"
  t0=$(now); sha256sum "$F" >/dev/null; up_s="$up_s $(mbps "$BYTES" "$(el "$t0" "$(now)")")"
  # The disk floor, on the file system the blobs live on: direct + fsynced write, cold read.
  t0=$(now); dd if="$F" of="$D/disk-floor.bin" bs=4M oflag=direct conv=fsync status=none
  dw="$dw $(mbps "$BYTES" "$(el "$t0" "$(now)")")"
  t0=$(now); dd if="$D/disk-floor.bin" of=/dev/null bs=4M iflag=direct status=none
  dr="$dr $(mbps "$BYTES" "$(el "$t0" "$(now)")")"; rm -f "$D/disk-floor.bin"
  t0=$(now)
  code=$(curl -s -o "$D/up.json" -w '%{http_code}' -T "$F" -H "$A" -H "X-Checksum-Sha256: $SUM" \
    "http://127.0.0.1:$P/api/v1/org/default/models/bench/versions/1.0.0/files/run-$i.bin")
  t1=$(now); [ "$code" = 201 ] || { echo "cairnd upload: $code $(cat "$D/up.json")"; exit 1; }
  up_c="$up_c $(mbps "$BYTES" "$(el "$t0" "$t1")")"
  loc=$(curl -s -D - -o /dev/null -XPOST "http://127.0.0.1:$RP/v2/bench$i/blobs/uploads/" | awk -F': ' 'tolower($1)=="location" {print $2}' | tr -d '\r')
  case "$loc" in http*) ;; *) loc="http://127.0.0.1:$RP$loc";; esac
  sep='?'; case "$loc" in *\?*) sep='&';; esac
  t0=$(now)
  code=$(curl -s -o /dev/null -w '%{http_code}' -T "$F" -H 'Content-Type: application/octet-stream' "$loc${sep}digest=sha256:$SUM")
  t1=$(now); [ "$code" = 201 ] || { echo "registry upload: $code"; exit 1; }
  up_r="$up_r $(mbps "$BYTES" "$(el "$t0" "$t1")")"
  # OCI through cairn: monolithic, then POST + streamed PATCH + PUT (as skopeo sends it).
  B="Authorization: Basic $(printf 'bench:%s' "$TOK" | base64 -w0)"
  t0=$(now)
  # (--request-target: given a URL ending in /, curl -T would append the file's name)
  code=$(curl -s -o "$D/oci.json" -w '%{http_code}' -XPOST -T "$F" -H "$B" -H 'Content-Type: application/octet-stream' \
    --request-target "/v2/default/bench-oci/blobs/uploads/?digest=sha256:$SUM" "http://127.0.0.1:$P/")
  t1=$(now); [ "$code" = 201 ] || { echo "cairnd OCI upload: $code $(cat "$D/oci.json")"; exit 1; }
  up_oci="$up_oci $(mbps "$BYTES" "$(el "$t0" "$t1")")"
  t0=$(now)
  loc=$(curl -s -D - -o /dev/null -XPOST -H "$B" "http://127.0.0.1:$P/v2/default/bench-oci/blobs/uploads/" | awk -F': ' 'tolower($1)=="location" {print $2}' | tr -d '\r')
  loc2=$(curl -s -D - -o /dev/null -XPATCH -T "$F" -H "$B" -H 'Content-Type: application/octet-stream' \
    "http://127.0.0.1:$P$loc" | awk -F': ' 'tolower($1)=="location" {print $2}' | tr -d '\r')
  code=$(curl -s -o "$D/oci.json" -w '%{http_code}' -XPUT -H "$B" "http://127.0.0.1:$P$loc2?digest=sha256:$SUM")
  t1=$(now); [ "$code" = 201 ] || { echo "cairnd OCI chunked upload: $code $(cat "$D/oci.json")"; exit 1; }
  up_ocp="$up_ocp $(mbps "$BYTES" "$(el "$t0" "$t1")")"
  if [ "$INSTANCES" = 2 ]; then # one upload per instance, at once; same bytes, other paths
    t0=$(now); cps=()
    for port in "$P" "$P2"; do
      curl -s -o "$D/up2-$port.json" -w '%{http_code}' -T "$F" -H "$A" -H "X-Checksum-Sha256: $SUM" \
        "http://127.0.0.1:$port/api/v1/org/default/models/bench/versions/1.0.0/files/pair-$i-$port.bin" >"$D/up2-$port.code" &
      cps+=($!)
    done
    wait "${cps[@]}"
    t1=$(now)
    for port in "$P" "$P2"; do [ "$(cat "$D/up2-$port.code")" = 201 ] || { echo "pair upload: $(cat "$D/up2-$port.json")"; exit 1; }; done
    up2="$up2 $(mbps "$((BYTES * 2))" "$(el "$t0" "$t1")")"
  fi
done
URL=$(curl -fs -H "$A" "http://127.0.0.1:$P/api/v1/org/default/models/bench/versions/1.0.0/download-urls" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["resources"][0]["url"])')
for i in $(seq "$RUNS"); do
  read -r _ _ m c < <(python3 "$ROOT/bench/getter.py" "$URL" "$CPID"); dn_c="$dn_c $m"; cpu_c="$cpu_c $c"
  read -r _ _ m c < <(python3 "$ROOT/bench/getter.py" "http://127.0.0.1:$NP/file.bin" "$NPID"); dn_n="$dn_n $m"; cpu_n="$cpu_n $c"
  read -r _ _ m c < <(python3 "$ROOT/bench/getter.py" "http://127.0.0.1:$RP/v2/bench1/blobs/sha256:$SUM" "$RPID"); dn_r="$dn_r $m"; cpu_r="$cpu_r $c"
  read -r _ _ m c < <(python3 "$ROOT/bench/getter.py" "http://bench:$TOK@127.0.0.1:$P/v2/default/bench-oci/blobs/sha256:$SUM" "$CPID"); dn_oci="$dn_oci $m"; cpu_oci="$cpu_oci $c"
  if [ "$INSTANCES" = 2 ]; then # the same presigned URL through each instance, at once
    U2=$URL; case "$URL" in "http://127.0.0.1:$P/"*) U2="http://127.0.0.1:$P2/${URL#http://127.0.0.1:$P/}";; esac
    t0=$(now)
    python3 "$ROOT/bench/getter.py" "$URL" >/dev/null & g1=$!
    python3 "$ROOT/bench/getter.py" "$U2" >/dev/null & g2=$!
    wait "$g1" "$g2"
    dn2="$dn2 $(mbps "$((BYTES * 2))" "$(el "$t0" "$(now)")")"
  fi
done
RSS=$(awk '/VmHWM/ {print $2}' /proc/$CPID/status)
pct() { awk -v x="$(median "$1")" -v y="$(median "$2")" 'BEGIN {printf "%.0f%%", 100*x/y}'; }
echo
echo "file: $SIZE_MB MiB, $RUNS runs, MB/s min/median/max; db=$DB blobs=$BLOBS"
printf '%-44s %-18s %s\n' figure "MB/s" "vs"
UPLABEL="upload cairnd (hash + fsync before 201)"
[ "$BLOBS" = s3 ] && UPLABEL="upload cairnd (hash, multipart + copy to s3rver)"
# The floor is the lower of hashing and the disk's direct, fsynced write (medians).
if [ "$(median "$dw")" -lt "$(median "$up_o")" ]; then floor="$dw"; fname="disk write"; else floor="$up_o"; fname="openssl"; fi
printf '%-44s %-18s %s\n' "$UPLABEL" "$(stats "$up_c")" "$(pct "$up_c" "$floor") of the floor ($fname), $(pct "$up_c" "$up_o") of openssl, $(pct "$up_c" "$dw") of disk write, $(pct "$up_c" "$up_r") of docker-registry"
printf '%-44s %-18s %s\n' "hash floor: openssl dgst -sha256" "$(stats "$up_o")" ""
printf '%-44s %-18s %s\n' "hash floor: sha256sum" "$(stats "$up_s")" ""
printf '%-44s %-18s %s\n' "disk floor: O_DIRECT write + fsync (dd)" "$(stats "$dw")" ""
printf '%-44s %-18s %s\n' "disk floor: O_DIRECT read, cold (dd)" "$(stats "$dr")" ""
printf '%-44s %-18s %s\n' "upload docker-registry (monolithic, no fsync)" "$(stats "$up_r")" ""
DNLABEL="download cairnd presigned"
[ "$BLOBS" = s3 ] && DNLABEL="download presigned S3 URL (from s3rver)"
printf '%-44s %-18s %s\n' "$DNLABEL (server %CPU $(median "$cpu_c"))" "$(stats "$dn_c")" "$(pct "$dn_c" "$dn_n") of nginx, $(pct "$dn_c" "$dn_r") of docker-registry"
printf '%-44s %-18s %s\n' "download nginx sendfile (server %CPU $(median "$cpu_n"))" "$(stats "$dn_n")" ""
printf '%-44s %-18s %s\n' "download docker-registry (server %CPU $(median "$cpu_r"))" "$(stats "$dn_r")" ""
printf '%-44s %-18s %s\n' "OCI upload cairnd /v2/ (monolithic POST)" "$(stats "$up_oci")" "$(pct "$up_oci" "$up_r") of docker-registry, $(pct "$up_oci" "$up_c") of cairnd /api/v1"
printf '%-44s %-18s %s\n' "OCI upload cairnd /v2/ (POST+PATCH+PUT)" "$(stats "$up_ocp")" "$(pct "$up_ocp" "$up_r") of docker-registry, $(pct "$up_ocp" "$up_c") of cairnd /api/v1"
printf '%-44s %-18s %s\n' "OCI download cairnd /v2/ (server %CPU $(median "$cpu_oci"))" "$(stats "$dn_oci")" "$(pct "$dn_oci" "$dn_r") of docker-registry, $(pct "$dn_oci" "$dn_c") of cairnd /api/v1"
if [ "$INSTANCES" = 2 ]; then
  printf '%-44s %-18s %s\n' "2 instances: 2 uploads at once (sum)" "$(stats "$up2")" "$(pct "$up2" "$up_c") of one upload to one instance"
  printf '%-44s %-18s %s\n' "2 instances: 2 downloads at once (sum)" "$(stats "$dn2")" "$(pct "$dn2" "$dn_c") of one download from one instance"
fi
echo "cairnd peak RSS during the run: $((RSS / 1024)) MiB (goal < 64 MiB)"
