import json
import time

import pytest

pytestmark = pytest.mark.django_db


def test_one_line_per_request_without_personal_data(client, personas, caplog):
    caplog.set_level("INFO", logger="kdcis.requests")
    client.force_login(personas.hana)
    client.get("/helpdesk/", {"q": "01011112222"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kdcis.requests"]
    assert lines[-1]["path"] == "/helpdesk/" and lines[-1]["status"] == 200
    assert lines[-1]["user"] == str(personas.hana.ref)
    assert isinstance(lines[-1]["ms"], float)
    assert "01011112222" not in caplog.text
    assert "hana01" not in caplog.text


def test_staff_sessions_end_after_thirty_idle_minutes(client, personas, settings):
    client.force_login(personas.oscar)
    assert client.get("/approvals/").status_code == 200
    session = client.session
    session["last_seen"] = int(time.time()) - settings.SESSION_STAFF_IDLE_SECONDS - 5
    session.save()
    response = client.get("/approvals/")
    assert response.status_code == 302 and response.url == "/login/"
    assert client.get("/approvals/").url.startswith("/login/")


def test_a_role_given_during_a_session_is_timed_out(client, test_pki, personas, settings):
    """Regression (issue 16, item 9): "staff?" was decided once per session and kept, so an
    applicant made officer while signed in was never timed out."""
    from institutions.models import ApprovingBody
    from permissions.services import officer_assign
    from tests.accounts.helpers import bind, post_certificate

    issued = test_pki.issue("박밥()3001")
    bind(personas.bob, issued)
    assert post_certificate(client, "/login/", issued).status_code == 302  # a real login
    assert client.get("/").status_code == 200  # an applicant: no idle clock
    assert "last_seen" not in client.session
    officer_assign(user=personas.bob, body=ApprovingBody.objects.get(code="HC-11680-1"))
    assert client.get("/").status_code == 200  # now staff: the clock starts
    session = client.session
    assert "last_seen" in session
    session["last_seen"] = int(time.time()) - settings.SESSION_STAFF_IDLE_SECONDS - 5
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and response.url == "/login/"
    assert "_auth_user_id" not in client.session


def test_applicant_sessions_are_not_cut_at_thirty_minutes(client, personas, settings):
    client.force_login(personas.alice)
    session = client.session
    session["last_seen"] = int(time.time()) - settings.SESSION_STAFF_IDLE_SECONDS - 5
    session.save()
    assert "가입 신청 처리 현황" in client.get("/").content.decode()


def test_the_session_key_changes_at_login(client, test_pki, personas):
    from tests.accounts.helpers import bind, post_certificate

    client.get("/login/")
    before = client.session.session_key
    issued = test_pki.issue("김앨리()424242")
    bind(personas.alice, issued)
    post_certificate(client, "/login/", issued)
    assert client.session.session_key != before
    assert client.session["_auth_user_id"] == str(personas.alice.pk)
