#!/bin/sh
# Usage: sh loadtests/with_api.sh URL COMMAND [ARGUMENT...]   (from the project root)
#
# Runs COMMAND once the blog API answers at URL/health. If nothing answers there, it
# first starts the API with `make serve` in the background (migrate, seed, gunicorn) and
# stops it again when COMMAND ends, Ctrl-C included. Exits with COMMAND's status.
set -u
url=$1
shift

answers() {
    .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2)' \
        "$url" 2>/dev/null
}

server=
pidfile=
stop_server() {
    [ -n "$server" ] || return 0
    # gunicorn writes its pid once it runs; until then make is still migrating or seeding.
    if [ -s "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null; else kill "$server" 2>/dev/null; fi
    wait "$server" 2>/dev/null
    rm -f "$pidfile"
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! answers; then
    echo "Nothing answers at $url: starting the API with make serve."
    pidfile=$(mktemp)
    # Serve where URL points (http://HOST:PORT), or make would serve on its own defaults
    # while this waits at URL.
    address=${url#*://}
    address=${address%%/*}
    host=${address%:*}
    port=
    [ "$host" = "$address" ] || port=${address##*:}
    GUNICORN_CMD_ARGS="--pid $pidfile ${GUNICORN_CMD_ARGS:-}" \
        ${MAKE:-make} --no-print-directory serve HOST="$host" ${port:+PORT="$port"} &
    server=$!
    until answers; do
        if ! kill -0 "$server" 2>/dev/null; then
            echo "make serve stopped before the API answered at $url; see its output above." >&2
            exit 1
        fi
        sleep 1
    done
fi
"$@"
status=$?
exit $status
