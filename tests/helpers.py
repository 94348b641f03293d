"""Plain helpers the tests share; the fixtures are in conftest.py."""
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

PROJECT_DIR = Path(__file__).resolve().parent.parent
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
