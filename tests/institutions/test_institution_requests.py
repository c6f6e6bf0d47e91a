"""기관등록 신청: an applicant of an unlisted clinic asks from the signup's 사용자정보등록 step,
the health center of the address registers or rejects it, the helpdesk corrects it."""

from __future__ import annotations

import pytest
from django.test import Client

from institutions.models import ApprovingBody, Institution, InstitutionRequest
from institutions.services import (
    InstitutionError,
    institution_request_register,
    institution_request_reject,
)
from kdcis.models import AuditEvent, SmsMessage
from tests.accounts.helpers import complete_profile, walk_to_profile

pytestmark = pytest.mark.django_db

FORM = {"name": "새봄가정의학과의원", "business_number": "1168200276", "postcode": "03154",
        "sigungu_code": "11110", "dong": "청진동", "address": "서울특별시 종로구 종로 33, 2층",
        "phone": "0227001234", "mobile": "01077778888"}


def _type_pk():
    from institutions.models import InstitutionType

    return InstitutionType.objects.get(code="clinic").pk


def _submit(client, **changes):
    return client.post("/signup/institution-request/",
                       {**FORM, "type": _type_pk(), **changes})


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def applicant(client, personas, test_pki):
    walk_to_profile(client, test_pki)
    return client


def test_the_no_result_state_offers_the_request(applicant):
    applicant.post("/signup/profile/search/", {"query": "없는이름의원"})
    page = applicant.get("/signup/profile/").content.decode()
    assert "검색된 기관이 없습니다" in page and "/signup/institution-request/" in page


def test_the_guide_leads_into_the_request_during_signup_and_to_signup_otherwise(
        applicant, personas):
    assert "/signup/institution-request/" in applicant.get(
        "/institution-registration/").content.decode()
    assert "/signup/institution-request/" not in Client().get(
        "/institution-registration/").content.decode()


def test_a_request_goes_to_the_health_center_of_the_address(applicant):
    response = _submit(applicant)
    assert response.status_code == 302 and response.url == "/signup/profile/"
    req = InstitutionRequest.objects.get()
    assert req.body.name == "종로구보건소" and req.status == "requested"
    assert req.applicant_name == "이신규" and req.applicant_mobile == "01077778888"
    page = applicant.get("/signup/profile/").content.decode()
    assert f"기관등록 신청({req.reference})" in page and "종로구보건소에서 확인 중입니다" in page
    assert AuditEvent.objects.filter(action="institution_request.submitted").exists()


def test_a_city_with_several_centers_routes_by_the_dong(applicant):
    _submit(applicant, sigungu_code="41220", dong="송탄동", address="경기도 평택시 송탄로 1")
    assert InstitutionRequest.objects.get().body.name == "평택시 송탄보건소"


def test_a_bad_business_number_is_refused_on_the_same_page_keeping_every_value(applicant):
    response = _submit(applicant, business_number="1168200277")
    assert response.url == "/signup/institution-request/"
    page = applicant.get("/signup/institution-request/").content.decode()
    assert "올바른 사업자등록번호가 아닙니다" in page
    assert 'value="새봄가정의학과의원"' in page and 'value="1168200277"' in page
    assert not InstitutionRequest.objects.exists()
    # The profile step kept everything too.
    assert applicant.get("/signup/profile/").status_code == 200


def test_only_the_centers_officer_sees_and_decides_it(applicant, personas):
    _submit(applicant)
    req = InstitutionRequest.objects.get()
    assert Client().get("/approvals/institutions/").status_code == 302
    assert _login(personas.alice).get("/approvals/institutions/").status_code == 403
    own = _login(personas.oscar)
    assert req.name in own.get("/approvals/institutions/").content.decode()
    other = _login(personas.olga)
    assert req.name not in other.get("/approvals/institutions/").content.decode()
    assert other.get(f"/approvals/institutions/{req.pk}/").status_code == 404
    assert other.post(f"/approvals/institutions/{req.pk}/decide/",
                      {"decision": "register"}).status_code == 404
    with pytest.raises(InstitutionError):
        institution_request_register(request_id=req.pk, actor=personas.olga)


def test_registering_creates_the_institution_and_the_signup_continues_with_it(
        applicant, personas):
    _submit(applicant)
    req = InstitutionRequest.objects.get()
    response = _login(personas.oscar).post(f"/approvals/institutions/{req.pk}/decide/",
                                           {"decision": "register"})
    assert response.status_code == 302
    req.refresh_from_db()
    inst = req.institution
    assert (inst.name, inst.source, inst.jurisdiction.name) == (
        "새봄가정의학과의원", "registration", "종로구보건소")
    assert AuditEvent.objects.filter(action="institution.registered").exists()
    sms = SmsMessage.objects.filter(to="01077778888").last()
    assert "새봄가정의학과의원이 등록되었습니다" in sms.text
    page = applicant.get("/signup/profile/").content.decode()
    assert "등록되었습니다" in page and f'value="{inst.pk}"' in page
    # The applicant finishes the profile step with the new institution.
    done = complete_profile(applicant, institution_number=inst.number)
    assert done.url == "/signup/permissions/"
    # A second decision is refused.
    with pytest.raises(InstitutionError):
        institution_request_reject(request_id=req.pk, actor=personas.oscar, reason="중복")


def test_a_rejection_needs_a_reason_and_the_applicant_can_correct_and_ask_again(
        applicant, personas):
    _submit(applicant)
    req = InstitutionRequest.objects.get()
    officer = _login(personas.oscar)
    officer.post(f"/approvals/institutions/{req.pk}/decide/", {"decision": "reject"})
    req.refresh_from_db()
    assert req.status == "requested"
    officer.post(f"/approvals/institutions/{req.pk}/decide/",
                 {"decision": "reject", "reason": "사업자등록번호가 폐업 상태입니다"})
    req.refresh_from_db()
    assert req.status == "rejected"
    assert "반려" in SmsMessage.objects.filter(to="01077778888").last().text
    page = applicant.get("/signup/profile/").content.decode()
    assert "사업자등록번호가 폐업 상태입니다" in page and "고쳐서 다시 신청" in page
    form = applicant.get("/signup/institution-request/").content.decode()
    assert 'value="새봄가정의학과의원"' in form and "이전 신청" in form
    _submit(applicant, business_number="1348672683")
    assert InstitutionRequest.objects.filter(status="requested").count() == 1


def test_the_applicant_can_cancel_a_waiting_request(applicant):
    _submit(applicant)
    req = InstitutionRequest.objects.get()
    response = applicant.post("/signup/institution-request/cancel/", {"request": req.pk})
    assert response.url == "/signup/institution-request/"
    req.refresh_from_db()
    assert req.status == "cancelled"


def test_the_helpdesk_sees_every_request_and_corrects_one(applicant, personas):
    _submit(applicant)
    req = InstitutionRequest.objects.get()
    helpdesk = _login(personas.hana)
    assert req.name in helpdesk.get("/helpdesk/institution-requests/").content.decode()
    assert _login(personas.oscar).get("/helpdesk/institution-requests/").status_code == 403
    response = helpdesk.post(f"/helpdesk/institution-requests/{req.pk}/", {
        **FORM, "type": _type_pk(), "sigungu_code": "11680", "address": "서울특별시 강남구 1",
        "reason": "신청자 요청: 주소 오기"})
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.body.name == "강남구보건소"
    event = AuditEvent.objects.get(action="institution_request.corrected")
    assert event.reason == "신청자 요청: 주소 오기"


def test_a_closed_institution_cannot_be_chosen(applicant, personas):
    from django.utils import timezone

    inst = Institution.objects.get(number="11110102")
    Institution.objects.filter(pk=inst.pk).update(status="closed", closed_at=timezone.now())
    applicant.post("/signup/profile/search/", {"query": inst.name})
    page = applicant.get("/signup/profile/").content.decode()
    assert f'id="inst-{inst.pk}"' not in page and "검색된 기관이 없습니다" in page


def test_an_address_in_another_district_goes_to_that_districts_officer(applicant, personas):
    _submit(applicant, sigungu_code="11680", address="서울특별시 강남구 1")
    body = ApprovingBody.objects.get(code="HC-11680-1")
    assert InstitutionRequest.objects.get().body == body
    assert "새봄가정의학과의원" in _login(personas.olga).get(
        "/approvals/institutions/").content.decode()


HOSTILE = ["<script>alert(1)</script>", "\x00", "\u202e", "x" * 20000, "９９９", "2" * 40,
           "'; DROP TABLE x; --"]


def test_hostile_values_in_every_field_get_a_korean_message_never_a_500(applicant, personas):
    for field in (*FORM, "type"):
        for value in HOSTILE:
            response = _submit(applicant, **{field: value})
            assert response.status_code == 302, (field, value)
            page = applicant.get(response.url)
            assert page.status_code == 200
            body = page.content.decode()
            assert "<script>alert(1)</script>" not in body
            if response.url == "/signup/institution-request/":
                assert "입력한 내용을 확인하세요." in body or "사업자등록번호" in body
    # Markup may be a name as typed (the officer reviews it); it is only ever shown escaped.
    for req in InstitutionRequest.objects.all():
        applicant.post("/signup/institution-request/cancel/", {"request": req.pk})
    officer = _login(personas.oscar)
    _submit(applicant)
    req = InstitutionRequest.objects.get(status="requested")
    for value in HOSTILE:
        response = officer.post(f"/approvals/institutions/{req.pk}/decide/",
                                {"decision": "reject", "reason": value, "category": value})
        assert response.status_code == 302
        assert "<script>alert(1)</script>" not in officer.get(response.url).content.decode()
    helpdesk = _login(personas.hana)
    for value in HOSTILE:
        response = helpdesk.post(f"/helpdesk/institution-requests/{req.pk}/",
                                 {**FORM, "type": _type_pk(), "name": value, "reason": value})
        assert response.status_code in (200, 302)
        assert "<script>alert(1)</script>" not in response.content.decode()
