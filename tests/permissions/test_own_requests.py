"""Nobody decides their own request (issue 16, item 8): an officer who asked their own body,
in the officer pages (one request or many) and a national admin in the admin's actions."""

from html import unescape

import pytest

from institutions.models import ApprovingBody
from kdcis.models import AuditEvent
from permissions.models import Grant, PermissionType
from permissions.services import GrantError, grant_approve, grant_reject, grant_request
from tests.kdcis.test_admin import code_for, nadmin, nadmin_client  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

REFUSED = "본인이 신청한 권한은 직접 승인하거나 반려할 수 없습니다"


def own_request(user, body_code: str = "HC-11110-1") -> Grant:
    """A request the officer made before becoming an officer of that body (asking one's own
    body is refused when it is the officer's: tests/permissions/test_next_steps.py)."""
    from permissions.services import officer_assign, officer_unassign

    body = ApprovingBody.objects.get(code=body_code)
    officer_unassign(user=user)
    grant = grant_request(user=user, body=body,
                          permission_type=PermissionType.objects.get(code="vaccination_user"))
    officer_assign(user=user, body=body)
    user.refresh_from_db()
    return grant


def messages_of(response) -> str:
    return unescape(response.content.decode())


def test_the_service_refuses_a_decision_on_ones_own_request(personas):
    grant = own_request(personas.oscar)
    officer = personas.oscar.officer
    for decide in (lambda: grant_approve(grant_id=grant.pk, officer=officer),
                   lambda: grant_reject(grant_id=grant.pk, officer=officer, reason="x")):
        with pytest.raises(GrantError) as info:
            decide()
        assert info.value.code == "own_request" and REFUSED in str(info.value.message)
    grant.refresh_from_db()
    assert grant.status == Grant.Status.REQUESTED
    assert not AuditEvent.objects.filter(action__in=["grant.approved", "grant.rejected"],
                                         target_id=str(grant.pk)).exists()


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_an_officer_cannot_decide_their_own_request_in_the_queue(client, personas, action):
    grant = own_request(personas.oscar)
    client.force_login(personas.oscar)
    response = client.post("/approvals/decide/", {"grant": grant.pk, "action": action,
                                                  "reason": "사유"}, follow=True)
    assert REFUSED in messages_of(response)
    grant.refresh_from_db()
    assert grant.status == Grant.Status.REQUESTED


def test_a_bulk_decision_skips_the_officers_own_request_only(client, personas):
    mine = own_request(personas.oscar)
    alices = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    client.force_login(personas.oscar)
    response = client.post("/approvals/decide/", {"grant": [alices.pk, mine.pk],
                                                  "action": "approve"}, follow=True)
    page = messages_of(response)
    assert f"신청 #{mine.pk}: {REFUSED}" in page
    alices.refresh_from_db()
    mine.refresh_from_db()
    assert alices.status == Grant.Status.APPROVED
    assert mine.status == Grant.Status.REQUESTED


@pytest.mark.parametrize("action", ["approve_selected", "reject_selected"])
def test_a_national_admin_cannot_decide_their_own_request_in_the_admin(
        nadmin_client, nadmin, personas, action):  # noqa: F811
    mine = own_request(nadmin)
    alices = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    data = {"action": action, "_selected_action": [mine.pk, alices.pk]}
    if action == "reject_selected":
        data.update(post="yes", reason="중복 신청")
    else:
        data["index"] = 0
    response = nadmin_client.post("/admin/permissions/grant/", data, follow=True)
    assert REFUSED in messages_of(response)
    mine.refresh_from_db()
    alices.refresh_from_db()
    assert mine.status == Grant.Status.REQUESTED
    assert alices.status != Grant.Status.REQUESTED  # the other request was decided
