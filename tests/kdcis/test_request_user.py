"""The per-request session and user reads (kdcis/sessions.py, kdcis/auth.py): one statement
each, prepared on PostgreSQL, giving the same objects the ORM would."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from kdcis.auth import PortalBackend, load_portal_user
from kdcis.models import PortalSession as Session
from kdcis.sessions import SessionStore
from permissions.models import Grant
from permissions.selectors import approved_areas

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_an_officer_comes_with_institution_body_region_and_areas_in_one_query(personas):
    oscar = User.objects.get(pk=personas.oscar.pk)
    load_portal_user(personas.alice.pk)  # on PostgreSQL, the connection prepares it once
    with CaptureQueriesContext(connection) as captured:
        user = load_portal_user(oscar.pk)
        officer = user.officer
        shown = (user.institution, officer.body.name, officer.body.region.name,
                 str(officer.body), approved_areas(user))
    assert len(captured.captured_queries) == 1
    assert _fields(user) == _fields(oscar)
    assert _fields(officer) == _fields(oscar.officer)
    assert _fields(officer.body) == _fields(oscar.officer.body)
    assert _fields(officer.body.region) == _fields(oscar.officer.body.region)
    assert officer.user is user
    assert shown[0] is None and shown[3] == "서울특별시 종로구보건소" and shown[4] == set()


def test_an_applicant_comes_with_the_institution_and_no_officer_role(personas):
    alice = User.objects.get(pk=personas.alice.pk)
    user = load_portal_user(alice.pk)
    assert _fields(user.institution) == _fields(alice.institution)
    assert user.ref == alice.ref and isinstance(user.date_joined, dt.datetime)
    with pytest.raises(User.officer.RelatedObjectDoesNotExist):
        user.officer  # noqa: B018
    assert approved_areas(user) == set()


def test_the_menu_areas_follow_the_grants(personas):
    from permissions.services import grant_approve

    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
    assert approved_areas(load_portal_user(personas.alice.pk)) == {"vaccination"}
    Grant.objects.filter(pk=grant.pk).update(status=Grant.Status.REVOKED)
    assert approved_areas(load_portal_user(personas.alice.pk)) == set()


@pytest.mark.parametrize("user_id", ["abc", "", None, 10**30, -1])
def test_a_bad_or_unknown_user_id_in_a_session_is_nobody(reference_data, user_id):
    assert PortalBackend().get_user(user_id) is None


def test_an_inactive_user_is_nobody(personas):
    User.objects.filter(pk=personas.bob.pk).update(is_active=False)
    assert PortalBackend().get_user(personas.bob.pk) is None


def test_the_session_store_reads_live_sessions_and_ignores_expired_or_unknown_keys(db):
    store = SessionStore()
    store["answer"] = 42
    store.create()
    assert SessionStore(store.session_key).load() == {"answer": 42}

    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1))
    expired = SessionStore(store.session_key)
    assert expired.load() == {} and expired.session_key is None
    assert SessionStore("x" * 32).load() == {}
    assert SessionStore("short").load() == {}


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_page_survives_a_new_database_connection(client, personas):
    client.force_login(personas.oscar)
    assert "김앨리" in client.get("/approvals/", {"status": "all"}).content.decode()
    connection.close()  # a new connection must prepare its statements again
    assert client.get("/me/").status_code == 200
    assert "김앨리" in client.get("/approvals/", {"status": "all"}).content.decode()


def test_without_prepared_statements_the_same_statements_run_directly(client, personas,
                                                                      settings):
    settings.DB_PREPARED_STATEMENTS = False
    client.force_login(personas.oscar)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/me/").status_code == 200
    assert not any("EXECUTE" in q["sql"] for q in captured.captured_queries)


@pytest.mark.postgres
def test_on_postgresql_the_lookup_is_prepared_once_per_connection(client, personas):
    client.force_login(personas.oscar)
    client.get("/me/")
    with CaptureQueriesContext(connection) as captured:
        client.get("/me/")
        client.get("/me/")
    sqls = [q["sql"] for q in captured.captured_queries]
    assert not any(sql.startswith("PREPARE") for sql in sqls)
    assert sum(sql.startswith("EXECUTE kdcis_session_read") for sql in sqls) == 2
    assert not any(sql.startswith("EXECUTE kdcis_portal_user") for sql in sqls)


def _session_reads(captured) -> list[str]:
    table = Session._meta.db_table
    return [q["sql"] for q in captured.captured_queries
            if table in q["sql"] or "kdcis_session" in q["sql"]]


def _user_reads(captured) -> list[str]:
    """Reads of the user apart from the session's statement (by id, prepared or not)."""
    return [q["sql"] for q in captured.captured_queries if "kdcis_portal_user" in q["sql"]
            or ('FROM "accounts_user"' in q["sql"] and Session._meta.db_table not in q["sql"])]


@pytest.mark.parametrize("prepared", [True, False])
def test_a_signed_in_request_reads_its_session_and_user_in_one_statement(
        client, personas, settings, prepared):
    settings.DB_PREPARED_STATEMENTS = prepared
    client.force_login(personas.oscar)
    client.get("/me/")
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/approvals/", {"status": "all"})
    assert response.status_code == 200 and "김앨리" in response.content.decode()
    assert len(_session_reads(captured)) == 1
    assert _user_reads(captured) == []
    assert response.wsgi_request.user.pk == personas.oscar.pk
    assert response.wsgi_request.user.officer.body.name == "종로구보건소"


def test_the_session_row_names_its_user_from_login_to_logout(client, personas):
    client.force_login(personas.alice)
    key = client.session.session_key
    assert Session.objects.get(session_key=key).user_id == personas.alice.pk
    client.force_login(personas.bob)  # a new login on the same browser
    assert Session.objects.get(session_key=client.session.session_key).user_id == \
        personas.bob.pk
    client.post("/logout/")
    assert not Session.objects.filter(user_id=personas.bob.pk).exists()
    anonymous = SessionStore()
    anonymous["step"] = "consent"
    anonymous.create()
    assert Session.objects.get(session_key=anonymous.session_key).user_id is None


def test_the_session_data_decides_who_is_signed_in_not_the_column(client, personas):
    """A row whose column disagrees with its signed data (written by hand, or before the
    column existed) is read the slow way, by the id in the data."""
    client.force_login(personas.alice)
    key = client.session.session_key
    for column in (None, personas.bob.pk, 10**12):
        Session.objects.filter(session_key=key).update(user_id=column)
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/me/")
        assert response.status_code == 200
        assert response.wsgi_request.user.pk == personas.alice.pk
        assert len(_user_reads(captured)) == 1


def test_a_session_whose_user_is_gone_is_anonymous(client, personas):
    client.force_login(personas.bob)
    store = SessionStore(client.session.session_key)
    store[SESSION_KEY] = str(10**12)  # nobody has this id
    store.save()
    assert Session.objects.get(session_key=store.session_key).user_id == 10**12
    response = client.get("/me/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_deleting_a_user_deletes_their_sessions(client, personas):
    client.force_login(personas.bob)
    assert Session.objects.filter(user_id=personas.bob.pk).exists()
    personas.bob.delete()
    assert not Session.objects.filter(user_id=personas.bob.pk).exists()
