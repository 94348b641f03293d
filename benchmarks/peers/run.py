"""This API against what a Django developer would otherwise choose: the same reads, served side by side.

    python -m benchmarks.peers.run --posts 5000 --rounds 5 --seconds 5

Seeds (or reuses) a benchmark database of that many posts, as benchmarks/run.py does, and
gives each peer (benchmarks/peers/: textbook DRF, django-ninja, django-modern-rest,
django-bolt) a fresh copy of it for the run. Serves this API as production does
(serve_this_api: granian, 2 workers, DEBUG off) and each installed Django peer with the
very same command, its settings module choosing its URLs, so that only the framework
differs; but django-bolt with the server its docs prescribe (`manage.py runbolt
--processes 2`, from its own venv: it needs Python >= 3.12). A peer that is not installed
is skipped, with the reason.

Before any timing, every system's answer to every checked path must be this API's JSON
(compare.py says what is normalised). Then wrk loads each endpoint of each system in
rounds: a round runs every endpoint on every system, the systems next to each other and
their order turned each round, so that the machine's drift falls on all of them alike.
For each peer and endpoint the report gives how many times faster this API is (the median
of the rounds' ratios, with min–max), each system's req/s, and each run's CPU split: the
server's processes, wrk, PostgreSQL and everything else on the machine, so that a
disturbed run shows. Writes reports/peers.md and reports/peers.json,
and prints the report.
"""
import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.cpu import children, machine_seconds, postgres_pids, process_seconds
from benchmarks.peers import compare, report
from benchmarks.run import (
    DATA, LUA, PROJECT, Server, create_postgres_database, database_url, django_env, free_port, run_json,
)

HERE = Path(__file__).resolve().parent
BOLT_VENV = DATA / "bolt-venv"
BOLT_REQUIREMENTS = HERE / "requirements-bolt.txt"
THIS_API = "this API"

# The endpoints timed, each with its floor: constant JSON through the system's own framework.
ENDPOINTS = {
    "floor": "/bench/floor",
    "post list": "/blog/posts?limit=20",
    "post detail": "/blog/post/{post_id}",
    "comment list": "/blog/comments?limit=20",
}
# Checked for the same JSON before timing: the endpoints, a second page, and where comments' links lead.
CHECKED = [*ENDPOINTS.values(), "/blog/posts?limit=20&offset=20", "/blog/comment/{comment_id}"]


@dataclass(frozen=True)
class Peer:
    """A peer app in benchmarks/peers/<name>/ and the package it needs."""

    name: str
    label: str
    distribution: str
    module: str


PEERS = [
    Peer("drf", "textbook DRF", "djangorestframework", "rest_framework"),
    Peer("ninja", "django-ninja", "django-ninja", "ninja"),
    Peer("modern_rest", "django-modern-rest", "django-modern-rest", "dmr"),
    Peer("bolt", "django-bolt", "django-bolt", "django_bolt"),
]


@dataclass
class System:
    """One system under load: how to serve it, and what the report says of it."""

    label: str
    version: str
    served_by: str
    serve: object  # (database URL) -> a server for one `with` block, with .url and .process
    peer: Peer | None = None


def serve_this_api(env, workers):
    """This API as production serves it (blogproject/serve.py: granian), for one `with` block.

    The one place that says how this API is served here; the Django peers are served the
    same way (django_peer), so that the peers are measured against production's server.
    """
    return Server(env, workers)


def served_by(args):
    return f"granian, {args.workers} workers of 1 thread"


def this_api_system(args):
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in ("Django", "djangorestframework"))
    return System(THIS_API, f"{versions}, Python {platform.python_version()}",
                  served_by(args), lambda url: serve_this_api(django_env(url), args.workers))


def peer_env(peer, url):
    return {**django_env(url), "DJANGO_SETTINGS_MODULE": f"benchmarks.peers.{peer.name}.settings"}


def django_peer(peer, args):
    """A peer served like this API (serve_this_api, its own settings module), or the reason it cannot be."""
    if importlib.util.find_spec(peer.module) is None:
        return (f"{peer.distribution} is not installed: pip install -r benchmarks/peers/requirements.txt "
                "(make bench-peers does)")
    version = f"{peer.distribution} {importlib.metadata.version(peer.distribution)}, Python {platform.python_version()}"
    return System(peer.label, version, served_by(args),
                  lambda url: serve_this_api(peer_env(peer, url), args.workers), peer)


def bolt_peer(peer, args):
    """django-bolt on its own server from its own venv, or the reason it cannot be."""
    python, reason = bolt_python(args)
    if python is None:
        return reason
    version = subprocess.run(
        [python, "-c", "import importlib.metadata as m, platform; "
                       f"print(m.version({peer.distribution!r}) + ', Python ' + platform.python_version())"],
        capture_output=True, text=True, check=True).stdout.strip()
    return System(peer.label, f"{peer.distribution} {version}", f"runbolt, {args.workers} processes",
                  lambda url: Runbolt(peer_env(peer, url), args.workers, python), peer)


def bolt_python(args):
    """(The bolt venv's python, None) once the venv has requirements-bolt.txt installed; else (None, why not).

    Made or brought up to date here unless --no-install, in benchmarks/.data (git-ignored).
    """
    python = BOLT_VENV / "bin" / "python"
    stamp = BOLT_VENV / ".installed"
    wanted = BOLT_REQUIREMENTS.read_text() + (PROJECT / "requirements.txt").read_text()
    if stamp.exists() and (stamp.read_text() == wanted or args.no_install):
        return python, None
    if args.no_install:
        return None, f"its venv ({BOLT_VENV.relative_to(PROJECT)}) is not made, and --no-install: run without it"
    base = args.bolt_python or python_for_bolt()
    if base is None:
        return None, "it needs Python >= 3.12 and none was found: pass --bolt-python /path/to/python3.12"
    print(f"Installing django-bolt's venv ({BOLT_VENV.relative_to(PROJECT)}) with {base}", file=sys.stderr)
    for command in ([base, "-m", "venv", str(BOLT_VENV)],
                    [python, "-m", "pip", "install", "--quiet", "-r", str(BOLT_REQUIREMENTS)]):
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if not line.startswith("WARNING")]
            return None, f"`{' '.join(map(str, command))}` failed: {' / '.join(errors[-3:])}"
    stamp.write_text(wanted)
    return python, None


def python_for_bolt():
    """A Python >= 3.12 on PATH or among pyenv's versions, or None."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python3.{minor}") for minor in (12, 13, 14)]
    candidates += sorted(str(path) for path in pyenv.glob("versions/3.1[2-9]*/bin/python"))
    for candidate in filter(None, candidates):
        check = [candidate, "-c", "import sys; assert sys.version_info >= (3, 12)"]
        if subprocess.run(check, capture_output=True).returncode == 0:
            return candidate
    return None


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


class Runbolt:
    """django-bolt's own server as its deployment docs run it (`runbolt --processes N`), for one `with` block."""

    def __init__(self, env, processes, python):
        self.env, self.processes, self.python = env, processes, python
        self.url = f"http://127.0.0.1:{free_port()}"

    def __enter__(self):
        (PROJECT / "reports").mkdir(exist_ok=True)
        self.log = open(PROJECT / "reports" / "runbolt.log", "a")
        host, port = self.url.removeprefix("http://").split(":")
        self.process = subprocess.Popen(
            [self.python, "manage.py", "runbolt", "--host", host, "--port", port, "--processes", str(self.processes)],
            cwd=PROJECT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            # Its own process group, so that its workers are stopped with it.
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not answers(f"{self.url}/bench/floor"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                sys.exit("runbolt did not start: see reports/runbolt.log")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=60)
        self.log.close()


@contextmanager
def database_copy(database, url, peer):
    """A fresh copy of the benchmark database at `url` for `peer`, for one `with` block.

    Named after the original and the peer, so that its name still says "bench".
    """
    if database == "sqlite":
        source = Path(url.removeprefix("sqlite:///"))
        target = source.with_name(f"{source.stem}-{peer.name}{source.suffix}")
        # A write-ahead log left beside a new file would be replayed into it.
        files = [target, *(target.with_name(target.name + suffix) for suffix in ("-wal", "-shm"))]
        for file in files:
            file.unlink(missing_ok=True)
        with closing(sqlite3.connect(source)) as original, closing(sqlite3.connect(target)) as copy:
            original.backup(copy)
        try:
            yield f"sqlite:///{target}"
        finally:
            for file in files:
                file.unlink(missing_ok=True)
    else:
        import psycopg

        server, name = url.rsplit("/", 1)
        copy = f"{name}_{peer.name}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
        try:
            yield f"{server}/{copy}"
        finally:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


def fetch_json(url):
    """The JSON at `url`; OSError unless the answer is a 2xx, ValueError unless it is JSON."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def check_same_json(servers, paths):
    """Every peer's answer to every path, compared with this API's: exits listing what differs;
    else returns what the normalising forgave, {peer: {field: (this API's, the peer's)}}."""
    forgiven, failures = {}, []
    for path in paths:
        ours = fetch_json(servers[THIS_API].url + path)
        for label, server in servers.items():
            if label == THIS_API:
                continue
            try:
                remaining, forgiven_here = compare.compare(ours, fetch_json(server.url + path))
            except (OSError, ValueError) as error:
                remaining, forgiven_here = [f"no JSON: {error}"], {}
            failures += [f"{label} {path}: {line}" for line in remaining[:5]]
            for field, example in forgiven_here.items():
                forgiven.setdefault(label, {}).setdefault(field, example)
    if failures:
        sys.exit("The peers do not answer this API's JSON; nothing was timed:\n  " + "\n  ".join(failures))
    return forgiven


def process_tree(pid):
    return [pid, *(descendant for child in children(pid) for descendant in process_tree(child))]


def cpu_counters(server, database):
    """CPU seconds so far: the server's processes, this process's finished children (wrk: it ends
    within the run), the database's server (PostgreSQL; SQLite works inside the server's
    processes), the whole machine; and the clock.

    The machine's busy time is sampled at the kernel's tick, a process's is exact: over a
    run of a second or two, what is left for everything else can come out a little below 0.
    """
    finished = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "server": sum(process_seconds(pid) for pid in process_tree(server.process.pid)),
        "wrk": finished.ru_utime + finished.ru_stime,
        "database": sum(process_seconds(pid) for pid in postgres_pids()) if database == "postgres" else 0.0,
        "machine": machine_seconds(),
        "clock": time.monotonic(),
    }


def load(server, path, args):
    """One wrk run: its figures, req/s, and the cores each part of the machine kept busy meanwhile."""
    before = cpu_counters(server, args.database)
    result = subprocess.run(
        ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "-s", str(LUA), server.url + path],
        capture_output=True, text=True, timeout=args.seconds + 60,
    )
    after = cpu_counters(server, args.database)
    if result.returncode != 0:
        sys.exit(f"wrk failed on {server.url + path}:\n{result.stderr}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    spent = {part: after[part] - before[part] for part in before}
    seconds = spent.pop("clock")
    cores = {part: used / seconds for part, used in spent.items()}
    machine = cores.pop("machine")
    cores["else"] = machine - sum(cores.values())
    figures["cores"] = cores
    return figures


def measure(servers, paths, args):
    """Every endpoint of every system, round after round; each run's figures in a list."""
    labels = list(servers)
    for server in servers.values() if args.warmup else ():  # every worker on every endpoint
        for path in paths.values():
            subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.warmup}s", server.url + path],
                           capture_output=True, timeout=args.warmup + 60)
    runs = []
    for number in range(1, args.rounds + 1):
        # Turned each round, so that no system always runs first, right after another's load.
        turn = (number - 1) % len(labels)
        order = labels[turn:] + labels[:turn]
        for endpoint, path in paths.items():
            for label in order:
                figures = load(servers[label], path, args)
                if not figures["requests"]:
                    sys.exit(f"{label} answered no request at {path}: see its log in reports/")
                if figures["non_2xx"] or figures["socket_errors"]:
                    print(f"  warning: {label} {path}: {figures['non_2xx']} non-2xx, "
                          f"{figures['socket_errors']} socket errors", file=sys.stderr)
                runs.append({"round": number, "system": label, "endpoint": endpoint, "path": path, **figures})
            line = ", ".join(f"{run['system']} {run['rps']:,.0f}" for run in runs[-len(order):])
            print(f"  round {number}, {endpoint}: {line} req/s", file=sys.stderr)
    return runs


def summarise(runs, labels, endpoints, rounds):
    """The median req/s of each system and endpoint, and for each peer and endpoint this API's
    speed over the peer's: the median, min and max of the rounds' ratios."""
    rps = {(run["round"], run["system"], run["endpoint"]): run["rps"] for run in runs}
    medians = {label: {endpoint: statistics.median(rps[(number, label, endpoint)] for number in rounds)
                       for endpoint in endpoints} for label in labels}
    speedups = {}
    for label in labels:
        if label == THIS_API:
            continue
        for endpoint in endpoints:
            ratios = [rps[(number, THIS_API, endpoint)] / rps[(number, label, endpoint)] for number in rounds]
            speedups.setdefault(label, {})[endpoint] = {
                "median": statistics.median(ratios), "min": min(ratios), "max": max(ratios), "ratios": ratios,
            }
    return medians, speedups


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=5000, help="posts in the benchmark database")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite", help="the database engine")
    parser.add_argument("--postgres-url",
                        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
                        help="PostgreSQL server; blog_bench<scale> and its copies blog_bench<scale>_<peer> are made on it")
    names = [peer.name for peer in PEERS]
    parser.add_argument("--peers", nargs="+", choices=names, default=names,
                        help="the peers to measure, those installed among them")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every system on every endpoint")
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--warmup", type=int, default=1,
                        help="seconds of wrk on each endpoint of each system first; 0: none")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="granian workers, or runbolt processes")
    parser.add_argument("--no-install", action="store_true", help="skip django-bolt unless its venv is made already")
    parser.add_argument("--bolt-python", default=os.environ.get("BOLT_PYTHON"),
                        help="the Python >= 3.12 for django-bolt's venv (default: found on PATH or in pyenv)")
    parser.add_argument("--output", default=str(PROJECT / "reports"), help="where peers.md and peers.json go")
    args = parser.parse_args()
    # Stop the servers on a plain kill too, not only on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk (Debian's package)")

    url = database_url(args.database, args.posts, args.postgres_url)
    print(f"{args.database}, {args.posts:,} posts ({url})", file=sys.stderr)
    if args.database == "postgres":
        create_postgres_database(url)
    ids = run_json(["benchmarks.data", "prepare", str(args.posts)], django_env(url))
    systems, skipped = [this_api_system(args)], {}
    for peer in (peer for peer in PEERS if peer.name in args.peers):
        system = (bolt_peer if peer.name == "bolt" else django_peer)(peer, args)
        if isinstance(system, str):
            skipped[peer.label] = system
            print(f"Skipping {peer.label}: {system}", file=sys.stderr)
        else:
            systems.append(system)

    paths = {endpoint: path.format(**ids) for endpoint, path in ENDPOINTS.items()}
    with ExitStack() as stack:
        # Every copy before any server: PostgreSQL copies a database only while no one is connected to it.
        databases = {system.label: stack.enter_context(database_copy(args.database, url, system.peer))
                     if system.peer else url for system in systems}
        servers = {system.label: stack.enter_context(system.serve(databases[system.label])) for system in systems}
        forgiven = check_same_json(servers, [path.format(**ids) for path in CHECKED])
        print(f"Same JSON from {', '.join(servers)}; timing, rounds: {args.rounds}", file=sys.stderr)
        runs = measure(servers, paths, args)

    rounds = range(1, args.rounds + 1)
    medians, speedups = summarise(runs, list(servers), list(paths), rounds)
    results = {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT,
                                     capture_output=True, text=True).stdout.strip(),
            "machine": f"{os.cpu_count()} CPUs, {platform.platform()}",
            "command": "python -m benchmarks.peers.run " + " ".join(sys.argv[1:]),
            "database": args.database, "posts": args.posts,
            "load": f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s per run, rounds: {args.rounds}",
        },
        "systems": [{"label": s.label, "version": s.version, "served_by": s.served_by} for s in systems],
        "skipped": skipped,
        "same_json": {"paths": [path.format(**ids) for path in CHECKED], "forgiven": forgiven},
        "rps": medians,
        "speedups": speedups,
        "runs": runs,
    }
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "peers.json").write_text(json.dumps(results, indent=1))
    text = report.markdown(results)
    (output / "peers.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
