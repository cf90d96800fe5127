#!/bin/sh
# deps.sh [test]: installs the Debian packages cairn needs to build and test, if any is
# missing; with `test`, also the test-only npm packages (tests/package-lock.json).
set -e
PKGS="gcc make pkg-config python3 meson ninja-build libmicrohttpd-dev libjansson-dev
libsqlite3-dev libssl-dev libyaml-dev libcmark-dev libcmocka-dev libcurl4-openssl-dev
zlib1g-dev libpq-dev postgresql nodejs libroaring-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
# clang with libFuzzer and the sanitizer runtimes builds the fuzz harnesses of `make test`.
[ "${1:-}" = test ] && PKGS="$PKGS clang libclang-rt-dev"
# nodejs may come from elsewhere than Debian: a working `node` is enough.
case "$missing" in *nodejs*) command -v node >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ nodejs//');; esac
# npm installs the test-only S3 server (tests/package.json); Debian's npm if there is none.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then
  echo "deps: run as root (or install:$missing)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
fi
# The S3-compatible server of the tests, pinned by tests/package-lock.json.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = test ] && [ ! -f "$ROOT/tests/node_modules/@20minutes/s3rver/package.json" ]; then
  echo "deps: npm ci --prefix tests (s3rver for the S3 tests)" >&2
  npm ci --prefix "$ROOT/tests" --no-audit --no-fund --silent >/dev/null
fi
