#!/bin/sh
# Usage: sh loadtests/with_api.sh URL COMMAND [ARGUMENT...]   (from the project root)
#
# Runs COMMAND once the blog API answers at URL/health. If nothing answers there, it
# first starts the API with `make serve` in the background (migrate, seed, granian) and
# stops it again when COMMAND ends, Ctrl-C included; the API's output goes to $API_LOG
# (reports/api.log). Exits with COMMAND's status.
set -u
url=$1
shift

answers() {
    .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2)' \
        "$url" 2>/dev/null
}

server=
piddir=
stop_server() {
    [ -n "$server" ] || return 0
    # granian writes its pid file as it starts, and removes it as it exits; until then make
    # is still migrating or seeding, and passes the signal on to that command.
    if [ -s "$piddir/server.pid" ]; then
        kill "$(cat "$piddir/server.pid")" 2>/dev/null
    else
        # make and what it runs: the group setsid made, else make alone.
        kill -- "-$server" 2>/dev/null || kill "$server" 2>/dev/null
    fi
    wait "$server" 2>/dev/null
    rm -rf "$piddir"
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! answers; then
    # The server's output goes to a file: the verdict must be the last thing on the terminal.
    log=${API_LOG:-reports/api.log}
    mkdir -p "$(dirname "$log")"
    echo "Nothing answers at $url: starting the API with make serve (its output: $log)."
    # A new directory, not an empty file: granian refuses to start over a pid file it cannot read.
    piddir=$(mktemp -d)
    # Serve where URL points (http://HOST:PORT), or make would serve on its own defaults
    # while this waits at URL.
    address=${url#*://}
    address=${address%%/*}
    host=${address%:*}
    port=
    [ "$host" = "$address" ] || port=${address##*:}
    # SERVE_ARGS on make's command line: one in the environment would lose to one given
    # to the make that runs this script (`make run SERVE_ARGS=...`).
    # In a session of its own where setsid exists (Linux): a terminal's Ctrl-C then reaches
    # this script and COMMAND only, and stop_server's SIGTERM stops the server. A Ctrl-C
    # delivered to granian's workers themselves left one, every other time, waiting out its
    # 30 s kill timeout.
    detach=
    if command -v setsid >/dev/null 2>&1; then detach=setsid; fi
    $detach ${MAKE:-make} --no-print-directory serve HOST="$host" ${port:+PORT="$port"} \
        SERVE_ARGS="--pid-file $piddir/server.pid ${SERVE_ARGS:-}" >"$log" 2>&1 &
    server=$!
    until answers; do
        if ! kill -0 "$server" 2>/dev/null; then
            tail -n 30 "$log" >&2
            echo "make serve stopped before the API answered at $url; its output above is the end of $log." >&2
            exit 1
        fi
        sleep 1
    done
fi
"$@"
status=$?
exit $status
