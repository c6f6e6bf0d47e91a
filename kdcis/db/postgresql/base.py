"""PostgreSQL with a health check that costs no round trip.

Django's health check (CONN_HEALTH_CHECKS) sends `SELECT 1` before the first query of every
request that reuses a connection, so that a connection the server has dropped (a restart, a
failover, `pg_terminate_backend`, an idle timeout) is replaced instead of failing the
request. On a portal whose signed-in pages need one or two short queries, that probe is a
third of their database time.

A server that drops a connection tells the client: it sends a FATAL error and closes the
socket. Between requests the connection is idle and the server has nothing else to say, so
the socket turning readable is the signal. This backend checks that without waiting (a poll
with no timeout) and also refuses a connection the driver already knows is broken or left
inside a failed transaction. A connection that is silently cut (no packet ever arrives) is caught
by neither check in time: `SELECT 1` would hang just as the first query does.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper

# libpq's values, the same in psycopg2 and psycopg 3: a healthy connection, and the
# transaction states in which `SELECT 1` would succeed (idle, or inside a transaction).
_CONNECTION_OK = 0
_TRANSACTION_USABLE = frozenset({0, 2})


class DatabaseWrapper(PostgresDatabaseWrapper):
    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed:
            return False
        info = connection.info
        if info.status != _CONNECTION_OK or info.transaction_status not in _TRANSACTION_USABLE:
            return False
        try:
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False
