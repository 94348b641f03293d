"""The benchmark: the tutorial's three stages, then every endpoint under granian against Django's floor.

    python -m benchmarks.run --scales 5000 1000000 --databases sqlite postgres

For each database and scale: seed (or reuse) a database of exactly that many posts,
measure in-process (the stages; the first and a deep page), then serve it as production
does (blogproject/serve.py: granian, 2 workers, DEBUG off) and load every read endpoint and
create-post with wrk, each run right after a run of a constant-JSON Django view on the same
server: each endpoint's throughput is reported as a ratio to that floor, measured side by
side. Writes reports/bench.md, reports/bench.json and PNG charts, and prints the tables.
"""
import argparse
import json
import os
import platform
import secrets
import signal
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from blogproject import serve

PROJECT = Path(__file__).resolve().parent.parent
DATA = PROJECT / "benchmarks" / ".data"
LUA = PROJECT / "benchmarks" / "wrk_report.lua"

TARGETS = {
    "floor": ("GET", "/bench/floor"),
    "post list": ("GET", "/blog/posts?limit=20"),
    "post detail": ("GET", "/blog/post/{post_id}"),
    "comment list": ("GET", "/blog/comments?limit=20"),
    "comment detail": ("GET", "/blog/comment/{comment_id}"),
    "post's comments": ("GET", "/blog/post/{commented_post_id}/comments"),
    "create post": ("POST", "/blog/create"),
}


def scale_label(posts):
    return f"{posts // 1_000_000}m" if posts % 1_000_000 == 0 else (
        f"{posts // 1000}k" if posts % 1000 == 0 else str(posts))


def database_url(database, posts, postgres_url):
    if database == "sqlite":
        DATA.mkdir(exist_ok=True)
        return f"sqlite:///{DATA / f'bench-{posts}.sqlite3'}"
    return f"{postgres_url.rstrip('/')}/blog_bench{scale_label(posts)}"


def create_postgres_database(url):
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def django_env(url):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": url,
        "PYTHONWARNINGS": "ignore",
    }


def run_json(args, env):
    result = subprocess.run([sys.executable, "-m", *args], cwd=PROJECT, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The servers benchmarks.ab can compare: production's (blogproject/serve.py) and the
# alternatives it documents, each as (host, port, workers) -> argv.
SERVERS = {
    "granian": serve.command,
    "gunicorn": lambda host, port, workers: [
        sys.executable, "-m", "gunicorn", "blogproject.wsgi", "--workers", str(workers),
        # The control socket has one default path: servers side by side would share it.
        "--bind", f"{host}:{port}", "--no-control-socket"],
    "gthread": lambda host, port, workers: [
        *SERVERS["gunicorn"](host, port, workers), "--worker-class", "gthread", "--threads", "4"],
}


class Server:
    """A project tree (this one by default) served as production serves it (or by another of
    SERVERS), for one `with` block."""

    def __init__(self, env, workers, project=PROJECT, server="granian", ready_path="/bench/floor",
                 log=PROJECT / "reports" / "server.log"):
        self.env, self.workers, self.project = env, workers, project
        self.command = SERVERS[server]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_path, self.log_path = ready_path, Path(log)

    def __enter__(self):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "a")
        # This tree's command, so that an older tree is served the same way. The process is
        # granian's main process; its workers are its children.
        self.process = subprocess.Popen(
            self.command("127.0.0.1", self.port, self.workers),
            cwd=self.project, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}{self.ready_path}", timeout=2):
                    return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    sys.exit(f"the server did not start: see {self.log_path}")
                time.sleep(0.2)

    def __exit__(self, *exc):
        self.process.terminate()
        # granian gives its workers 30 s (--workers-kill-timeout) to finish, gunicorn its graceful timeout.
        self.process.wait(timeout=60)
        self.log.close()


def wrk(url, method, path, seconds, connections, token):
    env = {**os.environ}
    if method == "POST":
        env.update(BENCH_METHOD="POST", BENCH_TOKEN=token,
                   BENCH_BODY=json.dumps({"title": "Benchmark post", "body": "Written by wrk."}))
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(LUA), url + path],
        env=env, capture_output=True, text=True, timeout=seconds + 60,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["non_2xx"] or figures["socket_errors"]:
        print(f"  warning: {path}: {figures['non_2xx']} non-2xx, "
              f"{figures['socket_errors']} socket errors", file=sys.stderr)
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def endpoint_summary(method, path, runs, ratios):
    """One endpoint's figures as bench.json keeps them: medians over the rounds, latencies in ms."""
    return {
        "method": method,
        "path": path,
        "rps": statistics.median(run["rps"] for run in runs),
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        # wrk reports microseconds.
        **{f"p{n}_ms": statistics.median(run[f"p{n}_us"] for run in runs) / 1000 for n in (50, 90, 99)},
        "non_2xx": sum(run["non_2xx"] for run in runs),
    }


def load_endpoints(env, ids, args):
    """Every endpoint's figures, each run paired with a floor run just before it."""
    paths = {name: (method, path.format(**ids)) for name, (method, path) in TARGETS.items()}
    floors, pairs = [], {name: [] for name in paths if name != "floor"}
    with Server(env, args.workers) as server:
        for method, path in paths.values():  # warm up every worker on every endpoint
            wrk(server.url, method, path, 1, args.connections, ids["token"])
        for number in range(args.rounds):
            for name in pairs:
                # The machine is shared: a floor measured seconds before is the fairest
                # yardstick for this run; one measured a minute earlier is not.
                floor = wrk(server.url, *paths["floor"], args.seconds, args.connections, ids["token"])
                run = wrk(server.url, *paths[name], args.seconds, args.connections, ids["token"])
                floors.append(floor)
                pairs[name].append((run, run["rps"] / floor["rps"]))
            print(f"  round {number + 1}: post list {pairs['post list'][-1][1]:.0%}, post detail "
                  f"{pairs['post detail'][-1][1]:.0%} of the floor", file=sys.stderr)

    results = {"floor": endpoint_summary(*paths["floor"], floors, [1.0])}
    for name, runs in pairs.items():
        results[name] = endpoint_summary(*paths[name], [run for run, _ in runs], [ratio for _, ratio in runs])
    return results


def bench_one(database, posts, args):
    url = database_url(database, posts, args.postgres_url)
    print(f"{database}, {posts:,} posts ({url})", file=sys.stderr)
    if database == "postgres":
        create_postgres_database(url)
    env = django_env(url)
    started = time.monotonic()
    ids = run_json(["benchmarks.data", "prepare", str(posts)], env)
    print(f"  ready in {time.monotonic() - started:.0f} s", file=sys.stderr)
    inprocess = run_json(["benchmarks.inprocess", str(posts)], env)
    endpoints = load_endpoints(env, ids, args) if not args.no_http else {}
    # Leave exactly `posts` posts behind, so the next run reuses the database.
    subprocess.run([sys.executable, "-m", "benchmarks.data", "cleanup"], cwd=PROJECT, env=env, check=True)
    return {"database": database, "posts": posts, **inprocess, "endpoints": endpoints}


def compare_scales(database, small, large, args):
    """The first page at the largest scale over the smallest, both served at once, alternated."""
    envs = [django_env(database_url(database, posts, args.postgres_url)) for posts in (small, large)]
    path = TARGETS["post list"][1]
    print(f"{database}: first page, {large:,} against {small:,} posts side by side", file=sys.stderr)
    with Server(envs[0], args.workers) as small_server, Server(envs[1], args.workers) as large_server:
        for server in (small_server, large_server):
            wrk(server.url, "GET", path, 1, args.connections, "")
        rounds = []
        for _ in range(args.rounds):
            small_run = wrk(small_server.url, "GET", path, args.seconds, args.connections, "")
            large_run = wrk(large_server.url, "GET", path, args.seconds, args.connections, "")
            rounds.append((small_run["rps"], large_run["rps"]))
    ratios = [large_rps / small_rps for small_rps, large_rps in rounds]
    return {
        "database": database, "small": small, "large": large,
        "small_rps": statistics.median(r[0] for r in rounds),
        "large_rps": statistics.median(r[1] for r in rounds),
        "ratio": statistics.median(ratios), "ratios": ratios,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", type=int, default=[5000], help="posts in each database")
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgres"], default=["sqlite"],
                        help="databases to run on")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
                        help="PostgreSQL server; databases blog_bench<scale> are created on it")
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every endpoint, each after a floor run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="granian workers (one Django thread each)")
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    parser.add_argument("--output", default=str(PROJECT / "reports"), help="where bench.md and charts go")
    args = parser.parse_args()
    # Stop the server on a plain kill too, not only on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    if not args.no_http and not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk (Debian's package)")

    from benchmarks import report

    output = Path(args.output)
    output.mkdir(exist_ok=True)
    results = [bench_one(database, posts, args) for database in args.databases for posts in args.scales]
    at_scale = []
    if len(set(args.scales)) > 1 and not args.no_http:
        at_scale = [compare_scales(database, min(args.scales), max(args.scales), args)
                    for database in args.databases]
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT,
                                 capture_output=True, text=True).stdout.strip(),
        "machine": f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:]),
        "load": f"wrk -t2 -c{args.connections} -d{args.seconds}s per run, {args.rounds} rounds of "
                f"(floor, endpoint) pairs; granian, {args.workers} workers",
    }
    (output / "bench.json").write_text(
        json.dumps({"meta": meta, "results": results, "at_scale": at_scale}, indent=1))
    text, written, skipped = report.write(output, meta, results, at_scale)
    print(text)
    for note in skipped:
        print(note)
    print(f"Wrote in {output.resolve()}: {', '.join(['bench.json', *written])}")


if __name__ == "__main__":
    main()
