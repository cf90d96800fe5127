#!/usr/bin/env bash
# bench/writes.sh: version creation through the HTTP API (POST .../versions, a JSON body
# {"version": ...}, 201 with the version) on PostgreSQL, by one cairnd and then by two cairnd
# on the same database, each loaded by wrk at once (CONNS connections in all, split between
# the instances; every request a new version of one of MODELS seeded models). Prints versions/s
# (min/median/max of RUNS runs of DUR seconds), p50/p99, and two instances vs one.
# Every answer must be 201 (wrk's non-2xx count fails the run); at the end the number of
# versions in the database must equal the seeded ones plus every 201 counted.
# Backend: --db postgres (default here; a throwaway local cluster), --db sqlite (one instance).
# CAIRND=path measures another build of cairnd (say the one before a change) on the same setup.
# CPU_CAP=PCT gives each cairnd its own cgroup capped at PCT% of one core, as instances in
# containers with a CPU limit: on this 2-core machine, where PostgreSQL, wrk and the instances
# share the cores, uncapped instances are bound by the cores themselves, and the cap shows what
# one more instance adds when instances are the limit, not the database.
# On PostgreSQL the run also samples pg_stat_activity every 100 ms and prints how many of the
# samples of cairnd's busy backends (in a transaction or running) waited for a lock.
DB=${DB:-postgres}
source "$(dirname "$0")/lib.sh"
parse_backend_flags "$@"
MODELS=${MODELS:-1000}
CONNS=${CONNS:-32}
THREADS=${THREADS:-4}
CAIRND=${CAIRND:-$ROOT/build/cairnd}
INSTANCES=${INSTANCES:-"1 2"}
[ "$DB" = postgres ] || INSTANCES=1
need wrk wrk
make -C "$ROOT" build >/dev/null
D=$(mktemp -d /tmp/cairn-bench-XXXXXX)
trap 'backend_cleanup; for g in "${CGROUPS[@]}"; do rmdir "$g" 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$D"' EXIT
backend_setup "$D"
"$ROOT/build/cairn-bench-seed" "$DB_URL" "$MODELS" 1 >/dev/null 2>&1
if [ "$DB" = postgres ]; then psql -q "$DB_URL" -c ANALYZE >/dev/null; fi
count_versions() {
  if [ "$DB" = postgres ]; then psql -qAt "$DB_URL" -c "SELECT COUNT(*) FROM versions"
  else sqlite3 "${DB_URL#sqlite://}" "SELECT COUNT(*) FROM versions"; fi
}
BASE_VERSIONS=$(count_versions)
TOK=bench-admin-token
# Each request: a new version "PREFIX.THREAD.N" of a model picked round-robin from a stride.
cat >"$D/create.lua" <<'LUA'
local n, prefix, models, tok = 0, "1", 1000, ""  -- tid: a global set by setup()
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
function init(args)
  prefix, models, tok = args[1], tonumber(args[2]), args[3]
end
function request()
  n = n + 1
  local m = string.format("model-%06d", (n * 7919 + tid * 104729) % models)
  local body = string.format('{"version":"%s.%d.%d"}', prefix, tid, n)
  return wrk.format("POST", "/api/v1/org/bench/models/" .. m .. "/versions",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tok}, body)
end
LUA
CPU_CAP=${CPU_CAP:-}
CGROUPS=()
# cap_cpu PID NAME: the process into a cgroup of its own capped at CPU_CAP% of one core.
cap_cpu() {
  [ -n "$CPU_CAP" ] || return 0
  local quota=$((CPU_CAP * 1000)) g
  if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then # cgroup v1
    g=/sys/fs/cgroup/cpu/cairn-bench-$2
    mkdir -p "$g" && echo 100000 >"$g/cpu.cfs_period_us" && echo "$quota" >"$g/cpu.cfs_quota_us"
  elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then # cgroup v2
    g=/sys/fs/cgroup/cairn-bench-$2
    echo +cpu >/sys/fs/cgroup/cgroup.subtree_control && mkdir -p "$g" && echo "$quota 100000" >"$g/cpu.max"
  else
    echo "bench: CPU_CAP needs a cgroup cpu controller" >&2; exit 1
  fi
  echo "$1" >"$g/cgroup.procs" || { echo "bench: cannot move cairnd into $g" >&2; exit 1; }
  CGROUPS+=("$g")
}
start_cairnd() { # start_cairnd PORT NAME
  env "${BACKEND_ENV[@]}" CAIRN_ADMIN_TOKEN=$TOK "$CAIRND" serve --listen 127.0.0.1:$1 \
    --db "$DB_URL" --blobs "$BLOBS_URL" --threads "$THREADS" >/dev/null 2>>"$D/cairnd.log" & PIDS+=($!)
  cap_cpu "$!" "$2"
  wait_http "http://127.0.0.1:$1/healthz"
}
# Lock waits of cairnd's busy backends, sampled while the load runs (PostgreSQL).
sample_waits() { # sample_waits FILE: until killed
  while :; do
    psql -qtA "$DB_URL" -c "SELECT coalesce(wait_event_type, 'CPU') FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND state IN ('active', 'idle in transaction')" >>"$1" 2>/dev/null
    sleep 0.1
  done
}
P1=$(free_port); P2=$(free_port)
start_cairnd "$P1" 1
# load runs in subshells: the version prefix (unique per wrk process) and the counts of
# answered requests (201s) and of wrk runs live in files.
echo 10 >"$D/prefix"; : >"$D/created"
# load N -> "rps p50_ms p99_ms": N wrk at once (one per instance), CONNS/N connections each.
load() {
  local n=$1 c=$((CONNS / $1)) files=() pids=() i port PREFIX
  for i in $(seq 1 "$n"); do
    port=$P1; [ "$i" = 2 ] && port=$P2
    PREFIX=$(( $(cat "$D/prefix") + 1 )); echo "$PREFIX" >"$D/prefix"
    files+=("$D/wrk.$i")
    wrk -t2 -c"$c" -d"${DUR}"s --latency -s "$D/create.lua" "http://127.0.0.1:$port" \
      -- "$PREFIX" "$MODELS" "$TOK" >"$D/wrk.$i" & pids+=($!)
  done
  wait "${pids[@]}"
  local rps=0 p50=0 p99=0 f reqs
  for f in "${files[@]}"; do
    reqs=$(awk '/requests in/ {print $1}' "$f")
    [ "${reqs:-0}" -gt 0 ] || { echo "bench: wrk completed 0 requests" >&2; cat "$f" >&2; return 1; }
    if grep -q "Non-2xx" "$f"; then echo "bench: non-2xx answers" >&2; cat "$f" >&2; return 1; fi
    echo "$reqs" >>"$D/created"
    rps=$(awk -v a="$rps" -v b="$(awk '/Requests\/sec/ {print $2}' "$f")" 'BEGIN {printf "%.1f", a + b}')
    p50=$(awk -v a="$p50" -v b="$(to_ms "$(awk '$1=="50%" {print $2}' "$f")")" -v n="$n" 'BEGIN {printf "%.2f", a + b / n}')
    p99=$(awk -v a="$p99" -v b="$(to_ms "$(awk '$1=="99%" {print $2}' "$f")")" 'BEGIN {printf "%.2f", (b > a ? b : a)}')
  done
  echo "$rps $p50 $p99"
}
echo "cairnd: $CAIRND"
echo "db=$DB models=$MODELS connections=$CONNS (split across instances) cairnd --threads $THREADS," \
  "$RUNS runs of ${DUR}s, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$CPU_CAP" ] && echo "each cairnd capped at ${CPU_CAP}% of one core (cgroup cpu quota)"
printf '%-12s %-22s %-10s %-10s %-16s %s\n' instances "versions/s min/med/max" "p50 ms" "p99 ms" \
  "lock waits" "vs one instance"
declare -A MED
for n in $INSTANCES; do
  [ "$n" = 2 ] && start_cairnd "$P2" 2
  load "$n" >/dev/null # warm-up: connections, prepared statements
  rs=""; p50s=""; p99s=""
  : >"$D/waits.$n"
  SP=""
  if [ "$DB" = postgres ]; then sample_waits "$D/waits.$n" & SP=$!; fi
  for _ in $(seq 1 "$RUNS"); do
    read -r rps p50 p99 < <(load "$n")
    rs="$rs $rps"; p50s="$p50s $p50"; p99s="$p99s $p99"
  done
  if [ -n "$SP" ]; then kill "$SP"; wait "$SP" 2>/dev/null || true; fi
  waits=$(awk '{ n++ } $1 == "Lock" { l++ } END { if (n) printf "%.1f%% of %d", 100 * l / n, n; else print "-" }' "$D/waits.$n")
  MED[$n]=$(median "$rs")
  vs=""
  [ "$n" = 2 ] && vs=$(awk -v a="${MED[2]}" -v b="${MED[1]}" 'BEGIN {printf "%.0f%%", 100 * a / b}')
  printf '%-12s %-22s %-10s %-10s %-16s %s\n' "$n" "$(stats "$rs")" "$(median "$p50s")" \
    "$(median "$p99s")" "$waits" "$vs"
done
# Every 201 is a version in the database; beyond them at most the requests still in flight
# when each wrk stopped (CONNS per load).
have=$(count_versions)
CREATED=$(awk '{s += $1} END {print s}' "$D/created")
loads=$(wc -l <"$D/created")
new=$((have - BASE_VERSIONS))
if [ "$new" -lt "$CREATED" ] || [ "$new" -gt $((CREATED + CONNS * loads)) ]; then
  echo "bench: $new versions made, but $CREATED answered 201 (+ at most $((CONNS * loads)) in flight)" >&2
  exit 1
fi
echo "check: $CREATED versions answered 201, $new in the database (the rest were in flight at a stop)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
