"""The PostgreSQL backend's health check (blog.db.postgresql): no round trip, yet a
connection the server ended is replaced before a request uses it."""
import select
import time

import pytest
from django.db import connection

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the backend is PostgreSQL's"
)


@pytest.fixture
def other_session(transactional_db):
    """A second connection to the same database, to look at and end the first."""
    session = connection.get_new_connection(connection.get_connection_params())
    session.autocommit = True
    yield session
    session.close()


def start_of_a_request():
    # What Django does when a request starts, then when it makes its first query.
    connection.close_if_unusable_or_obsolete()
    connection.close_if_health_check_failed()


def backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_healthy_connection_is_checked_without_a_statement(other_session):
    pid = backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last statement before the check'")

    start_of_a_request()

    # Django's own check would have run SELECT 1 on it.
    last = other_session.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]
    assert last == "SELECT 'the last statement before the check'"
    assert connection.connection is not None and backend_pid() == pid


def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it(other_session):
    pid = backend_pid()
    other_session.execute("SELECT pg_terminate_backend(%s)", [pid])
    poller = select.poll()
    poller.register(connection.connection.fileno(), select.POLLIN)
    deadline = time.monotonic() + 10
    while not poller.poll(100) and time.monotonic() < deadline:
        pass

    start_of_a_request()

    # No query failed: the request's first query ran on a new connection.
    assert backend_pid() != pid
