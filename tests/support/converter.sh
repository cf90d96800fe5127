#!/bin/sh
# The tests' external converter: converter.sh MODE IN OUT [ARG...]
#   ok     writes "converted:" + the input + every extra argument in [brackets] + $HOME
#   fail   writes two lines to stderr and exits 3
#   sleep  sleeps ARG seconds (default 30), then copies the input
#   big    writes 5 MB (more than a test's output cap)
mode=$1; in=$2; out=$3; shift 3
case "$mode" in
ok)
    {
        printf 'converted:'
        cat "$in"
        printf '|args:'
        for a in "$@"; do printf '[%s]' "$a"; done
        printf '|home:%s|pwd:%s' "$HOME" "$(pwd)"
    } >"$out"
    echo "converter: done" >&2
    ;;
fail)
    echo "converter: loading the graph" >&2
    echo "fatal: unsupported operator Foo" >&2
    exit 3
    ;;
sleep)
    sleep "${1:-30}"
    cp "$in" "$out"
    ;;
big)
    head -c 5000000 /dev/zero >"$out"
    ;;
esac
