#!/bin/sh
# deps.sh: installs the Debian packages cairn needs to build and test, if any is missing.
set -e
PKGS="gcc make pkg-config python3 meson ninja-build libmicrohttpd-dev libjansson-dev
libsqlite3-dev libssl-dev libyaml-dev libcmark-dev libcmocka-dev libcurl4-openssl-dev
zlib1g-dev libpq-dev postgresql nodejs"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
# nodejs may come from elsewhere than Debian: a working `node` is enough.
case "$missing" in *nodejs*) command -v node >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ nodejs//');; esac
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then
  echo "deps: run as root (or install:$missing)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
