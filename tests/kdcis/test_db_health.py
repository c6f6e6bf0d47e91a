"""Django's PostgreSQL health check (CONN_HEALTH_CHECKS): a reused connection the server
dropped between requests is replaced before the next request uses it."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _other_connection():
    raw = connection.get_new_connection(connection.get_connection_params())
    raw.autocommit = True
    return raw


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _between_requests():
    """What Django does when a request ends (and again when the next one starts)."""
    connection.close_if_unusable_or_obsolete()


def test_health_checks_are_on_with_djangos_backend():
    assert connection.settings_dict["ENGINE"] == "django.db.backends.postgresql"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert connection.settings_dict["CONN_MAX_AGE"] > 0


def test_a_connection_the_server_dropped_is_replaced_before_the_next_request(client,
                                                                            personas):
    client.force_login(personas.oscar)
    assert client.get("/me/").status_code == 200
    dropped = _backend_pid()
    _between_requests()
    other = _other_connection()
    try:
        with other.cursor() as cursor:  # as a server restart or an admin would
            # With a timeout, the server returns once the backend has really exited.
            cursor.execute("SELECT pg_terminate_backend(%s, 10000)", [dropped])
            assert cursor.fetchone()[0] is True
        response = client.get("/me/")
        assert response.status_code == 200 and "로그아웃" in response.content.decode()
        assert _backend_pid() != dropped
    finally:
        other.close()


def test_a_failed_transaction_is_not_usable_and_an_open_one_is():
    raw = connection.ensure_connection() or connection.connection
    raw.autocommit = False
    try:
        with raw.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert connection.is_usable()  # inside a transaction, as `SELECT 1` would be
            with pytest.raises(Exception):  # noqa: B017, PT011
                cursor.execute("SELECT 1 / 0")
        assert not connection.is_usable()
    finally:
        raw.rollback()
        raw.autocommit = True
    assert connection.is_usable()
