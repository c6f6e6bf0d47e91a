"""An applicant whose clinic is not listed asks for it to be registered from the signup, the
officer of the address's health center registers it on their own queue tab, and the
applicant finishes the signup with it: in the OS Chromium."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.conftest import last_sms_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "request-p12-Pass!"
MOBILE = "01066667777"


def _officer_page(chromium, live_server, officer):
    """A second browser, signed in as the officer (the session comes from Django's own
    login; the certificate login is tested elsewhere)."""
    client = Client()
    client.force_login(officer)
    context = chromium.new_context(locale="ko-KR", base_url=live_server.url)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                          "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                          "url": live_server.url}])
    return context


def test_an_unlisted_clinic_is_registered_by_the_health_center_and_the_signup_finishes(
        page, chromium, live_server, test_pki, personas, caplog):
    from accounts.models import User
    from institutions.models import InstitutionRequest

    caplog.set_level(logging.INFO, logger="kdcis.sms")
    issued = test_pki.issue("정새봄()0010041200805281000077")
    p12 = test_pki.p12(issued, PASSWORD, "saebom")

    page.goto("/")
    page.get_by_role("link", name="사용자 가입").click()
    page.get_by_label("위의 개인정보 수집(이용)에 동의합니다.").check()
    page.get_by_role("button", name="다음").click()
    page.get_by_role("button", name="공인인증서 등록").click()
    dialog = page.locator("#cert-dialog")
    dialog.get_by_label("인증서 파일 (.p12, .pfx 또는 signCert.der와 signPri.key)").set_input_files(
        str(p12))
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")

    # 03: the ID first, then a search that finds nothing.
    page.get_by_label("아이디", exact=True).fill("saebom01")
    page.get_by_role("button", name="중복검사").click()
    expect(page.locator("#username-result")).to_have_text("사용할 수 있는 아이디입니다.")
    page.get_by_label("기관유형").select_option(label="병의원")
    page.get_by_placeholder("기관명 또는 기관번호").fill("새봄 가정의학과")
    page.get_by_role("button", name="검색", exact=True).click()
    expect(page.get_by_text("검색된 기관이 없습니다.")).to_be_visible()

    # 기관등록 신청: a wrong business number is refused on the same page, nothing lost.
    page.get_by_role("link", name="기관등록 신청").click()
    expect(page).to_have_url(f"{live_server.url}/signup/institution-request/")
    expect(page.get_by_label("기관명")).to_have_value("새봄 가정의학과")
    page.get_by_label("기관명").fill("새봄가정의학과의원")
    page.get_by_label("사업자등록번호").fill("1168200277")
    page.get_by_label("우편번호").fill("03154")
    page.get_by_label("시군구").select_option(label="서울특별시 종로구")
    page.get_by_label("읍면동").fill("청진동")
    page.get_by_label("주소", exact=True).fill("서울특별시 종로구 종로 33, 2층")
    page.get_by_label("기관 전화번호").fill("0227001234")
    page.get_by_label("결과를 받을 휴대폰번호").fill(MOBILE)
    page.get_by_role("button", name="기관등록 신청").click()
    expect(page.locator("#error-business_number")).to_contain_text(
        "올바른 사업자등록번호가 아닙니다")
    expect(page.get_by_label("주소", exact=True)).to_have_value("서울특별시 종로구 종로 33, 2층")
    page.get_by_label("사업자등록번호").fill("1168200276")
    page.get_by_role("button", name="기관등록 신청").click()

    # Back on 03: the request waits at 종로구보건소, with what to do meanwhile.
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    status = page.locator("#institution-request-status")
    expect(status).to_contain_text("종로구보건소에서 확인 중입니다")
    expect(page.get_by_label("아이디", exact=True)).to_have_value("saebom01")
    req = InstitutionRequest.objects.get()

    # The officer registers it from the 기관등록 신청 tab of the approval page.
    officer_context = _officer_page(chromium, live_server, personas.oscar)
    officer = officer_context.new_page()
    officer.goto("/approvals/")
    officer.get_by_role("link", name="기관등록 신청").click()
    officer.get_by_role("link", name=req.reference).click()
    expect(officer.locator("#request-summary")).to_contain_text("1168200276")
    officer.get_by_label("종별구분").select_option(label="31 의원")
    officer.get_by_role("button", name="기관 등록").click()
    expect(officer.get_by_text("기관을 등록했습니다.")).to_be_visible()
    officer_context.close()

    # The applicant is told by SMS and continues: the new institution is selected.
    assert "등록되었습니다" in caplog.text
    page.get_by_role("link", name="처리 상태 확인").click()
    expect(page.locator("#institution-request-status")).to_contain_text("등록되었습니다")
    expect(page.locator("#selected-institution")).to_contain_text("새봄가정의학과의원")
    page.get_by_label("휴대폰번호", exact=True).fill(MOBILE)
    page.get_by_role("button", name="휴대폰번호 인증").click()
    expect(page.get_by_text("인증번호를 보냈습니다.")).to_be_visible()
    page.get_by_label("인증번호").fill(last_sms_code(caplog, MOBILE))
    page.get_by_role("button", name="확인", exact=True).click()
    expect(page.locator("#mobile-verified")).to_have_text("인증 완료")
    page.get_by_label("기관(부서) 전화번호").fill("0227001234")
    page.get_by_role("button", name="다음", exact=True).click()

    # 04 → 05: the request goes to the health center of the new institution.
    expect(page).to_have_url(f"{live_server.url}/signup/permissions/")
    page.get_by_label("예방접종관리 User", exact=True).check()
    page.get_by_role("button", name="권한 신청").click()
    expect(page).to_have_url(f"{live_server.url}/signup/done/")
    user = User.objects.get(username="saebom01")
    assert user.institution.name == "새봄가정의학과의원"
    assert user.grants.get().body.name == "종로구보건소"
