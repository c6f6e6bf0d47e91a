"""Statements that every signed-in request runs, prepared once per database connection.

PostgreSQL plans a statement each time it receives one; for the session and user lookups
that every signed-in request makes, planning the joins costs more than running them. On
PostgreSQL these run as named prepared statements (PREPARE on a connection's first use,
EXECUTE afterwards), so the server can reuse the plan. Elsewhere they run as they are.

Prepared statements live in the server session: behind a transaction-mode connection pooler
(PgBouncer `pool_mode = transaction`) set `DB_PREPARED_STATEMENTS=false`.
"""

from __future__ import annotations

import re
import weakref

from django.conf import settings

_PLACEHOLDER = re.compile(r"%s")


def execute(connection, cursor, name: str, sql: str, params: list) -> None:
    """Run `sql` (with `%s` placeholders and no other `%`) on `cursor`, through a prepared
    statement called `name` on PostgreSQL."""
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        cursor.execute(sql, params)
        return
    raw = connection.connection
    state = getattr(connection, "_kdcis_prepared", None)
    if state is None or state[0]() is not raw:
        state = (weakref.ref(raw), set())
        connection._kdcis_prepared = state
    if name not in state[1]:
        counter = iter(range(1, len(params) + 1))
        cursor.execute(f"PREPARE {name} AS " + _PLACEHOLDER.sub(
            lambda _m: f"${next(counter)}", sql))
        state[1].add(name)
    cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", params)
