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
  wait_http "http://127.0.0.1:$2/" || true
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
