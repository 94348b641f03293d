"""Instructions per request of one or more endpoints, counted by valgrind's callgrind.

    DJANGO_SETTINGS_MODULE=benchmarks.settings DATABASE_URL=... \
        python -m benchmarks.instructions "/blog/posts?limit=20" /blog/post/4000 /bench/floor

Each path is requested through the project's WSGI application (as benchmarks.profile does) in two
runs under callgrind, after the same warm-up: one with --low requests, one with --high. The
figure is the difference of their totals over the difference of their requests, so start-up
and warm-up cancel out. An instruction count does not depend on what else the machine is
doing, which makes it the measure for a change too small to show above a shared machine's
noise in req/s; it is not a time (a cache miss costs more than an addition), so confirm a
change that matters with benchmarks.ab. Garbage collections can land in one run and not the
other: run twice, and distrust a figure that moves by more than 1%.

--variant FILE runs a Python file in the child after django.setup(), before the warm-up:
to count what a part costs, monkeypatch it out there and compare with a run without.
--keep DIR keeps the --high run's callgrind output, for `callgrind_annotate --inclusive=yes`.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

WARM_UP = 30


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="paths and query strings to GET, e.g. /blog/posts?limit=20")
    parser.add_argument("--low", type=int, default=100, help="requests in the first run")
    parser.add_argument("--high", type=int, default=300, help="requests in the second run")
    parser.add_argument("--keep", metavar="DIR", help="keep the second run's callgrind.out files here")
    parser.add_argument("--variant", metavar="FILE", help="a Python file run in the child before the requests")
    parser.add_argument("--serve", nargs=2, metavar=("PATH", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.variant)
        return
    if not args.paths:
        parser.error("give at least one path")
    if args.high <= args.low:
        parser.error("--high must be more than --low")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: apt-get install valgrind")
    for path in args.paths:
        low = count(path, args.low, args.variant)
        high = count(path, args.high, args.variant, keep=args.keep)
        print(f"{path}\t{(high - low) / (args.high - args.low):,.0f} instructions a request")


def count(path, requests, variant=None, keep=None):
    """Instructions callgrind counted in a whole run of `requests` GETs of path."""
    with tempfile.TemporaryDirectory() as directory:
        out = os.path.join(directory, "callgrind.out")
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, "-m", "benchmarks.instructions", "--serve", path, str(requests),
             *(["--variant", os.path.abspath(variant)] if variant else [])],
            # The same hash seed in every run: dict and set layouts (and their costs) alike.
            env={**os.environ, "PYTHONHASHSEED": "0"},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        if run.returncode:
            sys.exit(f"{path}: the run under callgrind failed:\n{run.stderr[-3000:]}")
        with open(out) as file:
            totals = re.search(r"^(?:summary|totals): (\d+)", file.read(), re.MULTILINE)
        if keep:
            os.makedirs(keep, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "root"
            shutil.copy(out, os.path.join(keep, f"callgrind.out.{name}"))
    return int(totals.group(1))


def serve(path, requests, variant):
    """The child under valgrind: the variant, the warm-up, then `requests` GETs of path."""
    import django

    django.setup()
    if variant:
        with open(variant) as file:
            exec(compile(file.read(), variant, "exec"), {"__name__": "__variant__"})
    from benchmarks.profile import make_client

    get = make_client(path)
    for _ in range(WARM_UP):
        get()
    for _ in range(requests):
        get()


if __name__ == "__main__":
    main()
