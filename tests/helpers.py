"""Plain helpers the tests share; the fixtures are in conftest.py."""
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
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


def answers(url):
    """Whether `url` answers a GET with a 2xx or 3xx; False while nothing listens there."""
    try:
        urllib.request.urlopen(url, timeout=5).close()
        return True
    except OSError:
        return False
