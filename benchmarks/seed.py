"""Time `manage.py seed_blog` on a fresh database and print rows/s per phase, total, peak RSS, size.

    .venv/bin/python benchmarks/seed.py                          # 1M posts + 1M comments, SQLite
    .venv/bin/python benchmarks/seed.py --runs 3                 # three runs, then the median
    .venv/bin/python benchmarks/seed.py --posts 100000 --comments 100000 --batch-size 5000
    .venv/bin/python benchmarks/seed.py --postgres postgres://postgres@127.0.0.1:5432/blog_seedbench

Each run gets a new database: a SQLite file in a temporary directory (--dir), or, with
--postgres, that database dropped and created again (its name must contain "bench", since
it is destroyed), and dropped at the end. `migrate` is not timed. `seed_blog` runs in a
child process, timed from its start to its exit, so Python and Django start-up count; its
peak RSS comes from wait4(). Rows/s per phase are the command's own progress figures.
Other work on the machine slows every figure: each run prints the load average it began with.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Run as a file (benchmarks/seed.py), this script has only its own folder on the path.
sys.path.insert(0, str(PROJECT_DIR))
from benchmarks.data import is_benchmark_database  # noqa: E402

PHASE_LINE = re.compile(r"^(Posts|Comments): ([\d,]+) rows in ([\d.]+) s \(([\d,]+) rows/s\)")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000, help="posts to seed (default 1,000,000)")
    parser.add_argument("--comments", type=int, default=1_000_000, help="comments to seed (default 1,000,000)")
    parser.add_argument("--users", type=int, default=1000, help="seed users (default 1000)")
    parser.add_argument("--batch-size", type=int, help="seed_blog --batch-size (default: the command's)")
    parser.add_argument("--seed", type=int, default=1, help="seed_blog --seed (default 1)")
    parser.add_argument("--runs", type=int, default=1, help="runs per database (default 1)")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True,
                        help="benchmark SQLite (default yes; --no-sqlite to skip)")
    parser.add_argument("--postgres", metavar="URL", help="also benchmark this PostgreSQL database (dropped!)")
    parser.add_argument("--dir", default=None, help="where the SQLite files go (default: the system temp dir)")
    return parser.parse_args()


def run_django(database_url, *args, echo=False):
    """Run manage.py in a child process; return (wall seconds, peak RSS in bytes, stdout)."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env,
        stdout=subprocess.PIPE, text=True,
    )
    lines = []
    for line in child.stdout:
        lines.append(line)
        if echo:
            print("    " + line, end="", flush=True)
    # wait4, not wait: it gives this child's own resource usage, hence its peak RSS.
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if child.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed with exit code {child.returncode}")
    return seconds, usage.ru_maxrss * 1024, "".join(lines)


def postgres_admin(url):
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not is_benchmark_database("postgresql", name):
        sys.exit(f"Refusing to drop database {name!r}: give --postgres a database name containing 'bench'.")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    return name, psycopg.connect(admin_url, autocommit=True)


def fresh_database(kind, target):
    """Create an empty database; return (its DATABASE_URL, a function giving its size in bytes)."""
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="seed-bench-", dir=target)) / "db.sqlite3"
        size = lambda: sum(p.stat().st_size for p in path.parent.glob("db.sqlite3*"))  # noqa: E731
        return f"sqlite:///{path}", size
    name, admin = postgres_admin(target)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')

    def size():
        with postgres_admin(target)[1] as conn:
            return conn.execute("SELECT pg_database_size(%s)", [name]).fetchone()[0]

    return target, size


def drop_database(kind, target, url):
    if kind == "sqlite":
        shutil.rmtree(Path(url.removeprefix("sqlite:///")).parent)
    else:
        name, admin = postgres_admin(target)
        with admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def one_run(kind, target, args):
    url, size = fresh_database(kind, target)
    try:
        run_django(url, "migrate", "--noinput", "-v0")
        command = [
            "seed_blog", "--noinput", "--users", str(args.users), "--posts", str(args.posts),
            "--comments", str(args.comments), "--seed", str(args.seed),
        ]
        if args.batch_size:
            command += ["--batch-size", str(args.batch_size)]
        print(f"  manage.py {' '.join(command)}", flush=True)
        seconds, peak_rss, output = run_django(url, *command, echo=True)
        rates = {m[1].lower(): int(m[4].replace(",", "")) for m in map(PHASE_LINE.match, output.splitlines()) if m}
        return {"seconds": seconds, "peak_rss": peak_rss, "size": size(), **rates}
    finally:
        drop_database(kind, target, url)


def main():
    args = parse_args()
    databases = [("sqlite", args.dir)] if args.sqlite else []
    if args.postgres:
        databases.append(("postgres", args.postgres))
    print(f"seed_blog: {args.users:,} users, {args.posts:,} posts, {args.comments:,} comments, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    for kind, target in databases:
        results = []
        for run in range(1, args.runs + 1):
            print(f"{kind}, run {run} (load average {os.getloadavg()[0]:.1f}):")
            result = one_run(kind, target, args)
            results.append(result)
            print(f"  {kind}: {result['seconds']:.1f} s end to end, posts {result.get('posts', 0):,} rows/s, "
                  f"comments {result.get('comments', 0):,} rows/s, peak RSS {result['peak_rss'] / 2**20:.0f} MB, "
                  f"database {result['size'] / 2**20:.0f} MB")
        if args.runs > 1:
            median = {key: statistics.median(r.get(key, 0) for r in results)
                      for key in ("seconds", "posts", "comments", "peak_rss", "size")}
            runs = ", ".join(format(r["seconds"], ".1f") for r in results)
            print(f"{kind}, median of {args.runs}: {median['seconds']:.1f} s end to end "
                  f"(runs: {runs}), posts {median['posts']:,.0f} rows/s, "
                  f"comments {median['comments']:,.0f} rows/s, peak RSS {median['peak_rss'] / 2**20:.0f} MB, "
                  f"database {median['size'] / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
