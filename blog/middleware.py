import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import OperationalError, connection
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)


class RequestSizeLimitMiddleware:
    """Answer 413 to a body over DATA_UPLOAD_MAX_MEMORY_SIZE before anything reads it.

    Django enforces that limit only when it reads the body itself; DRF's parsers read
    the raw stream, so without this a JSON body of any size would be parsed in memory.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
        if limit is not None and length > limit:
            return JsonResponse(
                {"detail": f"Request body is {length} bytes; the limit is {limit} bytes."},
                status=413,
            )
        return self.get_response(request)


class DatabaseFailureMiddleware:
    """503 while the database is unreachable, 507 while it is full: the API's error JSON, not a 500 and a traceback."""

    # process_exception sees what every view raises, DRF's included: DRF answers its own
    # APIExceptions and re-raises the rest. No other middleware in MIDDLEWARE touches the
    # database (sessions and users load lazily, inside DRF's authentication, in the view);
    # an error raised in one would reach handler500 instead.
    # Only connection and storage failures (database_failure()): any other database error
    # is a bug, and stays a 500 with its traceback.

    def __init__(self, get_response):
        self.get_response = get_response
        # The failure this process is answering, logged when it starts and when it ends
        # rather than on every request. One per process: each worker runs one thread
        # (blogproject/serve.py).
        self.failing = None

    def __call__(self, request):
        response = self.get_response(request)
        failing = self.failing
        if failing is not None and not hasattr(request, "database_failure") and failing.has_ended(response):
            logger.warning(failing.ended)
            self.failing = None
        return response

    def process_exception(self, request, exception):
        failure = database_failure(exception)
        if failure is None:
            return None
        # Read by __call__ and by SkipAnsweredDatabaseFailures.
        request.database_failure = failure
        if self.failing is not failure:
            # One line, however the driver wraps its message.
            logger.error(failure.started, " ".join(str(exception).split()))
            self.failing = failure
        response = JsonResponse({"detail": failure.detail}, status=failure.status)
        if failure.retry_after is not None:
            response["Retry-After"] = str(failure.retry_after)
        return response


class SkipAnsweredDatabaseFailures(logging.Filter):
    """Drop django.request's line for each response DatabaseFailureMiddleware answered: it logs the failure once."""

    def filter(self, record):
        return not hasattr(getattr(record, "request", None), "database_failure")


@dataclass(frozen=True)
class DatabaseFailure:
    """A database failure the API answers itself: what clients are told and what the log says."""

    status: int
    detail: str
    started: str  # %s: the database's error
    ended: str
    has_ended: Callable[[HttpResponse], bool]
    retry_after: int | None = None


def answered_from_the_database(response):
    # An outage closes the connection (Django closes one that failed, at the end of the
    # request), so an open one was opened, and used, by this request. A request that
    # needs no database (the docs page) says nothing either way.
    return connection.connection is not None


def created(response):
    # Every write this API has is a create.
    return response.status_code == 201


# A constant, not a guess at when the database returns: long enough that clients
# retrying in a loop do not pile onto a database that is starting up, short enough that
# they are back within seconds of a restart.
RETRY_AFTER_SECONDS = 5

UNAVAILABLE = DatabaseFailure(
    status=503,
    detail=f"The database is unavailable. Retry in {RETRY_AFTER_SECONDS} seconds.",
    started="database unavailable: %s; answering 503",
    ended="database available again",
    has_ended=answered_from_the_database,
    retry_after=RETRY_AFTER_SECONDS,
)
# No Retry-After: space comes back when someone frees it, not after a known time.
STORAGE_FULL = DatabaseFailure(
    status=507,
    detail="The database is out of storage space: nothing can be saved until space is freed. "
    "Reading still works; retry the write later.",
    started="database storage full: %s; answering 507 to writes",
    ended="database storage writable again",
    has_ended=created,
)

# PostgreSQL error classes (SQLSTATE prefixes) of a server that is gone, going or not yet
# taking connections: connection exceptions, shutdown and start-up, too many clients.
POSTGRESQL_UNAVAILABLE = ("08", "57P", "53300")
POSTGRESQL_DISK_FULL = "53100"
# SQLite primary result codes: the write lock still held by another process after the
# timeout in DATABASES, the file gone or unreadable. "database is locked" is a 503, as
# for an overloaded server: retrying later is the remedy.
SQLITE_UNAVAILABLE = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR}


def database_failure(exception):
    """The DatabaseFailure that `exception` is, or None for any other error.

    Only django.db.OperationalError, judged by the driver's error it wraps: the same class
    also carries a missing table on SQLite and a cancelled statement on PostgreSQL.
    ProgrammingError, IntegrityError and the others are the code's errors, never these.
    InterfaceError is not one either: psycopg 3 reports a lost or closed connection as an
    OperationalError, and its InterfaceErrors are misuse such as a closed cursor.
    """
    if not isinstance(exception, OperationalError):
        return None
    cause = exception.__cause__
    if isinstance(cause, psycopg.Error):
        # No SQLSTATE: the client's own error, i.e. no server to connect to or one that
        # closed the connection.
        if cause.sqlstate == POSTGRESQL_DISK_FULL:
            return STORAGE_FULL
        if cause.sqlstate is None or cause.sqlstate.startswith(POSTGRESQL_UNAVAILABLE):
            return UNAVAILABLE
    elif isinstance(cause, sqlite3.Error):
        # Extended result codes carry the primary one in their low byte.
        code = getattr(cause, "sqlite_errorcode", 0) & 0xFF
        if code == sqlite3.SQLITE_FULL:
            return STORAGE_FULL
        if code in SQLITE_UNAVAILABLE:
            return UNAVAILABLE
    return None
