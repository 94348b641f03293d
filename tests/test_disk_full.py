"""When SQLite's file system fills up, writes are answered 507 JSON saying so, reads go on,
the database stays intact, and writes work again once space is freed.

Live: granian on an SQLite file on a 2 MB file system of the test's own (small_filesystem),
filled by a file the test writes and removes. It waits for events, never for a length of
time; BOUND only stops a broken server from hanging the suite.
"""
import sqlite3
from contextlib import closing

import pytest

from loadtests.private_services import fill

from .helpers import http_json, manage, wait_for

PASSWORD = "disk-full-test-password"
STORAGE_FULL_BODY = {
    "detail": "The database is out of storage space: nothing can be saved until space is freed. "
    "Reading still works; retry the write later."
}
# Near the limit on a post's body (BLOG_POST_BODY_MAX_LENGTH), so that a few writes fill
# whatever room SQLite's write-ahead log still has.
LARGE_BODY = "x" * 90_000
MAX_WRITES = 100  # 9 MB: far more than the file system holds


@pytest.fixture
def database_file(small_filesystem):
    return small_filesystem / "blog.sqlite3"


@pytest.fixture
def server_env(server_env, database_file):
    """The `server` fixture's environment, on an SQLite file on the small file system, migrated and seeded."""
    env = {**server_env, "DATABASE_URL": f"sqlite:///{database_file}"}
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_blog", "--users", "1", "--posts", "3", "--comments", "3", "--password", PASSWORD, "-v0")
    return env


def test_a_full_disk_makes_writes_507_and_reads_go_on_until_space_is_freed(
    server, database_file, small_filesystem, tmp_path,
):
    status, _, body = http_json(server.url, "POST", "/login/", {"username": "seed_user_1", "password": PASSWORD})
    assert status == 200, body
    token = {"Authorization": f"Token {body['token']}"}
    post_id = http_json(server.url, "GET", "/blog/posts")[2]["results"][0]["id"]
    create = ("POST", "/blog/create", {"title": "Large", "body": LARGE_BODY}, token)
    stored = []

    filler = small_filesystem / "filler"
    fill(filler)
    # SQLite's write-ahead log keeps its size after a checkpoint, so the first writes may
    # still fit in it: write until one does not.
    for _ in range(MAX_WRITES):
        status, headers, answer = http_json(server.url, *create)
        if status != 201:
            break
        stored.append(answer["id"])
    assert (status, answer) == (507, STORAGE_FULL_BODY)
    assert headers["Content-Type"] == "application/json"
    comment = ("POST", f"/blog/post/{post_id}/comment/create", {"body": LARGE_BODY[:10_000]}, token)
    assert http_json(server.url, *comment)[:3:2] == (507, STORAGE_FULL_BODY)

    for path in ["/health", "/blog/posts", f"/blog/post/{post_id}", "/blog/comments",
                 f"/blog/post/{post_id}/comments", *(f"/blog/post/{id}" for id in stored)]:
        assert http_json(server.url, "GET", path)[0] == 200, path

    filler.unlink()
    wait_for(lambda: http_json(server.url, *create)[0] == 201, "a create to succeed once space is freed")
    assert http_json(server.url, *comment)[0] == 201

    log = (tmp_path / "granian.log").read_text()
    assert 1 <= log.count("database storage full: ") <= server.workers, log
    assert "Traceback" not in log and "Insufficient Storage" not in log, log
    with closing(sqlite3.connect(database_file)) as database:
        assert database.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
