#!/bin/sh
# pg.sh start DIR [PORT] | stop DIR: a throwaway PostgreSQL 15 cluster for tests, on 127.0.0.1.
# start makes DIR (traversable by the postgres user, which initdb and pg_ctl require), runs
# initdb --no-sync with trust auth, starts the server on PORT (default: a free one) with its
# socket and log inside DIR, and prints the port. stop shuts it down fast and removes DIR.
set -eu
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?usage: pg.sh start DIR [PORT] | stop DIR}
dir=${2:?usage: pg.sh start DIR [PORT] | stop DIR}
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case $cmd in
start)
  port=${3:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
  mkdir -p "$dir"
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_pg "$BIN/initdb" --no-sync -A trust -U postgres -D "$dir/data" >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400 -c shared_buffers=64MB" \
    start >/dev/null 2>&1 || { cat "$dir/server.log" >&2; exit 1; }
  echo "$port"
  ;;
stop)
  [ -d "$dir/data" ] && as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "usage: pg.sh start DIR [PORT] | stop DIR" >&2; exit 2 ;;
esac
