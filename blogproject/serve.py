"""How production serves this project: granian's WSGI server, one Django thread per worker process.

    python -m blogproject.serve [--host H] [--port P] [--workers N] [granian option...]

The one place that knows the server's command line: `make serve`, the tests' server and
the benchmarks all take it from `command()`. Run as above, it replaces itself with granian
(exec), so the process id is granian's main process and SIGTERM goes straight to it:
granian then stops accepting, lets each worker finish what it has in hand (up to
--workers-kill-timeout) and exits. Stop it that way: a SIGKILL to the main process leaves
its workers serving, and Ctrl-C at a terminal (SIGINT to every process) now and then
leaves one worker to be killed when the timeout runs out.

Why granian: its HTTP layer (Rust) reads each request's headers before a worker sees it,
so a client that trickles its headers costs a buffer, not a worker; and it serves this API
faster than gunicorn's sync workers on the same machine. The body is not read ahead: Django
reads it as it arrives, so a client that stalls mid-body holds its worker's one thread (no
timeout ends that but the client's or, on SIGTERM, --workers-kill-timeout). Facing the
internet, put a proxy that buffers request bodies (nginx does by default) in front.

The options, and why:
  --interface wsgi            Django's WSGI application, blogproject.wsgi:application.
  --workers N                 processes; N from --workers, else WEB_CONCURRENCY, else 2.
  --blocking-threads 1        each worker runs Django in one thread, as a gunicorn sync
                              worker does: one database connection per process, and SQLite
                              writes serialised within each. (granian's default for WSGI is
                              hundreds of threads per worker.)
  --respawn-failed-workers    a worker that dies is replaced; without it granian stops
                              altogether when any worker exits.
  --workers-kill-timeout 30   on SIGTERM, workers get 30 s to finish their requests
                              before they are killed (gunicorn's graceful timeout); without
                              it one stalled client keeps granian from ever exiting.
  --no-ws                     WSGI has no websockets (else granian logs that it ignores them).
  --backlog 4096              connections each worker may hold open, most of them idle
  --backpressure 4096         between a client's requests (keep-alive). granian's defaults
                              (a backlog of 1024, and backlog/workers each) capped it at
                              1,024 in all: at 1,275 Locust users `make capacity` saw the
                              p99 go to 9.2 s while the p95 was 22 ms and the CPUs had
                              room; with these, 855 req/s and p99 52 ms (docs/loadtesting.md,
                              capacity). The kernel caps the backlog at net.core.somaxconn.
Further arguments go to granian after these, so they may override them, e.g.
--pid-file PATH, --access-log, --workers-kill-timeout 60 (`granian --help` lists all).

Every granian option can also be set by its GRANIAN_* environment variable (named in
`granian --help`), e.g. GRANIAN_LOG_ACCESS_ENABLED=1 for an access log or
GRANIAN_LOG_LEVEL=warning; an option on the command line, such as those above, wins
over its variable.

To serve with gunicorn instead (it stays installed):
    gunicorn blogproject.wsgi --workers N --bind HOST:PORT
Each sync worker reads one connection at a time, headers and body, so a few slow clients
hold them all: gunicorn's deployment docs say to keep a proxy that buffers slow clients
(nginx) in front of sync workers, or they are easily denied service.
"""
import argparse
import os
import sys

TARGET = "blogproject.wsgi:application"


def command(host, port, workers, *extra):
    """The argv that serves this project on host:port with `workers` processes; `extra` goes to granian last."""
    return [
        sys.executable, "-m", "granian", "--interface", "wsgi",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--blocking-threads", "1",
        "--respawn-failed-workers",
        "--workers-kill-timeout", "30",
        "--no-ws",
        "--backlog", "4096",
        "--backpressure", "4096",
        *extra,
        TARGET,
    ]


def main():
    parser = argparse.ArgumentParser(
        prog="python -m blogproject.serve", description=__doc__.splitlines()[0], allow_abbrev=False,
        epilog="Any other argument is passed on to granian (granian --help).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY") or 2),
                        help="worker processes (default: WEB_CONCURRENCY, else 2)")
    args, extra = parser.parse_known_args()
    argv = command(args.host, args.port, args.workers, *extra)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
