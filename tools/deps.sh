#!/bin/sh
# deps.sh [test]: installs the Debian packages cairn needs to build and test, if any is
# missing; with `test`, also the test-only npm packages (tests/package-lock.json).
# (postgresql and the sqlite3 shell are for the tests and benchmarks: they read the databases.)
set -e
PKGS="gcc make pkg-config python3 meson ninja-build libmicrohttpd-dev libjansson-dev
libsqlite3-dev libssl-dev libyaml-dev libcmark-dev libcmocka-dev libcurl4-openssl-dev
zlib1g-dev libpq-dev postgresql sqlite3 nodejs libroaring-dev"
# Test-only: the browser the UI tests drive (tests/ui/, through playwright-core), the real OCI
# client and the reference registry of tests/api/oci.test.mjs.
[ "${1:-}" = test ] && PKGS="$PKGS chromium skopeo docker-registry"
# clang with libFuzzer and the sanitizer runtimes builds the fuzz harnesses of `make test`.
[ "${1:-}" = test ] && PKGS="$PKGS clang libclang-rt-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
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
# The test-only npm packages, pinned by tests/package-lock.json: the S3-compatible server and
# the Hugging Face clients (tests/api/hf.test.mjs) and playwright-core (tests/ui/, driving
# Debian's chromium) and uplot (tests/ui/modules.test.mjs checks web/vendor/uplot/ is its copy).
# npm ci runs when any one is missing;
# --ignore-scripts: no install step may download binaries (onnxruntime-node's would; loading
# configs and tokenizers does not need it).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = test ]; then
  for pkg in @20minutes/s3rver @huggingface/hub @huggingface/transformers playwright-core uplot; do
    if [ ! -f "$ROOT/tests/node_modules/$pkg/package.json" ]; then
      echo "deps: npm ci --prefix tests ($pkg is missing)" >&2
      npm ci --prefix "$ROOT/tests" --ignore-scripts --no-audit --no-fund --silent >/dev/null
      break
    fi
  done
fi
