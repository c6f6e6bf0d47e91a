"""Database sessions that bring their user along.

The session row carries the signed-in user's id in a column (kdcis.models.PortalSession),
kept in step with the session's data on every save. A request then reads its session and
its user (with everything the portal's pages show of them, kdcis/auth.py) by one fixed
statement; on PostgreSQL it is prepared once per connection (kdcis/prepared.py). The user
found is handed to the auth backend for this request only (kdcis/auth.py,
`AuthenticationMiddleware`), which still verifies it against the session's hash as Django
does. Writing, deleting and expiry are Django's.
"""

from __future__ import annotations

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone

from kdcis import prepared
from kdcis.ids import parse_id


class SessionStore(DatabaseSessionStore):
    #: (user id in the row, the user or None) once the row is read with its user.
    _row_user: tuple | None = None

    @classmethod
    def get_model_class(cls):
        from kdcis.models import PortalSession

        return PortalSession

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        instance.user_id = parse_id(data.get(SESSION_KEY))
        return instance

    def load(self):
        data = self._load_data()
        if data is None:
            self._session_key = None
            return {}
        return self.decode(data)

    def user_read_with_session(self, user_id):
        """(True, user or None) when the session's row brought the user `user_id` along,
        else (False, None)."""
        row_user = self._row_user
        if row_user is None or row_user[0] is None or row_user[0] != parse_id(user_id):
            return False, None
        return True, row_user[1]

    def _load_data(self) -> str | None:
        self._row_user = None
        if not self._validate_session_key(self.session_key):
            return None
        from kdcis.auth import portal_user_from_row, portal_user_statement

        model = self.model
        alias = router.db_for_read(model)
        connection = connections[alias]
        qn = connection.ops.quote_name
        user = portal_user_statement(alias)
        sql = (f"SELECT s.{qn('session_data')}, s.{qn('user_id')}, {user.select} "
               f"FROM {qn(model._meta.db_table)} s "
               f"LEFT JOIN {user.table} u ON u.{user.pk} = s.{qn('user_id')} {user.joins} "
               f"WHERE s.{qn('session_key')} = %s AND s.{qn('expire_date')} > %s")
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            prepared.execute(connection, cursor, "kdcis_session_user", sql,
                             [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            return None
        self._row_user = (row[1], portal_user_from_row(row, 2, alias))
        return row[0]
