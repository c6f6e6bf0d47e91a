"""The approval queue's keyset pages: forward and back through the whole queue, every request
once, in (requested_at, id) order, whatever the cursor in the URL says."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from accounts.models import User
from permissions.models import Grant, PermissionType
from permissions.selectors import approval_queue_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def long_queue(personas):
    """45 more pending requests at oscar's body, some sharing one request time."""
    body = personas.oscar.officer.body
    ptype = PermissionType.objects.get(code="vaccination_user")
    users = User.objects.bulk_create([
        User(username=f"page{i}", name=f"페이지{i}", institution=personas.alice.institution,
             status=User.Status.PENDING, password="!") for i in range(45)])
    same = timezone.now() - timezone.timedelta(days=3)
    Grant.objects.bulk_create([
        Grant(user=user, permission_type=ptype, body=body, status=Grant.Status.REQUESTED,
              requested_at=same if i % 3 == 0 else same + timezone.timedelta(seconds=i))
        for i, user in enumerate(users)])
    return list(Grant.objects.filter(body=body, status="requested")
                .order_by("requested_at", "id").values_list("pk", flat=True))


def test_next_and_previous_pages_cover_the_queue_once_in_order(personas, long_queue):
    officer = personas.oscar.officer
    pages = [approval_queue_page(officer)]
    while pages[-1].next_cursor:
        pages.append(approval_queue_page(officer, after=pages[-1].next_cursor))
    assert [len(p.grants) for p in pages] == [20, 20, 6]
    assert [g["pk"] for p in pages for g in p.grants] == long_queue
    assert pages[0].previous_cursor is None and pages[0].count == 46
    back = [pages[-1]]
    while back[-1].previous_cursor:
        back.append(approval_queue_page(officer, before=back[-1].previous_cursor))
    assert [g["pk"] for p in reversed(back) for g in p.grants] == long_queue


@pytest.mark.parametrize("cursor", ["", "abc", "1.2.3", "9" * 17 + ".1", "5." + "9" * 18,
                                    "-5.3", "１.２"])
def test_a_strange_cursor_gives_a_page_not_an_error(client, personas, long_queue, cursor):
    client.force_login(personas.oscar)
    for name in ("after", "before"):
        response = client.get("/approvals/", {name: cursor})
        assert response.status_code == 200


def test_the_pager_links_lead_through_the_queue(client, personas, long_queue):
    client.force_login(personas.oscar)
    page = client.get("/approvals/", {"status": "requested"}).content.decode()
    following = re.search(r'href="\?([^"]*after=[^"]+)"', page).group(1).replace("&amp;", "&")
    second = client.get(f"/approvals/?{following}").content.decode()
    assert "status=requested" in following
    assert "처음" in second and "before=" in second
    shown = [int(pk) for pk in re.findall(r'name="grant" value="(\d+)"', second)]
    assert shown == long_queue[20:40]
