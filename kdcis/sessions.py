"""Database sessions that bring their user along, and a short memory of recent reads.

The session row carries the signed-in user's id in a column (kdcis.models.PortalSession),
kept in step with the session's data on every save. A request then reads its session and
its user (with everything the portal's pages show of them, kdcis/auth.py) by one fixed
statement; on PostgreSQL it is prepared once per connection (kdcis/prepared.py). The user
found is handed to the auth backend for this request only (kdcis/auth.py,
`AuthenticationMiddleware`), which still verifies it against the session's hash as Django
does. Writing, deleting and expiry are Django's.

Recent reads. A browser that reloads a page pays that statement on every request. For
GET and HEAD only, a process may answer from the row it read for the same browser less than
`SESSION_READ_CACHE_SECONDS` ago (1 s by default; 0 turns it off), under two rules:

- Read your own writes. The browser holds a read tag (cookie `SESSION_READ_TAG_COOKIE`),
  and a remembered row is used only under the tag it was read for. Every response to a
  POST (or any unsafe method), and every response that saved, cycled or emptied the
  session, gives the browser a new tag; so after anything this browser did, on any
  process, its next page reads the database again.
- Everything that changes state reads the database. POSTs never use a remembered row, so
  every decision, request and form is authorised on current data. What another actor
  changed (an officer's approval, a withdrawal on another device, an admin's deactivation)
  reaches this browser's pages within `SESSION_READ_CACHE_SECONDS`.

Remembered rows are the raw database rows: each request builds its own session dict and
user objects from them. Expired rows are swept out, so a withdrawn person's row does not
stay in memory.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from functools import cache

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db import connections, router
from django.utils import timezone

from kdcis import prepared
from kdcis.ids import parse_id

SAFE_METHODS = frozenset({"GET", "HEAD"})
_TAG = re.compile(r"[A-Za-z0-9_-]{16}")


def new_read_tag() -> str:
    return secrets.token_urlsafe(12)  # 16 characters


class RecentReads:
    """Session rows read in the last few seconds, per session key, each with the read tag
    it was read under. One per process; thread-safe (reads are single dictionary lookups,
    every change holds the lock)."""

    MAX_ENTRIES = 5000

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, float, tuple]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def get(self, session_key: str, tag: str):
        entry = self._rows.get(session_key)
        if entry is None or entry[0] != tag or entry[1] <= time.monotonic():
            return None
        return entry[2]

    def put(self, session_key: str, tag: str, row: tuple, seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            if now >= self._next_sweep or len(self._rows) >= self.MAX_ENTRIES:
                self._sweep(now)
                self._next_sweep = now + max(seconds, 1.0)
            self._rows[session_key] = (tag, now + seconds, row)

    def discard(self, session_key: str | None) -> None:
        if session_key and session_key in self._rows:
            with self._lock:  # every change under the lock, so a sweep can iterate
                self._rows.pop(session_key, None)

    def discard_user(self, user_id: int) -> None:
        """Forget every remembered row of this user (their sessions were just ended)."""
        with self._lock:
            for key in [k for k, entry in self._rows.items() if entry[2][1] == user_id]:
                del self._rows[key]

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)

    def _sweep(self, now: float) -> None:
        for key in [k for k, entry in self._rows.items() if entry[1] <= now]:
            del self._rows[key]
        while len(self._rows) >= self.MAX_ENTRIES:  # all live: the oldest go first
            del self._rows[next(iter(self._rows))]


recent_reads = RecentReads()


class SessionStore(DatabaseSessionStore):
    #: (user id in the row, the user or None) once the row is read with its user.
    _row_user: tuple | None = None

    def __init__(self, session_key=None, read_tag: str | None = None):
        super().__init__(session_key)
        #: The browser's read tag, given by the middleware for GET and HEAD only.
        self.read_tag = read_tag
        self.read_from_memory = False

    @classmethod
    def get_model_class(cls):
        from kdcis.models import PortalSession

        return PortalSession

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        instance.user_id = parse_id(data.get(SESSION_KEY))
        return instance

    def save(self, must_create=False):
        recent_reads.discard(self.session_key)
        super().save(must_create=must_create)

    def delete(self, session_key=None):
        recent_reads.discard(session_key or self.session_key)
        super().delete(session_key)

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
        from kdcis.auth import convert, portal_user_from_row

        alias = router.db_for_read(self.model)
        connection = connections[alias]
        seconds = settings.SESSION_READ_CACHE_SECONDS
        tag = self.read_tag if seconds > 0 else None
        row = None if tag is None else recent_reads.get(self.session_key, tag)
        now = timezone.now()
        if row is not None and row[2] > now:
            self.read_from_memory = True
        else:
            sql, expiry = _statement(alias)
            with connection.cursor() as cursor:
                prepared.execute(connection, cursor, "kdcis_session_read", sql,
                                 [self.session_key,
                                  connection.ops.adapt_datetimefield_value(now)])
                row = cursor.fetchone()
            if row is None:
                return None
            row = (*row[:2], convert(row[2], *expiry, connection), *row[3:])
            if tag is not None:
                recent_reads.put(self.session_key, tag, row, seconds)
        self._row_user = (row[1], portal_user_from_row(row, 3, alias))
        return row[0]


@cache
def _statement(alias: str) -> tuple[str, tuple]:
    """The session-with-user statement and the expiry column's converters, built once."""
    from kdcis.auth import column_converters, portal_user_statement
    from kdcis.models import PortalSession

    connection = connections[alias]
    qn = connection.ops.quote_name
    user = portal_user_statement(alias)
    sql = (f"SELECT s.{qn('session_data')}, s.{qn('user_id')}, s.{qn('expire_date')}, "
           f"{user.select} FROM {qn(PortalSession._meta.db_table)} s "
           f"LEFT JOIN {user.table} u ON u.{user.pk} = s.{qn('user_id')} {user.joins} "
           f"WHERE s.{qn('session_key')} = %s AND s.{qn('expire_date')} > %s")
    expiry = column_converters(PortalSession._meta.get_field("expire_date"), "s", connection)
    return sql, expiry


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's, plus the read tag (see the module's docstring)."""

    def process_request(self, request):
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        tag = None
        if (session_key and request.method in SAFE_METHODS
                and settings.SESSION_READ_CACHE_SECONDS > 0):
            tag = request.COOKIES.get(settings.SESSION_READ_TAG_COOKIE, "")
            if not _TAG.fullmatch(tag):
                tag = new_read_tag()
                request._new_session_read_tag = tag
        request.session = self.SessionStore(session_key, read_tag=tag)

    def process_response(self, request, response):
        session = getattr(request, "session", None)
        key_before = getattr(session, "session_key", None)
        modified = getattr(session, "modified", False)
        response = super().process_response(request, response)
        if session is None or settings.SESSION_READ_CACHE_SECONDS <= 0:
            return response
        name = settings.SESSION_READ_TAG_COOKIE
        key_after = session.session_key
        if key_after is None or session.is_empty():
            if name in request.COOKIES:
                response.delete_cookie(name, path=settings.SESSION_COOKIE_PATH,
                                       domain=settings.SESSION_COOKIE_DOMAIN,
                                       samesite=settings.SESSION_COOKIE_SAMESITE)
            return response
        changed = (request.method not in SAFE_METHODS or modified
                   or key_after != key_before)
        if changed:
            recent_reads.discard(key_before)
            tag = new_read_tag()
        else:
            tag = getattr(request, "_new_session_read_tag", None)
            if tag is None or not session.accessed:
                return response
        response.set_cookie(name, tag, path=settings.SESSION_COOKIE_PATH,
                            domain=settings.SESSION_COOKIE_DOMAIN,
                            secure=settings.SESSION_COOKIE_SECURE,
                            httponly=True, samesite=settings.SESSION_COOKIE_SAMESITE)
        return response
