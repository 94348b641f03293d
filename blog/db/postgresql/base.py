"""Django's PostgreSQL backend, with a connection health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django runs `SELECT 1` before the first query of every request
on a persistent connection: a round trip of its own, nearly as dear as a post's detail
query (docs/performance.md). A server that ended an idle connection (restart, shutdown,
pg_terminate_backend) has closed the socket or written its error to it, so the socket
reads as ready; a healthy idle one does not. Only then is Django's own check run, and
the connection replaced if it fails. A host that vanished without closing anything is
caught by neither check until its query fails, as before.

Relies on (check on each Django upgrade; tests/test_upgrade_canary.py fails if one changes):
- `BaseDatabaseWrapper.close_if_health_check_failed()`, called before a request's first
  query, and the attributes it reads: `pool`, `connection`, `health_check_enabled`,
  `health_check_done`; `is_usable()` sending Django's own check.
- psycopg 3's `Connection.closed` and `Connection.fileno()`.
"""
import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if self.pool or self.connection is None or not self.health_check_enabled or self.health_check_done:
            return super().close_if_health_check_failed()
        if self.connection.closed or (self._socket_has_input() and not self.is_usable()):
            self.close()
        self.health_check_done = True

    def _socket_has_input(self):
        poller = select.poll()
        try:
            poller.register(self.connection.fileno(), select.POLLIN)
        except (OSError, ValueError):
            return True
        return bool(poller.poll(0))
