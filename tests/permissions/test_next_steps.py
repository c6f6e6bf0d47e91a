"""Every state a person can be in has a next step on their home screen (no dead ends)."""

from __future__ import annotations

from html import unescape

import pytest

from institutions.models import ApprovingBody
from kdcis.models import AuditEvent
from permissions.models import Grant
from permissions.services import GrantError, grant_change_body, grant_reject, grant_request

pytestmark = pytest.mark.django_db


def page(client, url: str) -> str:
    response = client.get(url, follow=True)
    assert response.status_code == 200, (url, response.status_code)
    return unescape(response.content.decode())


def _vaccination(user) -> Grant:
    return Grant.objects.get(user=user, permission_type__code="vaccination_user",
                             status=Grant.Status.REQUESTED)


def _reject_everything(personas, reason="기관 정보가 확인되지 않습니다"):
    alice = personas.alice
    grant_reject(grant_id=_vaccination(alice).pk, officer=personas.oscar.officer, reason=reason)
    education = Grant.objects.get(user=alice, permission_type__code="education_learner")
    grant_reject(grant_id=education.pk, officer=personas.carl.officer, reason=reason)


class TestApplicantStates:
    def test_a_waiting_applicant_can_cancel_or_move_each_request(self, client, personas):
        client.force_login(personas.alice)
        home = page(client, "/")
        assert "승인을 기다리고 있습니다" in home
        assert "승인기관 변경" in home and "신청취소" in home
        assert "다시 신청" not in home

    def test_a_rejected_applicant_sees_the_reason_and_can_ask_again(self, client, personas):
        _reject_everything(personas)
        client.force_login(personas.alice)
        home = page(client, "/")
        assert "승인을 기다리고 있습니다" not in home
        assert "반려 사유: 기관 정보가 확인되지 않습니다" in home
        assert home.count("다시 신청") >= 2
        jongno = ApprovingBody.objects.get(code="HC-11110-1")
        # pre-selected: the same body; any other may be chosen
        assert f'<option value="{jongno.pk}" selected' in home
        other = ApprovingBody.objects.get(code="HC-11680-1")
        response = client.post("/permissions/request/", {
            "permission": "vaccination_user", "body_vaccination_user": str(other.pk),
            "next": "/"}, follow=True)
        again = unescape(response.content.decode())
        assert "권한을 신청했습니다" in again and "승인을 기다리고 있습니다" in again
        assert _vaccination(personas.alice).body == other

    def test_a_long_rejection_reason_is_shown_in_full(self, client, personas):
        reason = "가" * 500
        _reject_everything(personas, reason=reason)
        client.force_login(personas.alice)
        assert reason in page(client, "/")

    def test_moving_a_request_to_another_body_is_audited_and_shows_in_its_queue(
            self, client, personas):
        grant = _vaccination(personas.alice)
        gangnam = ApprovingBody.objects.get(code="HC-11680-1")
        client.force_login(personas.alice)
        response = client.post(f"/permissions/{grant.pk}/body/", {
            "body_vaccination_user": str(gangnam.pk), "next": "/"}, follow=True)
        assert "강남구보건소로 변경했습니다" in unescape(response.content.decode())
        grant.refresh_from_db()
        assert grant.body == gangnam
        event = AuditEvent.objects.get(action="grant.body_changed")
        assert (event.old, event.new) == ({"body": "HC-11110-1"}, {"body": "HC-11680-1"})
        client.force_login(personas.olga)
        assert "종로연세의원" in page(client, "/approvals/")

    def test_a_decided_request_cannot_be_moved(self, personas):
        grant = _vaccination(personas.alice)
        grant_reject(grant_id=grant.pk, officer=personas.oscar.officer, reason="x")
        with pytest.raises(GrantError) as exc:
            grant_change_body(grant_id=grant.pk, user=personas.alice,
                              body=ApprovingBody.objects.get(code="HC-11680-1"))
        assert exc.value.code == "already_decided"

    def test_someone_elses_request_cannot_be_moved(self, client, personas):
        grant = _vaccination(personas.alice)
        client.force_login(personas.bob)
        response = client.post(f"/permissions/{grant.pk}/body/", {
            "body_vaccination_user": str(grant.body_id)})
        assert response.status_code == 404


class TestStaffHomes:
    def test_an_officer_lands_on_the_queue_summary(self, client, personas):
        client.force_login(personas.oscar)
        home = page(client, "/")
        assert "종로구보건소 승인 대기 현황" in home
        assert "승인 대기" in home and "가장 오래된 신청" in home and "오늘" in home
        assert "승인된 권한이 없습니다" not in home
        assert 'href="/approvals/"' in home

    def test_a_helpdesk_agent_lands_on_the_search(self, client, personas):
        client.force_login(personas.hana)
        response = client.get("/")
        assert response.status_code == 302 and response.url == "/helpdesk/"

    def test_an_officer_may_not_ask_their_own_body(self, personas):
        from permissions.models import PermissionType

        with pytest.raises(GrantError) as exc:
            grant_request(user=personas.oscar,
                          permission_type=PermissionType.objects.get(code="vaccination_user"),
                          body=personas.oscar.officer.body)
        assert exc.value.code == "own_body"


class TestOffJurisdiction:
    def _ask_gangnam(self, personas) -> Grant:
        grant = _vaccination(personas.alice)
        return grant_change_body(grant_id=grant.pk, user=personas.alice,
                                 body=ApprovingBody.objects.get(code="HC-11680-1"))

    def test_the_officer_sees_a_mark_and_transfers_in_one_click(self, client, personas):
        from kdcis.models import SmsMessage

        grant = self._ask_gangnam(personas)
        client.force_login(personas.olga)
        assert "관할 외" in page(client, "/approvals/")
        detail = page(client, f"/approvals/{grant.pk}/")
        assert "기관 주소지 관할 보건소는 종로구보건소입니다" in detail
        assert "종로구보건소로 이관" in detail
        response = client.post(f"/approvals/{grant.pk}/transfer/", follow=True)
        assert "종로구보건소로 이관했습니다" in unescape(response.content.decode())
        grant.refresh_from_db()
        assert grant.body.code == "HC-11110-1" and grant.status == "requested"
        event = AuditEvent.objects.get(action="grant.transferred")
        assert (event.old, event.new) == ({"body": "HC-11680-1"}, {"body": "HC-11110-1"})
        assert event.actor == personas.olga
        sms = SmsMessage.objects.filter(to=personas.alice.mobile).last()
        assert "종로구보건소로 이관되었습니다" in sms.text

    def test_a_request_at_home_has_no_mark_and_cannot_be_transferred(self, client, personas):
        grant = _vaccination(personas.alice)
        client.force_login(personas.oscar)
        assert "관할 외" not in page(client, "/approvals/")
        response = client.post(f"/approvals/{grant.pk}/transfer/", follow=True)
        assert "이관할 곳이 없습니다" in unescape(response.content.decode())
        grant.refresh_from_db()
        assert grant.body.code == "HC-11110-1"

    def test_another_bodys_officer_cannot_transfer(self, client, personas):
        grant = self._ask_gangnam(personas)
        client.force_login(personas.oscar)
        assert client.post(f"/approvals/{grant.pk}/transfer/").status_code == 404

    def test_signup_asks_before_sending_a_request_off_jurisdiction(self, client, test_pki,
                                                                   reference_data):
        from accounts.models import User
        from tests.accounts.helpers import complete_profile, walk_to_profile

        walk_to_profile(client, test_pki, cn="이관할()0010041200805281000091")
        complete_profile(client, username="faraway01")
        gangnam = ApprovingBody.objects.get(code="HC-11680-1")
        posted = {"perm_vaccination_user": "on", "body_vaccination_user": str(gangnam.pk)}
        step = page(client, "/signup/permissions/")
        assert "기관 주소지 관할 보건소는 종로구보건소입니다." in step
        refused = unescape(client.post("/signup/permissions/", posted, follow=True)
                           .content.decode())
        assert "기관 주소지 관할 보건소는 종로구보건소입니다. 그대로 신청하려면" in refused
        assert 'name="off_jurisdiction_ok"' in refused
        assert not User.objects.filter(username="faraway01").exists()
        client.post("/signup/permissions/", {**posted, "off_jurisdiction_ok": "on"})
        user = User.objects.get(username="faraway01")
        assert user.grants.get().body == gangnam


def test_ticked_requests_stay_ticked_when_a_reason_is_missing(client, personas):
    grant = _vaccination(personas.alice)
    client.force_login(personas.oscar)
    response = client.post("/approvals/decide/", {"grant": [grant.pk], "action": "reject",
                                                  "reason": "", "back": "/approvals/"},
                           follow=True)
    body = unescape(response.content.decode())
    assert "반려 사유를 입력하세요" in body
    assert f'value="{grant.pk}" id="g-{grant.pk}" aria-labelledby="n-{grant.pk}" checked' in body
    assert "checked" not in page(client, "/approvals/").split('name="grant"')[1][:120]


def test_a_pharmacy_user_is_not_shown_the_medical_institution_form(client, personas):
    from institutions.models import Institution
    from permissions.services import grant_approve

    alice = personas.alice
    grant_approve(grant_id=_vaccination(alice).pk, officer=personas.oscar.officer)
    client.force_login(alice)
    form_link = 'href="/vaccination/institution-info/"'
    assert form_link in page(client, "/vaccination/")
    pharmacy = Institution.objects.get(number="11680901")
    alice.institution = pharmacy
    alice.save(update_fields=["institution"])
    assert form_link not in page(client, "/vaccination/")
