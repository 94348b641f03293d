"""Checkouts of the project served side by side: each path's throughput as a share of its own floor.

    git worktree add /tmp/old <commit>
    python -m benchmarks.ab old=/tmp/old new=. --database postgres://postgres@127.0.0.1:5432/blog_bench5k
    python -m benchmarks.ab two=. four=.,WORKERS=4 --paths "/blog/posts?limit=20" /blog/post/5000
    python -m benchmarks.ab granian=. gunicorn=.,SERVER=gunicorn gthread=.,SERVER=gthread

A variant is NAME=TREE[,VAR=VALUE...]: a project tree served as production serves it
(this tree's blogproject/serve.py: granian, 2 workers, or WORKERS=N; SERVER=gunicorn for
2 sync workers, SERVER=gthread for gthread workers of 4 threads) with DEBUG off and the
environment variables given. Each round loads every variant's floor view, then each path,
with wrk; the figure is the median over the rounds of path/floor, so that the machine's
drift during a run falls on both; then each path's median req/s, which compares servers.
The database must be ready (`python -m benchmarks.data prepare N`). Used to keep or drop
each change to the code before `make bench` measures the result.
"""
import argparse
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path

from benchmarks.run import DATA, Server, django_env, wrk

FLOOR = "/bench/floor"


def variant(text):
    name, _, spec = text.partition("=")
    tree, *settings = spec.split(",")
    if not name or not tree or not all("=" in setting for setting in settings):
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=TREE[,VAR=VALUE...]")
    return name, Path(tree).resolve(), dict(setting.split("=", 1) for setting in settings)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", type=variant, help="NAME=TREE[,VAR=VALUE...]")
    parser.add_argument("--database", default=f"sqlite:///{DATA / 'bench-5000.sqlite3'}",
                        help="DATABASE_URL for every variant unless one sets its own")
    parser.add_argument("--paths", nargs="+", default=["/blog/posts?limit=20"],
                        help="paths to load, each compared with the floor")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every variant and path")
    parser.add_argument("--seconds", type=int, default=4, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    args = parser.parse_args()

    shares = {(name, path): [] for name, _, _ in args.variants for path in args.paths}
    rates = {(name, path): [] for name, _, _ in args.variants for path in [FLOOR, *args.paths]}
    with ExitStack() as stack:
        servers = []
        for name, tree, settings in args.variants:
            env = {**django_env(args.database), **settings}
            workers = int(env.pop("WORKERS", 2))
            server = env.pop("SERVER", "granian")
            servers.append((name, stack.enter_context(Server(env, workers, project=tree, server=server))))
        for round_number in range(1, args.rounds + 1):
            line = []
            for name, server in servers:
                floor = wrk(server.url, "GET", FLOOR, args.seconds, args.connections, "")["rps"]
                rates[(name, FLOOR)].append(floor)
                figures = []
                for path in args.paths:
                    rate = wrk(server.url, "GET", path, args.seconds, args.connections, "")["rps"]
                    rates[(name, path)].append(rate)
                    share = rate / floor
                    shares[(name, path)].append(share)
                    figures.append(f"{share:.0%}")
                line.append(f"{name}: floor {floor:,.0f}/s, " + " ".join(figures))
            print(f"round {round_number}: " + " | ".join(line), flush=True)
    print("median share of the floor:")
    for name, _, _ in args.variants:
        print(f"  {name}: " + ", ".join(
            f"{path} {statistics.median(shares[(name, path)]):.1%}" for path in args.paths))
    print("median req/s:")
    for name, _, _ in args.variants:
        print(f"  {name}: " + ", ".join(
            f"{path} {statistics.median(rates[(name, path)]):,.0f}" for path in [FLOOR, *args.paths]))


if __name__ == "__main__":
    sys.exit(main())
