"""Faults injected into a live API while Locust's usual mix runs against it: what users saw, how fast it came back.

    python -m loadtests.faults [--database sqlite|postgres] [--short]     # or: make faults
    python -m loadtests.faults --web [--database ...] [--short]   # or: make faults FAULTS_ARGS=--web

It starts everything it uses and stops it all at the end, Ctrl-C included: granian (2
workers, production settings, a random secret key) on 127.0.0.1, on a database of its
own (a fresh SQLite file on a small tmpfs it mounts, or with --database postgres a
private PostgreSQL it makes with initdb and starts with pg_ctl; never a shared one),
migrated and seeded; a probe thread asking GET /blog/posts?limit=1 every 100 ms; and
loadtests/locustfile.py headless. Then, one at a time at fixed times:

  1. "worker killed"     one granian worker gets SIGKILL (granian respawns it)
  2. "workers stalled"   both workers SIGSTOP for 2 s, then SIGCONT
  3. "database restarted" (postgres) pg_ctl restart -m fast of the private server, or
     "disk full"         (sqlite) a filler file takes all the tmpfs's room for a few s
  4. "slow clients"      100 connections each trickle one header line a second

For each it prints what the users saw in the fault's window (from its start until 5 s
after it ends, or the next fault) by status code, and the time from the fault's start to
the probe's first good answer to a request sent after that start. Last comes Locust's
integrity line. Exit code 1 on a lost acknowledged write, any 500 seen by users or the
probe, or a recovery slower than --recovery-bound (10 s: the stall alone takes 2 s, a
PostgreSQL restart about 1 s); 2 when it cannot set up (e.g. no permission to mount).

Status codes come from this file itself, passed to Locust as a second locustfile
(`-f loadtests/locustfile.py,loadtests/faults.py`): loaded that way it adds a request
listener that writes one line per request (time, status) to the file named by
BLOG_FAULTS_REQUEST_LOG, and with --web (below) an option. Locust's CSV files were the
alternative, but they count failures by message, cumulatively and without times, so
they cannot say which codes fell in a window; the listener can, and 0 stands for no
answer (a refused or dropped connection, a timeout).

With --web, Locust serves its web UI instead (on LOCUST_WEB_PORT, else a free port; the
address is printed), with the same API, database, probe and options, and does nothing
until a run is started from its form. The form has a "Blog faults" checkbox (the
--blog-faults option this file adds when loaded by the harness, ticked by default): a
run started with it ticked tells the harness so when it starts (Locust's test_start),
gets the same faults at the same times, is stopped by the harness once they are over,
and is judged as above: the same lines on the terminal, also logged by Locust so that
they show in the web UI's Logs tab. A run stopped sooner gets no verdict. Runs started
with it unticked get no faults. Ctrl-C (or SIGTERM) ends it all; the exit code is 1 if a
run with faults failed, else 0 (2 when it cannot set up). Locust and the harness talk
through two files in the harness's directory: the run log (a line when a run with
faults starts, and when any run stops) and the results (the harness's lines, which
Locust logs as they come).

Needs root (mount, and initdb as the postgres user) like the tests that do the same,
with the same code: loadtests/private_services.py.
"""
import argparse
import http.client
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from loadtests.private_services import PrivatePostgres, ServiceError, Tmpfs, fill, missing_postgres

REQUEST_LOG_VARIABLE = "BLOG_FAULTS_REQUEST_LOG"
# --web only: the file where Locust says that a run with --blog-faults started, or a run
# stopped; the file whose lines Locust logs (its web UI's Logs tab); the API faults go to.
RUN_LOG_VARIABLE = "BLOG_FAULTS_RUN_LOG"
RESULTS_VARIABLE = "BLOG_FAULTS_RESULTS"
API_VARIABLE = "BLOG_FAULTS_API"
PROJECT_DIR = Path(__file__).resolve().parent.parent
PASSWORD = secrets.token_urlsafe(16)
PROBE_PATH = "/blog/posts?limit=1"
PROBE_INTERVAL = 0.1
PROBE_TIMEOUT = 1.0
AFTER_FAULT = 5.0  # seconds of each window past the fault's end: the recovery is part of what users see
USERS = 10
SLOW_CLIENTS = 100
POLL = 0.2  # seconds between looks at a file another process writes
LOCUST_OPTIONS = [
    "--users", str(USERS), "--spawn-rate", str(USERS),
    "--blog-min-wait", "0.1", "--blog-max-wait", "0.5",
    # Failures and slow answers during faults are what this run is for: it judges them
    # itself. Locust's verdict still fails the run on a lost write.
    "--blog-max-fail-ratio", "1", "--blog-max-p95-ms", "600000",
]


def install_request_log(path):
    """Loaded by Locust: write "time status" for every request the users make."""
    from locust import events

    log = open(path, "a", buffering=1)

    @events.request.add_listener
    def log_request(request_type, name, response=None, exception=None, **kwargs):
        status = getattr(response, "status_code", 0) or 0
        log.write(f"{time.time():.3f} {status} {request_type} {name}\n")


def install_fault_option(run_log_path, results_path, api):
    """Loaded by Locust under --web: --blog-faults, a checkbox in the web UI's start form.

    A run started with it ticked is announced in the run log, and so is every run's stop:
    the harness injects its schedule into the former, and learns from the latter that a
    person stopped a run before the schedule's end. Whatever the harness says is logged
    here as it comes, so that it shows in the web UI's Logs tab.
    """
    import gevent
    from locust import events

    logger = logging.getLogger(__name__)
    run_log = open(run_log_path, "a", buffering=1)

    @events.init_command_line_parser.add_listener
    def add_fault_option(parser):
        parser.add_argument("--blog-faults", action="store_true", default=False,
                            help="Inject python -m loadtests.faults' schedule into the run: a worker killed, "
                                 "workers stalled, the database restarted or its disk full, slow clients")

    @events.test_start.add_listener
    def announce_start(environment, **kwargs):
        # After the locustfile's own test_start, which ends a run it refuses before this one is called.
        if not environment.parsed_options.blog_faults:
            return
        if (environment.host or "").rstrip("/") != api:
            logger.warning("Blog faults: none injected, since they go to %s and this run's host is %s: "
                           "start it with the host the form had", api, environment.host)
            return
        run_log.write(f"{time.time():.3f} start {environment.parsed_options.num_users}\n")

    @events.test_stop.add_listener
    def announce_stop(**kwargs):
        run_log.write(f"{time.time():.3f} stop\n")

    @events.init.add_listener
    def relay_results(**kwargs):
        gevent.spawn(log_each_line, results_path, logger)


def log_each_line(path, logger):
    """Log each line appended to `path`, as it comes: ERROR for a failure, else INFO."""
    import gevent

    with open(path) as lines:
        line = ""
        while True:
            line += lines.readline()
            if not line.endswith("\n"):  # nothing new yet, or a line still being written
                gevent.sleep(0.2)
                continue
            text, line = line.rstrip("\n"), ""
            logger.log(logging.ERROR if text.startswith(("FAILED", "Faults: FAILED")) else logging.INFO, text)


if __name__ != "__main__" and os.environ.get(REQUEST_LOG_VARIABLE):
    install_request_log(os.environ[REQUEST_LOG_VARIABLE])
    if os.environ.get(RUN_LOG_VARIABLE):
        install_fault_option(os.environ[RUN_LOG_VARIABLE], os.environ[RESULTS_VARIABLE], os.environ[API_VARIABLE])


class SetupError(Exception):
    """The harness cannot start what it needs; the message says how to fix it."""


class RunStopped(Exception):
    """The web UI's run ended before the faults' schedule did (--web); the message says how."""


class RunLog:
    """The run log's lines ("<time> start <users>", "<time> stop"), each taken once, in order, as they come."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.touch()
        self.offset = 0
        self.pending = deque()

    def next(self):
        """The next line not taken yet, split in words; None when there is none yet."""
        if not self.pending:
            with open(self.path, "rb") as log:
                log.seek(self.offset)
                text = log.read()
            complete = text[:text.rfind(b"\n") + 1]  # a line still being written is read next time
            self.offset += len(complete)
            self.pending.extend(line.split() for line in complete.decode().splitlines())
        return self.pending.popleft() if self.pending else None


@dataclass
class Fault:
    name: str
    start: float = 0.0  # wall-clock times, comparable with the request log's
    end: float = 0.0
    detail: str = ""


@dataclass
class Plan:
    warm_up: float  # seconds after the users' first request before the first fault
    gap: float  # seconds from one fault's start to the next
    stall: float
    disk_full: float
    slow_clients: float
    tail: float  # seconds after the last fault's start before Locust is stopped


PLANS = {
    "default": Plan(warm_up=10, gap=22, stall=2, disk_full=5, slow_clients=5, tail=15),
    "short": Plan(warm_up=5, gap=12, stall=2, disk_full=3, slow_clients=3, tail=10),
}


def run(argv, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SetupError(f"{' '.join(map(str, argv))} failed:\n{result.stdout}{result.stderr}")
    return result


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port, path, timeout):
    """The status of GET path, 0 when no answer came."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()


class SqliteOnTmpfs:
    """A fresh SQLite file on a tmpfs of its own, so that filling the tmpfs fills SQLite's disk."""

    name = "sqlite"
    fault_name = "disk full"

    def __init__(self, directory, seconds):
        self.directory = Path(directory) / "db"
        self.seconds = seconds
        self.tmpfs = Tmpfs(self.directory, "64m")
        self.url = f"sqlite:///{self.directory / 'blog.sqlite3'}"

    def start(self):
        self.directory.mkdir()
        self.tmpfs.mount()

    def inject(self, fault, stopping):
        filler = self.directory / "filler"
        fill(filler)
        fault.start = time.time()  # once full
        fault.detail = f"tmpfs full for {self.seconds:g} s"
        try:
            stopping.wait(self.seconds)
        finally:
            filler.unlink()

    def stop(self):
        if self.tmpfs.mounted:
            self.tmpfs.unmount()


class PostgresDatabase:
    """A PostgreSQL server of the harness's own (PrivatePostgres) on a free port; its fault is a restart."""

    name = "postgres"
    fault_name = "database restarted"

    def __init__(self, directory, seconds):
        self.server = PrivatePostgres(Path(directory) / "postgres", free_port())
        self.url = self.server.url

    def start(self):
        if problem := missing_postgres():
            raise SetupError(f"{problem}; or use --database sqlite")
        self.server.directory.mkdir()
        # The run's directory (mkdtemp's, only root may enter it) holds the server's: as root,
        # the server runs as the postgres user, who must pass through.
        os.chmod(self.server.directory.parent, 0o755)
        self.server.create()
        self.server.start()

    def inject(self, fault, stopping):
        # Fast, as an operator's restart is: the server ends its sessions and tells their clients.
        began = time.monotonic()
        self.server.restart()
        fault.detail = f"pg_ctl restart took {time.monotonic() - began:.1f} s"

    def stop(self):
        if self.server.is_running():
            self.server.stop()


class Probe(threading.Thread):
    """GET PROBE_PATH every 100 ms; keeps (sent, answered, status) of each."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.answers = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            sent = time.time()
            status = get(self.port, PROBE_PATH, PROBE_TIMEOUT)
            self.answers.append((sent, time.time(), status))
            self.stopping.wait(max(0.0, PROBE_INTERVAL - (time.time() - sent)))

    def first_good_after(self, moment):
        return next((answered for sent, answered, status in list(self.answers)
                     if sent >= moment and 200 <= status < 300), None)


class Harness:
    """Everything one run starts, so that all of it can be stopped, whatever happens."""

    def __init__(self, options):
        self.options = options
        self.plan = PLANS["short" if options.short else "default"]
        self.directory = Path(tempfile.mkdtemp(prefix="blog-faults-"))
        database_class = PostgresDatabase if options.database == "postgres" else SqliteOnTmpfs
        self.database = database_class(self.directory, self.plan.disk_full)
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.server = None
        self.locust = None
        self.probe = None
        self.stopping = threading.Event()
        self.request_log = self.directory / "requests.log"
        self.run_log = None  # --web: RunLog
        self.results = None  # --web: what say() says, for Locust to log
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BLOG_", "LOCUST_", "DJANGO_", "GRANIAN_"))},
            "DJANGO_DEBUG": "0",
            "DJANGO_HTTPS": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        }

    def say(self, text):
        print(text, flush=True)
        if self.results:
            self.results.write(text + "\n")

    # Start and stop

    def set_up(self):
        self.database.start()
        self.env["DATABASE_URL"] = self.database.url
        self.say(f"Database: {self.database.name} ({self.database.url}); migrating and seeding")
        for args in (["migrate", "--noinput", "-v0"],
                     ["seed_blog", "--posts", "2000", "--comments", "2000", "--password", PASSWORD, "-v0"]):
            run([sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=self.env)
        self.start_server()

    def start_server(self):
        sys.path.insert(0, str(PROJECT_DIR))
        from blogproject import serve  # only the server's command line; no Django

        self.server_log = open(self.directory / "granian.log", "w")
        self.server = subprocess.Popen(
            serve.command("127.0.0.1", self.port, 2), cwd=PROJECT_DIR, env=self.env,
            stdout=self.server_log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        # Both workers, not just the first: a signal to a worker still starting is lost.
        while len(self.workers()) < 2 or get(self.port, "/health", 5) != 200:
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise SetupError(f"granian did not start:\n{(self.directory / 'granian.log').read_text()}")
            time.sleep(0.1)
        self.say(f"API: granian with 2 workers at {self.api}")

    def workers(self):
        """granian's workers that listen on the port (each opens its own socket once ready)."""
        import psutil

        pids = []
        for child in psutil.Process(self.server.pid).children():
            try:
                if any(c.status == psutil.CONN_LISTEN and c.laddr.port == self.port
                       for c in child.net_connections("tcp")):
                    pids.append(child.pid)
            except psutil.NoSuchProcess:
                continue
        return pids

    def start_locust(self):
        self.launch_locust(["--headless", "--only-summary", "--host", self.api, *LOCUST_OPTIONS,
                            "--csv", str(self.directory / "locust"), "--json-file", str(self.directory / "locust")])
        deadline = time.monotonic() + 90
        while not self.users_have_started():
            if self.locust.poll() is not None or time.monotonic() > deadline:
                raise SetupError(f"Locust did not start its users:\n{(self.directory / 'locust.log').read_text()}")
            time.sleep(0.2)

    def launch_locust(self, options, **env):
        command = [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py,loadtests/faults.py", *options]
        env = {**self.env, "BLOG_SEED_PASSWORD": PASSWORD, REQUEST_LOG_VARIABLE: str(self.request_log), **env}
        self.locust_log = open(self.directory / "locust.log", "w")
        # A session of its own: Ctrl-C reaches the harness alone, which then stops Locust
        # with SIGTERM so that it still judges the run.
        self.locust = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=self.locust_log,
                                       stderr=subprocess.STDOUT, start_new_session=True)

    def users_have_started(self, since=0.0):
        if not self.request_log.exists():
            return False
        return any(" /login/" not in line and float(line.split(" ", 1)[0]) >= since
                   for line in self.request_log.read_text().splitlines())

    def stop_locust(self):
        """SIGTERM, as after --run-time: Locust stops the users, judges the run and exits. Its output."""
        if self.locust is None:
            return ""
        if self.locust.poll() is None:
            self.locust.send_signal(signal.SIGTERM)
            try:
                self.locust.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.locust.pid, signal.SIGKILL)
                self.locust.wait()
        self.locust_log.close()
        return (self.directory / "locust.log").read_text()

    def tear_down(self):
        self.stopping.set()
        if self.probe:
            self.probe.stopping.set()
        if self.locust and self.locust.poll() is None:
            os.killpg(self.locust.pid, signal.SIGKILL)
            self.locust.wait()
        if self.server and self.server.poll() is None:
            for pid in self.workers():
                os.kill(pid, signal.SIGCONT)  # a stalled worker cannot stop
            self.server.terminate()
            try:
                self.server.wait(timeout=40)  # past granian's --workers-kill-timeout 30
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait()
        try:
            self.database.stop()
        except ServiceError as error:
            print(f"Could not stop the database: {error}", file=sys.stderr)
        shutil.rmtree(self.directory, ignore_errors=True)

    # The faults

    def kill_worker(self, fault, stopping):
        pid = self.workers()[0]
        os.kill(pid, signal.SIGKILL)
        fault.start = time.time()  # from when it took effect: finding the workers takes a while
        fault.detail = f"pid {pid}"

    def stall_workers(self, fault, stopping):
        pids = self.workers()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        fault.start = time.time()  # a probe sent while the workers were being found was answered
        try:
            stopping.wait(self.plan.stall)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        fault.detail = f"{len(pids)} workers for {self.plan.stall:g} s"

    def slow_clients(self, fault, stopping):
        sockets = []
        try:
            for _ in range(SLOW_CLIENTS):
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                sock.sendall(b"GET /blog/posts HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                sockets.append(sock)
            for second in range(int(self.plan.slow_clients)):
                if stopping.wait(1):
                    break
                for sock in sockets:
                    try:
                        sock.sendall(f"X-Trickle-{second}: 1\r\n".encode())
                    except OSError:
                        pass  # the server may close a slow client: that is its right
        finally:
            for sock in sockets:
                sock.close()
        fault.detail = f"{len(sockets)} connections, one header line a second for {self.plan.slow_clients:g} s"

    # The run

    def run(self):
        self.set_up()
        self.probe = Probe(self.port)
        self.probe.start()
        self.say(f"Locust: {USERS} users of loadtests/locustfile.py; faults every {self.plan.gap:g} s")
        self.start_locust()
        origin = time.time()
        faults = self.inject_faults(origin)
        self.wait_until(faults[-1].start + self.plan.tail)
        self.probe.stopping.set()
        self.probe.join()
        output = self.stop_locust()
        return self.judge(origin, faults, output, self.locust.returncode)

    def inject_faults(self, origin):
        steps = [("worker killed", self.kill_worker), ("workers stalled", self.stall_workers),
                 (self.database.fault_name, self.database.inject), ("slow clients", self.slow_clients)]
        faults = []
        for number, (name, inject) in enumerate(steps):
            self.wait_until(origin + self.plan.warm_up + number * self.plan.gap)
            fault = Fault(name, start=time.time())
            inject(fault, self.stopping)
            fault.end = time.time()
            faults.append(fault)
            self.say(f"  injected \"{name}\" at {fault.start - origin:.1f} s ({fault.detail})")
        return faults

    def wait_until(self, moment):
        """Return at `moment`; sooner, raise KeyboardInterrupt when stopping, RunStopped when Locust's run stops (--web)."""
        while (remaining := moment - time.time()) > 0:
            # In --web, a look at the run log every POLL seconds.
            if self.stopping.wait(remaining if self.run_log is None else min(remaining, POLL)):
                raise KeyboardInterrupt
            if self.run_log is not None and self.run_has_stopped():
                raise RunStopped("the run stopped before the faults' schedule ended: no verdict")

    # The web UI's runs (--web)

    def run_web(self):
        """Serve Locust's web UI; inject the faults into each run started with --blog-faults ticked, until Ctrl-C."""
        self.results = open(self.directory / "results.log", "w", buffering=1)
        self.run_log = RunLog(self.directory / "runs.log")
        self.set_up()
        self.probe = Probe(self.port)
        self.probe.start()
        self.start_locust_web()
        self.say(f"Locust web UI: {self.web_ui} (on {self.api}; Ctrl-C here stops everything). Each run started "
                 f"with \"Blog faults\" ticked gets the faults, one every {self.plan.gap:g} s, and stops after them.")
        verdicts = []
        try:
            while (started := self.next_fault_run()) is not None:
                try:
                    verdicts.append(self.fault_run(*started))
                except RunStopped as stopped:
                    self.say(f"Run with faults: {stopped}")
        except KeyboardInterrupt:
            pass
        failed = sum(verdicts)
        print(f"Stopping everything: {len(verdicts) - failed} of {len(verdicts)} runs with faults passed",
              flush=True)
        self.stop_locust()  # SIGTERM: a run still going on is judged, in Locust's log
        return 1 if failed else 0

    def start_locust_web(self):
        self.web_ui = f"http://127.0.0.1:{os.environ.get('LOCUST_WEB_PORT') or free_port()}"
        port = self.web_ui.rsplit(":", 1)[1]
        # --blog-faults: ticked in the form; the users and options are the form's defaults.
        self.launch_locust(["--host", self.api, "--web-host", "127.0.0.1", "--web-port", port, *LOCUST_OPTIONS,
                            "--blog-faults"],
                           **{RUN_LOG_VARIABLE: str(self.run_log.path), RESULTS_VARIABLE: self.results.name,
                              API_VARIABLE: self.api})
        deadline = time.monotonic() + 90
        while get(int(port), "/", 5) != 200:
            if self.locust.poll() is not None or time.monotonic() > deadline:
                raise SetupError(f"Locust's web UI did not start:\n{(self.directory / 'locust.log').read_text()}")
            time.sleep(0.2)

    def next_fault_run(self):
        """(when, users) of the next run started with --blog-faults; None once Locust has exited."""
        while self.locust.poll() is None:
            while (line := self.run_log.next()) is not None:
                if line[1] == "start":
                    return float(line[0]), int(line[2])
            time.sleep(POLL)
        self.say(f"Locust exited ({self.locust.returncode})")
        return None

    def run_has_stopped(self):
        while (line := self.run_log.next()) is not None:
            if line[1] == "stop":
                return True
        return self.locust.poll() is not None

    def fault_run(self, started, users):
        """Inject the faults into the web UI's run that started at `started`, stop it, judge it: 1 if it failed."""
        self.say(f"Run with faults: {users} users of loadtests/locustfile.py; faults every {self.plan.gap:g} s")
        deadline = time.monotonic() + 90
        while not self.users_have_started(since=started):
            if time.monotonic() > deadline:
                raise RunStopped("the users made no request but logins in 90 s: nothing injected")
            self.wait_until(time.time() + POLL)
        origin = time.time()
        faults = self.inject_faults(origin)
        self.wait_until(faults[-1].start + self.plan.tail)
        return self.judge(origin, faults, self.stop_web_run(), None)

    def stop_web_run(self):
        """Stop the run as the web UI's Stop button does; Locust's output from then until its integrity line."""
        log = self.directory / "locust.log"
        before = log.stat().st_size
        try:
            urllib.request.urlopen(urllib.request.Request(f"{self.web_ui}/stop", method="POST"), timeout=30).close()
        except OSError as error:
            self.say(f"Could not stop the run: {error}")
        deadline = time.monotonic() + 90  # the count reads behind the integrity line time out after 10 s each
        while "Integrity" not in (output := log.read_bytes()[before:].decode(errors="replace")):
            if self.locust.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(POLL)
        return output

    def judge(self, origin, faults, locust_output, locust_exit):
        requests = []
        for line in self.request_log.read_text().splitlines():
            moment, status = line.split(" ", 2)[:2]
            requests.append((float(moment), int(status)))
        problems = []
        bound = self.options.recovery_bound
        for number, fault in enumerate(faults):
            window_end = fault.end + AFTER_FAULT
            if number + 1 < len(faults):
                window_end = min(window_end, faults[number + 1].start)
            seen = Counter(status for moment, status in requests if fault.start <= moment < window_end)
            probed = Counter(status for sent, answered, status in self.probe.answers
                             if fault.start <= answered < window_end)
            codes = ", ".join(f"{code or 'no answer'} x{count}" for code, count in sorted(seen.items())) or "nothing"
            good = self.probe.first_good_after(fault.start)
            recovery = "no good answer after it" if good is None else f"first good answer {good - fault.start:.2f} s after"
            errors = seen[500] + probed[500]
            self.say(f"fault \"{fault.name}\" at {fault.start - origin:.1f} s: users saw {codes}; {recovery}; "
                     + (f"{errors} x 500" if errors else "no 500"))
            if errors:
                problems.append(f"\"{fault.name}\": {seen[500]} users' and {probed[500]} probe requests answered 500")
            if good is None or good - fault.start > bound:
                problems.append(f"\"{fault.name}\": no good answer within --recovery-bound {bound:g} s")
        integrity = [line for line in locust_output.splitlines() if "Integrity" in line]
        self.say(integrity[-1][integrity[-1].index("Integrity"):] if integrity else "Integrity: no line from Locust")
        if not integrity or "LOST" in integrity[-1]:
            problems.append("Locust's integrity line shows lost acknowledged writes, or is missing")
        if locust_exit not in (0, None):  # None: Locust goes on serving its web UI
            verdict = [line for line in locust_output.splitlines() if "Load test failed" in line or "Verdict" in line]
            problems.append(f"Locust exited {locust_exit}: " + (" / ".join(verdict) or "see its output")
                            + "\n" + locust_output[-3000:])
        for problem in problems:
            self.say(f"FAILED: {problem}")
        self.say("Faults: PASSED" if not problems else "Faults: FAILED")
        return 1 if problems else 0


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtests.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite",
                        help="SQLite on a tmpfs of its own (default), or a private PostgreSQL (initdb, pg_ctl)")
    parser.add_argument("--short", action="store_true",
                        help="fewer seconds between and after faults, for CI (about a minute)")
    parser.add_argument("--recovery-bound", type=float, default=10.0,
                        help="seconds from a fault's start to the probe's first good answer, at most (default 10)")
    parser.add_argument("--web", action="store_true",
                        help="Locust's web UI instead of a headless run (on LOCUST_WEB_PORT, or a free port): "
                             "each run started in it with \"Blog faults\" ticked gets the faults; Ctrl-C ends")
    options = parser.parse_args(argv)
    harness = Harness(options)
    # SIGTERM ends the run as Ctrl-C does: through tear_down.
    signal.signal(signal.SIGTERM, interrupt)
    try:
        return harness.run_web() if options.web else harness.run()
    except (SetupError, ServiceError) as error:
        print(f"Cannot run the faults: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted: stopping everything", file=sys.stderr)
        return 130
    finally:
        harness.tear_down()


if __name__ == "__main__":
    sys.exit(main())
