"""Where a request's CPU goes under load: the server's processes, the database's processes, wrk.

    python -m benchmarks.cpu --database postgres://postgres@127.0.0.1:5432/blog_bench5k \
        --paths /bench/floor "/blog/posts?limit=20" /blog/post/5000

Serves this tree as production does (granian, 2 workers, DEBUG off) and loads each path
with wrk as benchmarks/run.py does; over the middle of each run it reads the CPU time
(user + system, from /proc) of granian's main process and its workers, of every PostgreSQL
server process on the machine, of wrk, and of the machine as a whole, and divides each by
the requests served.
Linux only. The database must be ready (`python -m benchmarks.data prepare N`).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.run import DATA, LUA, Server, django_env, wrk

TICKS = os.sysconf("SC_CLK_TCK")


def process_seconds(pid):
    """CPU seconds a process has used, 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid):
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def postgres_pids():
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"postgres"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def machine_seconds():
    """CPU seconds the whole machine has spent busy (not idle or waiting for I/O)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICKS


def measure(server, path, seconds, connections):
    load = subprocess.Popen(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(LUA), server.url + path],
        stdout=subprocess.PIPE, text=True,
    )
    # Leave out the first and last second: connections opening, wrk starting and stopping.
    time.sleep(1)
    groups = {
        # granian's main process and its workers, which its main thread forks: where children() looks.
        "server": lambda: [server.process.pid, *children(server.process.pid)],
        "postgres": postgres_pids,
        "wrk": lambda: [load.pid],
    }

    def sample():
        return {name: sum(process_seconds(pid) for pid in pids()) for name, pids in groups.items()} | {
            "machine": machine_seconds(), "clock": time.monotonic()}

    before = sample()
    time.sleep(seconds - 2)
    after = sample()
    figures = json.loads(load.communicate()[0].strip().splitlines()[-1])
    rps = figures["requests"] / (figures["duration_us"] / 1e6)
    served = rps * (after["clock"] - before["clock"])
    return rps, {name: (after[name] - before[name]) / served * 1e6 for name in [*groups, "machine"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=f"sqlite:///{DATA / 'bench-5000.sqlite3'}", help="DATABASE_URL")
    parser.add_argument("--paths", nargs="+", default=["/bench/floor", "/blog/posts?limit=20"],
                        help="paths to load, one after the other")
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk run (at least 4)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="granian workers (one Django thread each)")
    args = parser.parse_args()
    if args.seconds < 4:
        parser.error("--seconds must be at least 4: the first and last second are left out")

    print("CPU µs per request: the server (granian's main process and workers), PostgreSQL "
          "(all its processes), wrk, and the machine as a whole")
    with Server(django_env(args.database), args.workers) as server:
        for path in args.paths:  # warm up every worker on every path
            wrk(server.url, "GET", path, 1, args.connections, "")
        for path in args.paths:
            rps, cpu = measure(server, path, args.seconds, args.connections)
            print(f"{path}: {rps:,.0f} req/s; server {cpu['server']:.0f}, PostgreSQL "
                  f"{cpu['postgres']:.0f}, wrk {cpu['wrk']:.0f}, machine {cpu['machine']:.0f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
