"""The busiest pages cost the same number of queries with 3 rows as with 300: the approval
queue (pending requests, first and a later page), 권한 부가정보 (the user's history and the
approving-body picker), the supplementary form (its health-center picker) and the helpdesk
search (matching users)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from institutions.models import ApprovingBody, Region
from permissions.models import Grant, PermissionType
from permissions.selectors import queue_cursor
from permissions.services import grant_approve, grant_reject

pytestmark = pytest.mark.django_db


def _queries(client, path: str) -> int:
    client.get(path)  # the first view may write the session (idle timeout, usage mark)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(captured.captured_queries)


def _pending_requests(body: ApprovingBody, institution, n: int, start: int) -> None:
    """`n` applicants named 김… of `institution`, each with a pending request at `body`."""
    ptype = PermissionType.objects.get(code="vaccination_user")
    users = User.objects.bulk_create([
        User(username=f"load{start + i}", name=f"김부하{start + i}", institution=institution,
             mobile=f"0105555{start + i:04d}", status=User.Status.PENDING, password="!")
        for i in range(n)])
    now = timezone.now()
    Grant.objects.bulk_create([
        Grant(user=user, permission_type=ptype, body=body, status=Grant.Status.REQUESTED,
              requested_at=now - timezone.timedelta(minutes=start + i))
        for i, user in enumerate(users)])


def _health_centers(n: int, start: int) -> None:
    region = Region.objects.get(code="11")
    ApprovingBody.objects.bulk_create([
        ApprovingBody(code=f"HC-T{start + i:05d}", name=f"시험{start + i}보건소", region=region,
                      sigungu=f"시험{start + i}구", kind=ApprovingBody.Kind.HEALTH_CENTER)
        for i in range(n)])


def _rejected_history(user, officer, n: int) -> None:
    """`n` rejected requests of `user` in 권한 부가정보's '반려' list."""
    ptype = PermissionType.objects.get(code="vaccination_user")
    Grant.objects.filter(user=user, permission_type=ptype, status="requested").delete()
    for _ in range(n):
        grant = Grant.objects.create(user=user, permission_type=ptype, body=officer.body,
                                     status=Grant.Status.REQUESTED,
                                     requested_at=timezone.now())
        grant_reject(grant_id=grant.pk, reason="서류 미비", officer=officer)


def _later_page(officer) -> str:
    grants = list(Grant.objects.filter(body=officer.body, status="requested")
                  .order_by("requested_at", "id")[:2])
    return f"/approvals/?after={queue_cursor(grants[0].requested_at, grants[0].pk)}"


def test_the_approval_queue_costs_the_same_with_3_or_300_pending_requests(client, personas):
    officer = personas.oscar.officer
    institution = personas.alice.institution
    client.force_login(personas.oscar)
    _pending_requests(officer.body, institution, 3, 0)
    few = [_queries(client, path) for path in
           ("/approvals/", "/approvals/?status=all", _later_page(officer))]
    _pending_requests(officer.body, institution, 297, 3)
    many = [_queries(client, path) for path in
            ("/approvals/", "/approvals/?status=all", _later_page(officer))]
    assert few == many
    assert max(many) <= 8, many  # session, user, menus, page, count, two filter lists
    page = client.get("/approvals/").content.decode()
    assert page.count('name="grant"') == 20 and "301건" in page
    assert "after=" in page  # a link to the next page


def test_the_queue_count_stops_at_its_cap(client, personas, settings):
    from permissions import selectors

    officer = personas.oscar.officer
    client.force_login(personas.oscar)
    _pending_requests(officer.body, personas.alice.institution, 30, 0)
    original = selectors.QUEUE_COUNT_CAP
    selectors.QUEUE_COUNT_CAP = 25
    try:
        page = client.get("/approvals/").content.decode()
    finally:
        selectors.QUEUE_COUNT_CAP = original
    assert "25건 이상" in page


def test_the_permissions_page_costs_the_same_with_3_or_300_rows(client, personas):
    alice = personas.alice
    officer = personas.oscar.officer
    education = Grant.objects.get(user=alice, permission_type__code="education_learner")
    grant_approve(grant_id=education.pk, officer=personas.carl.officer)  # opens the page
    client.force_login(alice)
    paths = ("/permissions/", "/permissions/?status=rejected",
             "/permissions/?status=requestable")
    _rejected_history(alice, officer, 3)
    _health_centers(3, 0)
    few = [_queries(client, path) for path in paths]
    _rejected_history(alice, officer, 297)
    _health_centers(297, 3)
    many = [_queries(client, path) for path in paths]
    assert few == many
    assert max(many) <= 8, many
    page = client.get("/permissions/?status=requestable").content.decode()
    assert "시험299보건소" in page  # the picker lists every health center


def test_the_supplementary_form_costs_the_same_with_3_or_300_health_centers(
        client, personas, complete_supplementary_info):
    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
    complete_supplementary_info(personas.alice.institution)
    client.force_login(personas.alice)
    _health_centers(3, 0)
    few = _queries(client, "/vaccination/institution-info/")
    _health_centers(297, 3)
    many = _queries(client, "/vaccination/institution-info/")
    assert few == many <= 10, many
    page = client.get("/vaccination/institution-info/").content.decode()
    assert "시험299보건소" in page and ' selected data-search="' in page


def test_the_helpdesk_search_costs_the_same_with_3_or_300_matches(client, personas):
    client.force_login(personas.hana)
    body = personas.oscar.officer.body
    _pending_requests(body, personas.alice.institution, 3, 0)
    few = _queries(client, "/helpdesk/?q=김부하")
    _pending_requests(body, personas.alice.institution, 297, 3)
    many = _queries(client, "/helpdesk/?q=김부하")
    # Reads, plus the per-agent limit's counter and the search's audit rows (one statement
    # for every user shown).
    assert few == many <= 16, many
    assert client.get("/helpdesk/?q=김부하").content.decode().count("/helpdesk/users/") == 20
