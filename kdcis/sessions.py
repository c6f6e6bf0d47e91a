"""Database sessions, read with one fixed SQL statement.

Django's database backend reads the session through the ORM, whose query compilation costs
more than the query itself on every signed-in request. This store reads the same row with
the same conditions (the key, not expired) by a statement written once and, on PostgreSQL,
prepared once per connection (kdcis/prepared.py); writing, deleting and the table are
Django's.
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone

from kdcis import prepared


class SessionStore(DatabaseSessionStore):
    def load(self):
        data = self._load_data()
        if data is None:
            self._session_key = None
            return {}
        return self.decode(data)

    def _load_data(self) -> str | None:
        if not self._validate_session_key(self.session_key):
            return None
        model = self.model
        alias = router.db_for_read(model)
        connection = connections[alias]
        qn = connection.ops.quote_name
        sql = (f"SELECT {qn('session_data')} FROM {qn(model._meta.db_table)} "
               f"WHERE {qn('session_key')} = %s AND {qn('expire_date')} > %s")
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            prepared.execute(connection, cursor, "kdcis_session", sql, [self.session_key, now])
            row = cursor.fetchone()
        return None if row is None else row[0]
