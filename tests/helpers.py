"""Plain helpers the tests share; the fixtures are in conftest.py."""
import glob
import http.client
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Seconds: only stops a broken server from hanging the suite, never a test's expectation.
BOUND = 120
TIED_ROWS = 26  # rows of the tied_posts_and_comments fixture; even, so that half of it is an offset


def iso(moment):
    """A datetime as the API writes it: ISO 8601, UTC as Z."""
    return moment.isoformat().replace("+00:00", "Z")


def post_json(post):
    """The JSON the API shows of a post."""
    return {
        "id": post.pk,
        "url": f"http://testserver/blog/post/{post.pk}",
        "title": post.title,
        "body": post.body,
        "created_at": iso(post.created_at),
        "user": {"id": post.user_id, "username": post.user.username},
    }


def comment_json(comment):
    """The JSON the API shows of a comment."""
    return {
        "id": comment.pk,
        "url": f"http://testserver/blog/comment/{comment.pk}",
        "body": comment.body,
        "created_at": iso(comment.created_at),
        "user": {"id": comment.user_id, "username": comment.user.username},
        "post": {"id": comment.post_id, "title": comment.post.title},
    }


def server_database_url():
    """DATABASE_URL of the test database, for a server process started by a test."""
    from django.db import connection

    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + settings["NAME"]))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_workers(pid, port):
    """The pids of process `pid`'s children that listen on `port`: granian's workers once each is ready.

    Each worker opens its own listening socket (SO_REUSEPORT) after it has loaded Django
    and set its signal handlers.
    """
    pids = set()
    for child in psutil.Process(pid).children():
        try:
            connections = child.net_connections("tcp")
        except psutil.NoSuchProcess:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections):
            pids.add(child.pid)
    return pids


def manage(env, *args):
    """Run `manage.py *args` in a process of its own with `env`, e.g. to migrate a database a server will use."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}"


def postgres_bindir():
    """The directory of PostgreSQL's server programs (initdb, pg_ctl), or None if they are not installed."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if os.path.exists(os.path.join(bindir, "initdb")):
            return bindir
    # Debian's packages keep initdb and pg_ctl out of PATH.
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


class PrivatePostgres:
    """A PostgreSQL server of a test's own in `directory` on `port`, which the test may stop and start.

    Never the shared server on 5432: stopping that would fail everyone else's tests. As
    root, its programs run as the `postgres` user, since initdb and postgres refuse root.
    """

    def __init__(self, bindir, directory, port):
        self.bindir = bindir
        self.directory = Path(directory)
        self.port = port
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"
        self.run_as = []
        if os.geteuid() == 0:
            self.run_as = ["runuser", "-u", "postgres", "--"]
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)

    def run(self, program, *args):
        result = subprocess.run(
            [*self.run_as, os.path.join(self.bindir, program), *args],
            cwd=self.directory, capture_output=True, text=True,
        )
        assert result.returncode == 0, f"{program} {' '.join(args)} failed:\n{result.stdout}{result.stderr}"

    def create(self):
        # Trust on loopback and no fsync: a throwaway server for one test.
        self.run("initdb", "-D", "data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self):
        """Start the server and return once it accepts connections (pg_ctl -w)."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", "data", "-l", "server.log", "-o", options, "-w", "start")

    def stop(self):
        """Stop the server as an operator's restart does: its sessions are ended, their clients told."""
        self.run("pg_ctl", "-D", "data", "-m", "fast", "-w", "stop")

    def is_running(self):
        return (self.directory / "data" / "postmaster.pid").exists()


def http_json(url, method, path, body=None, headers=None):
    """(status, headers, JSON body) of one request to the server at `url`, on a new connection."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=BOUND)
    try:
        headers = {**(headers or {})}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, json.loads(response.read() or b"null")
    finally:
        connection.close()


def wait_for(condition, what):
    """Poll `condition` until it holds; fail, naming `what`, if it still does not after BOUND seconds."""
    deadline = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Still waiting, after {BOUND} s, for {what}")
        time.sleep(0.1)
