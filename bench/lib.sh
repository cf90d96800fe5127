# lib.sh: shared helpers of the benchmarks (sourced). Loopback only; everything stops by PID.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-3}
DUR=${DUR:-5}

need() { # need CMD PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "bench: installing $2" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

wait_http() { # wait_http URL
  for _ in $(seq 1 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench: $1 did not come up" >&2; return 1
}

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

start_nginx() { # start_nginx DIR PORT STATIC_ROOT
  need nginx nginx
  cat >"$1/nginx.conf" <<NG
user root; daemon off; worker_processes 1; pid $1/nginx.pid; error_log $1/nginx.err;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  server { listen 127.0.0.1:$2; root $3; location / { default_type application/json; } } }
NG
  nginx -c "$1/nginx.conf" & PIDS+=($!)
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$2/" && return 0; sleep 0.1; done
}

# wrk_run URL [HEADER] -> prints "rps p50_ms p99_ms"; fails a run that completed 0 requests.
wrk_run() {
  local url=$1 hdr=${2:-}
  local out
  if [ -n "$hdr" ]; then out=$(wrk -t1 -c32 -d"${DUR}"s --latency -H "$hdr" "$url");
  else out=$(wrk -t1 -c32 -d"${DUR}"s --latency "$url"); fi
  local rps p50 p99 n
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  [ "${n:-0}" -gt 0 ] || { echo "bench: wrk completed 0 requests on $url" >&2; return 1; }
  if echo "$out" | grep -q "Non-2xx"; then echo "bench: non-2xx answers from $url" >&2; return 1; fi
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}

to_ms() { # 1.23ms | 456.00us | 1.2s -> ms
  case "$1" in
    *us) echo "$1" | sed 's/us//' | awk '{printf "%.3f", $1/1000}';;
    *ms) echo "$1" | sed 's/ms//' | awk '{printf "%.3f", $1}';;
    *s) echo "$1" | sed 's/s//' | awk '{printf "%.3f", $1*1000}';;
    *) echo "$1";;
  esac
}

# stats "v1 v2 v3" -> "min/median/max"
stats() { echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {printf "%s/%s/%s", a[1], a[int((NR+1)/2)], a[NR]}'; }
median() { echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ---- backends: DB=sqlite|postgres, BLOBS=file|s3 (or the flags --db postgres, --blobs s3) ----
# backend_setup DIR: sets DB_URL, BLOBS_URL and BACKEND_ENV (env assignments for cairnd) and
# starts what the choice needs, stopped at exit: a throwaway PostgreSQL cluster
# (tests/support/pg.sh) and s3rver (tests/support/s3rver.mjs, npm ci --prefix tests).
DB=${DB:-sqlite}
BLOBS=${BLOBS:-file}
parse_backend_flags() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --db) DB=$2; shift 2;; --db=*) DB=${1#--db=}; shift;;
      --blobs) BLOBS=$2; shift 2;; --blobs=*) BLOBS=${1#--blobs=}; shift;;
      *) echo "bench: unknown flag $1 (use --db sqlite|postgres, --blobs file|s3)" >&2; exit 2;;
    esac
  done
  case "$DB" in postgres*) DB=postgres;; sqlite*) DB=sqlite;; *) echo "bench: --db sqlite|postgres" >&2; exit 2;; esac
  case "$BLOBS" in s3*) BLOBS=s3;; file*) BLOBS=file;; *) echo "bench: --blobs file|s3" >&2; exit 2;; esac
}
PG_DIR=""
backend_cleanup() {
  cleanup
  [ -n "$PG_DIR" ] && sh "$ROOT/tests/support/pg.sh" stop "$PG_DIR" >/dev/null 2>&1 || true
}
backend_setup() {
  local dir=$1
  BACKEND_ENV=()
  if [ "$DB" = postgres ]; then
    PG_DIR="/tmp/cairn-bench-pg-$$"
    local port
    port=$(sh "$ROOT/tests/support/pg.sh" start "$PG_DIR")
    psql -qh 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE bench" >/dev/null
    DB_URL="postgres://postgres@127.0.0.1:$port/bench"
  else
    DB_URL="sqlite://$dir/cairn.db"
  fi
  if [ "$BLOBS" = s3 ]; then
    [ -d "$ROOT/tests/node_modules/@20minutes/s3rver" ] || npm ci --prefix "$ROOT/tests" --silent >/dev/null
    node "$ROOT/tests/support/s3rver.mjs" "$dir/s3" >"$dir/s3.port" 2>"$dir/s3.log" & PIDS+=($!)
    for _ in $(seq 1 100); do [ -s "$dir/s3.port" ] && break; sleep 0.1; done
    BLOBS_URL="s3://cairn-test/bench?endpoint=http://127.0.0.1:$(cat "$dir/s3.port")&region=us-east-1&cache=$dir/s3cache"
    BACKEND_ENV=(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER)
  else
    BLOBS_URL="file://$dir/blobs"
  fi
  echo "backend: db=$DB blobs=$BLOBS"
}

# wrk_pair URL1 URL2 [HEADER] -> "rps p50_ms p99_ms" of two wrk clients (16 connections each)
# running at once, one per instance: the load balancer's round-robin, without a proxy's cost.
# rps is the sum; p50 the mean of the two; p99 the larger.
wrk_pair() {
  local u1=$1 u2=$2 hdr=${3:-} f1 f2
  f1=$(mktemp); f2=$(mktemp)
  local h=(); [ -n "$hdr" ] && h=(-H "$hdr")
  wrk -t1 -c16 -d"${DUR}"s --latency "${h[@]}" "$u1" >"$f1" & local w1=$!
  wrk -t1 -c16 -d"${DUR}"s --latency "${h[@]}" "$u2" >"$f2" & local w2=$!
  wait "$w1" "$w2"
  local out=""
  for f in "$f1" "$f2"; do
    local n; n=$(awk '/requests in/ {print $1}' "$f")
    [ "${n:-0}" -gt 0 ] || { echo "bench: wrk completed 0 requests" >&2; rm -f "$f1" "$f2"; return 1; }
    if grep -q "Non-2xx" "$f"; then echo "bench: non-2xx answers" >&2; rm -f "$f1" "$f2"; return 1; fi
    out="$out $(awk '/Requests\/sec/ {print $2}' "$f") $(to_ms "$(awk '$1=="50%" {print $2}' "$f")") $(to_ms "$(awk '$1=="99%" {print $2}' "$f")")"
  done
  rm -f "$f1" "$f2"
  echo "$out" | awk '{printf "%.2f %.3f %.3f\n", $1+$4, ($2+$5)/2, ($3>$6?$3:$6)}'
}
