"""The request's user (kdcis/auth.py): Django's ModelBackend loading the user with what the
layout shows in one query, and the login record a withdrawal uses (accounts.UserSession)."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User, UserSession
from kdcis.auth import PortalBackend

pytestmark = pytest.mark.django_db


def test_an_officer_comes_with_institution_body_and_region_in_one_query(personas):
    with CaptureQueriesContext(connection) as captured:
        user = PortalBackend().get_user(personas.oscar.pk)
        shown = (user.institution, user.officer.body.name, user.officer.body.region.name,
                 str(user.officer.body))
    assert len(captured.captured_queries) == 1
    assert shown[0] is None and shown[3] == "서울특별시 종로구보건소"


def test_an_applicant_comes_with_the_institution_and_no_officer_role(personas):
    expected = personas.alice.institution.name
    with CaptureQueriesContext(connection) as captured:
        user = PortalBackend().get_user(personas.alice.pk)
        assert user.institution.name == expected
        assert not hasattr(user, "officer")
    assert len(captured.captured_queries) == 1


@pytest.mark.parametrize("user_id", ["abc", "", None, 10**30, -1])
def test_a_bad_or_unknown_user_id_in_a_session_is_nobody(reference_data, user_id):
    assert PortalBackend().get_user(user_id) is None


def test_an_inactive_user_is_nobody(personas):
    User.objects.filter(pk=personas.bob.pk).update(is_active=False)
    assert PortalBackend().get_user(personas.bob.pk) is None


def test_a_signed_in_request_reads_its_session_and_its_user_once_each(client, personas):
    client.force_login(personas.oscar)
    client.get("/me/")
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/me/")
    assert response.status_code == 200
    sqls = [q["sql"] for q in captured.captured_queries]
    assert sum('FROM "django_session"' in sql for sql in sqls) == 1
    assert sum('FROM "accounts_user"' in sql for sql in sqls) == 1
    assert not any('FROM "permissions_officer"' in sql for sql in sqls)  # came along
    assert response.wsgi_request.user.officer.body.name == "종로구보건소"


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_page_survives_a_new_database_connection(client, personas):
    client.force_login(personas.oscar)
    assert "김앨리" in client.get("/approvals/", {"status": "all"}).content.decode()
    connection.close()
    assert client.get("/me/").status_code == 200
    assert "김앨리" in client.get("/approvals/", {"status": "all"}).content.decode()


def test_each_login_records_its_session_until_logout(client, personas):
    client.force_login(personas.alice)
    first = client.session.session_key
    assert UserSession.objects.get(session_id=first).user_id == personas.alice.pk
    client.force_login(personas.bob)  # a new login on the same browser: a new session
    second = client.session.session_key
    assert second != first and not UserSession.objects.filter(session_id=first).exists()
    assert UserSession.objects.get(session_id=second).user_id == personas.bob.pk
    client.post("/logout/")
    assert not UserSession.objects.filter(user=personas.bob).exists()
    anonymous = SessionStore()
    anonymous["step"] = "consent"
    anonymous.create()
    assert not UserSession.objects.filter(session_id=anonymous.session_key).exists()


def test_expired_sessions_and_their_records_are_purged(client, personas):
    import datetime as dt
    import io

    from django.core.management import call_command
    from django.utils import timezone

    client.force_login(personas.alice)
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1))
    out = io.StringIO()
    call_command("purge_expired_records", stdout=out)
    assert "1 expired sessions" in out.getvalue()
    assert not UserSession.objects.filter(session_id=key).exists()


def test_a_session_whose_user_is_gone_is_anonymous(client, personas):
    client.force_login(personas.bob)
    store = SessionStore(client.session.session_key)
    store[SESSION_KEY] = str(10**12)  # nobody has this id
    store.save()
    response = client.get("/me/")
    assert response.status_code == 302 and "/login/" in response["Location"]
