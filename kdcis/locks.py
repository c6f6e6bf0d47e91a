"""Named locks held by the database until the current transaction ends.

`hold(name)` serialises every transaction that takes the same name: on PostgreSQL a
transaction-level advisory lock (`pg_advisory_xact_lock`), released at commit or rollback, so
app servers need nothing shared but the database. Use it where a rule is "count, then
insert" (the daily cap of codes per phone number): the second transaction counts only after
the first has committed its row. SQLite (development) runs one writer at a time anyway and
takes no lock here.

Take several names in one fixed order (the most specific last), or two transactions can
wait for each other.
"""

from __future__ import annotations

import hashlib

from django.db import transaction


def _key(name: str) -> int:
    """A signed 64-bit key for the name (PostgreSQL's bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def hold(name: str, *, using: str | None = None) -> None:
    """Wait for and hold the lock `name` until the current transaction ends."""
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        raise RuntimeError("locks.hold() needs a transaction (transaction.atomic())")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_key(name)])
