"""The PostgreSQL health check that needs no round trip (kdcis/db/postgresql/base.py): a
connection the server dropped between requests is replaced before the next request uses
it, and a healthy one is trusted without sending `SELECT 1`."""

from __future__ import annotations

import time

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


def test_health_checks_are_on_with_this_backend():
    assert connection.settings_dict["ENGINE"] == "kdcis.db.postgresql"
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
            cursor.execute("SELECT pg_terminate_backend(%s)", [dropped])
        for _ in range(100):  # termination is asynchronous: wait until the server closed it
            with other.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [dropped])
                if cursor.fetchone() is None:
                    break
            time.sleep(0.02)
        response = client.get("/me/")
        assert response.status_code == 200 and "로그아웃" in response.content.decode()
        assert _backend_pid() != dropped
    finally:
        other.close()


def test_a_healthy_connection_is_trusted_without_a_query():
    marker = "SELECT 'kdcis-health-marker'"
    with connection.cursor() as cursor:
        cursor.execute(marker)
        pid = connection.connection.get_backend_pid()
    other = _other_connection()
    try:
        assert connection.is_usable()
        _between_requests()
        with connection.cursor():  # the first use after a request runs the health check
            pass
        assert connection.connection.get_backend_pid() == pid  # kept, not reconnected
        with other.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
            assert cursor.fetchone() == (marker,)  # no `SELECT 1` reached the server
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
