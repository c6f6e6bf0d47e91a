"""Recent session reads (kdcis/sessions.py): a reload may reuse the session and user row
read for the same browser a moment ago; anything the browser itself did is seen at once,
every POST reads the database, and what others change shows within the window."""

from __future__ import annotations

import time
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kdcis.models import PortalSession
from kdcis.sessions import RecentReads, recent_reads
from permissions.models import Grant
from permissions.services import grant_approve, officer_unassign
from tests.accounts.helpers import bind, post_certificate

pytestmark = pytest.mark.django_db

TAG = "sessionread"


@pytest.fixture(autouse=True)
def _window(settings):
    settings.SESSION_READ_CACHE_SECONDS = 30  # long enough that only the rules expire rows
    recent_reads.clear()
    yield
    recent_reads.clear()


@pytest.fixture(autouse=True)
def _supplementary_done(personas, complete_supplementary_info):
    complete_supplementary_info(personas.alice.institution)


def session_reads(captured) -> int:
    """Reads of the session row (saves, which some pages make, are not counted)."""
    return sum("kdcis_session_read" in q["sql"] or (
        q["sql"].lstrip().upper().startswith("SELECT")
        and PortalSession._meta.db_table in q["sql"]) for q in captured.captured_queries)


def settle(client, path):
    """The first pages after a login note things in the session (the staff check, the last
    request's time), which hands out a new tag; after them the tag stays."""
    for _ in range(2):
        client.get(path)


def get(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    return response, session_reads(captured)


def approve_alice(personas):
    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
    return grant


def test_a_reload_reuses_the_row_read_a_moment_ago(client, personas):
    approve_alice(personas)
    client.force_login(personas.alice)
    first, reads = get(client, "/")
    assert reads == 1 and TAG in first.cookies
    settle(client, "/")
    again, reads = get(client, "/")
    assert reads == 0 and again.wsgi_request.session.read_from_memory
    assert again.wsgi_request.user.pk == personas.alice.pk
    assert "예방접종관리" in unescape(again.content.decode())
    assert TAG not in again.cookies  # the tag stays while nothing changes


def test_a_post_reads_the_database_and_hands_out_a_new_tag(client, personas):
    client.force_login(personas.oscar)
    settle(client, "/approvals/")
    assert get(client, "/approvals/")[1] == 0
    tag = client.cookies[TAG].value
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/approvals/decide/", {"action": "approve"})
    assert response.status_code == 302 and session_reads(captured) >= 1
    assert client.cookies[TAG].value != tag
    _page, reads = get(client, "/approvals/")
    assert reads == 1  # the next page reads again


def test_what_the_browser_itself_changed_is_seen_at_once(client, personas):
    """An officer's own decision: the applicant disappears from the pending queue on the
    very next page, although that page was remembered a moment before."""
    client.force_login(personas.oscar)
    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    settle(client, "/approvals/")
    before, reads = get(client, "/approvals/")
    assert reads == 0 and f'name="grant" value="{grant.pk}"' in before.content.decode()
    client.post("/approvals/decide/", {"action": "approve", "grant": [grant.pk]})
    after, reads = get(client, "/approvals/")
    assert reads == 1 and f'name="grant" value="{grant.pk}"' not in after.content.decode()


def test_what_others_change_shows_once_the_window_has_passed(client, personas, settings):
    settings.SESSION_READ_CACHE_SECONDS = 0.5
    grant = approve_alice(personas)
    client.force_login(personas.alice)
    assert client.get("/vaccination/").status_code == 200
    Grant.objects.filter(pk=grant.pk).update(status=Grant.Status.REVOKED)  # as the job would
    time.sleep(0.6)
    response, reads = get(client, "/vaccination/")
    assert reads == 1 and response.status_code == 403


def test_a_post_is_authorised_on_current_data_even_inside_the_window(client, personas):
    """A revoked officer role stops decisions at once, although their pages may lag."""
    client.force_login(personas.oscar)
    settle(client, "/approvals/")
    assert get(client, "/approvals/")[1] == 0
    officer_unassign(user=personas.oscar)
    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    response = client.post("/approvals/decide/", {"action": "approve", "grant": [grant.pk]})
    assert response.status_code in (302, 403, 404)
    grant.refresh_from_db()
    assert grant.status == Grant.Status.REQUESTED


def test_a_session_that_expires_inside_the_window_is_not_used(client, personas):
    client.force_login(personas.alice)
    session = client.session
    session.set_expiry(1)
    session.save()
    assert get(client, "/me/")[0].status_code == 200
    time.sleep(1.1)
    response, _reads = get(client, "/me/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_logging_out_drops_the_tag(client, personas):
    client.force_login(personas.alice)
    get(client, "/me/")
    response = client.post("/logout/")
    assert response.cookies[TAG].value == ""  # deleted
    assert client.get("/me/").status_code == 302


def test_a_forged_tag_is_only_a_miss(client, personas):
    client.force_login(personas.alice)
    get(client, "/me/")
    for forged in ("x" * 16, "../../etc/passwd", "", "%EA%B0%80" * 2, "a" * 5000):
        client.cookies[TAG] = forged
        response, reads = get(client, "/me/")
        assert response.status_code == 200 and reads == 1
        assert response.wsgi_request.user.pk == personas.alice.pk


def test_no_tag_is_given_without_a_session(client, reference_data):
    response = client.get("/notices/")
    assert response.status_code == 200 and "sessionid" not in response.cookies
    assert TAG not in response.cookies


def test_with_the_window_at_zero_every_request_reads(client, personas, settings):
    settings.SESSION_READ_CACHE_SECONDS = 0
    client.force_login(personas.alice)
    for _ in range(3):
        response, reads = get(client, "/me/")
        assert reads == 1 and TAG not in response.cookies
    assert len(recent_reads) == 0


def test_a_withdrawal_forgets_the_persons_rows_on_this_process(client, personas, test_pki):
    approve_alice(personas)
    issued = test_pki.issue("김앨리()0010041200805281999999")
    bind(personas.alice, issued)
    other_device = Client()
    other_device.force_login(personas.alice)
    settle(other_device, "/me/")
    assert get(other_device, "/me/")[1] == 0  # remembered
    client.force_login(personas.alice)
    post_certificate(client, "/me/withdraw/", issued)
    response = other_device.get("/me/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not any("김앨리" in repr(entry) for entry in recent_reads._rows.values())


def test_expired_rows_are_swept_and_the_size_is_bounded():
    reads = RecentReads()
    reads.put("a" * 32, "t" * 16, ("data", 1, None), 0.01)
    time.sleep(0.02)
    reads._next_sweep = 0  # the next write sweeps
    reads.put("b" * 32, "t" * 16, ("data", 2, None), 30)
    assert len(reads) == 1 and reads.get("a" * 32, "t" * 16) is None
    reads.MAX_ENTRIES = 10
    for n in range(25):
        reads.put(f"{n:032d}", "t" * 16, ("data", n, None), 30)
    assert len(reads) <= 10 and reads.get(f"{24:032d}", "t" * 16) is not None
