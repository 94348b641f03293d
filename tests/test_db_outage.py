"""While the database is unreachable every endpoint answers 503 JSON with Retry-After, the
outage is logged once, not once per request, and the API serves again when the database is
back, without a restart.

The live tests run granian against a PostgreSQL server of their own (the private_postgres
fixture), which they stop and start; never the shared one. They wait for events (an
answer), never for a length of time (tests.helpers.wait_for).
"""
import sqlite3
from contextlib import closing

import psycopg
import pytest
from django.db import IntegrityError, OperationalError, ProgrammingError, connections

from blog.middleware import RETRY_AFTER_SECONDS, STORAGE_FULL, UNAVAILABLE, database_failure

from .helpers import http_json, manage, wait_for

PASSWORD = "outage-test-password"
USERNAME = "seed_user_1"
UNAVAILABLE_BODY = {"detail": f"The database is unavailable. Retry in {RETRY_AFTER_SECONDS} seconds."}


@pytest.fixture
def server_env(server_env, private_postgres):
    """The `server` fixture's environment, on the test's own PostgreSQL, migrated and seeded."""
    env = {**server_env, "DATABASE_URL": private_postgres.url}
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_blog", "--users", "1", "--posts", "3", "--comments", "3", "--password", PASSWORD, "-v0")
    return env


def every_endpoint(url):
    """Each endpoint's (method, path, body, headers, status when the database answers)."""
    status, _, body = http_json(url, "POST", "/login/", {"username": USERNAME, "password": PASSWORD})
    assert status == 200, body
    token = {"Authorization": f"Token {body['token']}"}
    post_id = http_json(url, "GET", "/blog/posts")[2]["results"][0]["id"]
    comment_id = http_json(url, "GET", "/blog/comments")[2]["results"][0]["id"]
    return [
        ("GET", "/health", None, {}, 200),
        ("GET", "/blog/posts", None, {}, 200),
        ("GET", f"/blog/post/{post_id}", None, {}, 200),
        ("GET", "/blog/comments", None, {}, 200),
        ("GET", f"/blog/comment/{comment_id}", None, {}, 200),
        ("GET", f"/blog/post/{post_id}/comments", None, {}, 200),
        ("GET", "/blog/posts", None, token, 200),
        # A session cookie: the session is looked up in the database, inside DRF's authentication.
        ("GET", "/blog/posts", None, {"Cookie": "sessionid=abcdefghijklmnopqrstuvwxyz012345"}, 200),
        ("POST", "/blog/create", {"title": "During", "body": "the outage"}, token, 201),
        ("POST", f"/blog/post/{post_id}/comment/create", {"body": "During the outage"}, token, 201),
        ("POST", "/login/", {"username": USERNAME, "password": PASSWORD}, {}, 200),
        ("POST", "/login/", {"username": USERNAME, "password": "wrong"}, {}, 400),
    ]


def client_sessions(postgres):
    """How many sessions other than this one are open on `postgres`."""
    with psycopg.connect(postgres.url) as session:
        return session.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()[0]


def test_while_the_database_is_down_every_endpoint_is_503_and_then_serves_again_without_a_restart(
    server, private_postgres, tmp_path,
):
    endpoints = every_endpoint(server.url)

    private_postgres.stop()
    # Round after round, so that every worker answers, and answers more than once.
    for _ in range(2 * server.workers):
        for method, path, body, headers, _ in endpoints:
            status, response_headers, answer = http_json(server.url, method, path, body, headers)
            assert (method, path, status, answer) == (method, path, 503, UNAVAILABLE_BODY)
            assert response_headers["Content-Type"] == "application/json"
            assert response_headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    # The schema needs no database.
    assert http_json(server.url, "GET", "/api/schema/?format=json")[0] == 200

    log = (tmp_path / "granian.log").read_text()
    # One line per worker process at most, whatever the number of requests.
    assert 1 <= log.count("database unavailable: ") <= server.workers, log
    assert log.count("answering 503") == log.count("database unavailable: "), log
    assert "Traceback" not in log and "Service Unavailable" not in log, log

    private_postgres.start()
    wait_for(lambda: http_json(server.url, "GET", "/health")[0] == 200, "/health to answer 200 again")
    for _ in range(2 * server.workers):
        for method, path, body, headers, ok in endpoints:
            status, _, answer = http_json(server.url, method, path, body, headers)
            assert (method, path, status) == (method, path, ok), answer
    assert server.process.poll() is None
    log = (tmp_path / "granian.log").read_text()
    assert 1 <= log.count("database available again") <= server.workers, log
    assert "Traceback" not in log, log


def test_a_database_restart_between_requests_fails_no_request(server, private_postgres, tmp_path):
    endpoints = every_endpoint(server.url)

    def every_worker_connected():
        # New connections, which the kernel spreads over the workers' sockets.
        http_json(server.url, "GET", "/health")
        return client_sessions(private_postgres) >= server.workers

    wait_for(every_worker_connected, "every worker to hold a persistent connection")

    # The workers' persistent connections are ended by the server; the next request on each
    # must find that out before it uses it.
    private_postgres.stop()
    private_postgres.start()

    for _ in range(2 * server.workers):
        for method, path, body, headers, ok in endpoints:
            status, _, answer = http_json(server.url, method, path, body, headers)
            assert (method, path, status) == (method, path, ok), answer
    log = (tmp_path / "granian.log").read_text()
    assert "database unavailable" not in log and "Traceback" not in log, log


def sqlite_error(sql, setup=()):
    """The sqlite3 error that `sql` raises on a fresh in-memory database, after the `setup` statements."""
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as database:
        for statement in setup:
            database.execute(statement)
        with pytest.raises(sqlite3.Error) as raised:
            database.execute(sql)
    return raised.value


def locked(tmp_path):
    """The error of a writer that finds another process holding SQLite's write lock past its timeout."""
    path = tmp_path / "locked.sqlite3"
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        with closing(sqlite3.connect(path, isolation_level=None, timeout=0)) as waiter:
            with pytest.raises(sqlite3.OperationalError) as raised:
                waiter.execute("BEGIN IMMEDIATE")
    return raised.value


def wrapped(django_class, cause):
    """`cause` as django.db's wrap_database_errors re-raises it."""
    try:
        raise django_class(*cause.args) from cause
    except django_class as error:
        return error


def postgresql(django_class, error_class, message):
    return lambda tmp_path: wrapped(django_class, error_class(message))


def sqlite(django_class, sql, *setup):
    return lambda tmp_path: wrapped(django_class, sqlite_error(sql, setup))


@pytest.mark.parametrize("make_error, failure", [
    pytest.param(postgresql(OperationalError, psycopg.OperationalError, "connection failed: Connection refused"),
                 UNAVAILABLE, id="postgresql-refused"),
    pytest.param(postgresql(OperationalError, psycopg.errors.AdminShutdown, "terminating connection"),
                 UNAVAILABLE, id="postgresql-shutdown"),
    pytest.param(postgresql(OperationalError, psycopg.errors.CannotConnectNow, "the database is starting up"),
                 UNAVAILABLE, id="postgresql-starting-up"),
    pytest.param(postgresql(OperationalError, psycopg.errors.TooManyConnections, "too many clients already"),
                 UNAVAILABLE, id="postgresql-too-many-clients"),
    pytest.param(postgresql(OperationalError, psycopg.errors.DiskFull, "could not extend file"),
                 STORAGE_FULL, id="postgresql-disk-full"),
    pytest.param(lambda tmp_path: wrapped(OperationalError, locked(tmp_path)), UNAVAILABLE, id="sqlite-locked"),
    # SQLite's own "database or disk is full", from a page limit rather than a full disk.
    pytest.param(sqlite(OperationalError, "INSERT INTO t VALUES (randomblob(100000))",
                        "CREATE TABLE t (b)", "PRAGMA max_page_count = 2"),
                 STORAGE_FULL, id="sqlite-full"),
    # Errors of the code or of the request, which a retry would not cure.
    pytest.param(postgresql(OperationalError, psycopg.errors.QueryCanceled, "canceling statement due to timeout"),
                 None, id="postgresql-statement-timeout"),
    pytest.param(postgresql(ProgrammingError, psycopg.errors.UndefinedTable, 'relation "t" does not exist'),
                 None, id="postgresql-undefined-table"),
    pytest.param(postgresql(IntegrityError, psycopg.errors.UniqueViolation, "duplicate key value"),
                 None, id="postgresql-unique-violation"),
    pytest.param(sqlite(OperationalError, "SELECT * FROM missing"), None, id="sqlite-no-such-table"),
    pytest.param(sqlite(IntegrityError, "INSERT INTO t VALUES (1)", "CREATE TABLE t (id PRIMARY KEY)",
                        "INSERT INTO t VALUES (1)"),
                 None, id="sqlite-unique"),
    pytest.param(lambda tmp_path: OperationalError("raised by Django, not by the driver"), None, id="no-driver-error"),
])
def test_only_connection_and_storage_failures_are_answered_by_the_api(make_error, failure, tmp_path):
    assert database_failure(make_error(tmp_path)) is failure


def test_a_programming_error_stays_a_500(api_client, db, monkeypatch):
    def broken(*args, **kwargs):
        raise wrapped(ProgrammingError, psycopg.errors.UndefinedTable('relation "blog_post" does not exist'))

    # Undone before the test database is rolled back, which needs a working cursor.
    with monkeypatch.context() as patch:
        patch.setattr(type(connections["default"]), "cursor", broken)
        # The test client re-raises what reached Django's 500 handler.
        with pytest.raises(ProgrammingError):
            api_client.get("/health")
