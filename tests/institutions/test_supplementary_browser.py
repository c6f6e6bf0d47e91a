"""의료기관 부가정보 in Chromium: landing on the form after login, filling it, saving it."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client
from playwright.sync_api import expect

from institutions.models import ApprovingBody, SupplementaryInfo
from permissions.models import Grant
from permissions.services import grant_approve

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

URL = "/vaccination/institution-info/"


def log_in(page, live_server, user) -> None:
    """A session made by Django's test client, handed to the browser as its cookie."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{
        "name": "sessionid", "value": client.cookies["sessionid"].value,
        "domain": urlsplit(live_server.url).hostname, "path": "/",
    }])


@pytest.fixture
def alice(personas):
    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
    personas.alice.refresh_from_db()
    return personas.alice


def fill_valid(page) -> None:
    page.get_by_label("기관명(영문)", exact=True).fill("Jongno Yonsei Clinic")
    page.get_by_label("사업자등록번호", exact=True).fill("1348672683")
    page.get_by_label("대표자 성명", exact=True).fill("김대표")
    page.get_by_label("전화번호 지역번호", exact=True).select_option("02")
    page.get_by_label("전화번호 (지역번호 제외)", exact=True).fill("2148-3500")
    page.get_by_label("종별구분", exact=True).select_option(label="31 의원")
    page.get_by_label("사용하는 의료정보시스템", exact=True).select_option(label="기타")
    page.get_by_label("기타 직접입력", exact=True).fill("우리병원 자체시스템")
    page.get_by_label("예진의사명", exact=True).fill("이예진\n박예진")
    page.get_by_label("휴대전화번호", exact=True).fill("010-1234-5678")
    page.get_by_label("의료기관 E-Mail", exact=True).fill("clinic")
    page.get_by_label("이메일 도메인 선택", exact=True).select_option("gmail.com")
    page.get_by_role("group", name="☞ 이메일").get_by_label("동의", exact=True).check()
    page.get_by_role("group", name="☞ 휴대전화번호").get_by_label("동의안함", exact=True).check()


def test_a_clinic_user_lands_on_the_form_fills_it_and_saves(page, live_server, alice):
    log_in(page, live_server, alice)
    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}{URL}")
    expect(page.get_by_text("부가정보를 입력하셔야 합니다", exact=False)).to_be_visible()
    expect(page.locator(".breadcrumb")).to_have_text(
        "현재 선택하신 메뉴는 예방접종관리 > 국가예방접종사업 > 계약·점검관리 > "
        "의료기관부가정보관리 입니다.")
    expect(page.get_by_label("의료기관번호")).to_have_value("11110101")
    # 관할보건소 comes pre-selected from the address and, as in the guide, cannot be changed
    # before the first '저장' (the page says so).
    jongno = ApprovingBody.objects.get(code="HC-11110-1")
    junggu = ApprovingBody.objects.get(code="HC-11140-1")
    picker = page.get_by_label("관할보건소", exact=True)
    expect(picker).to_have_value(str(jongno.pk))
    expect(picker).to_be_disabled()
    expect(page.get_by_text("기관 주소지 관할 보건소(종로구보건소)로 저장됩니다.")).to_be_visible()
    # No consent is chosen for the user.
    for radio in page.locator("input[type=radio]").all():
        expect(radio).not_to_be_checked()
    fill_valid(page)
    page.get_by_role("button", name="저장").click()
    expect(page.get_by_text("저장되었습니다.")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}{URL}")
    expect(page.get_by_label("기관명(영문)", exact=True)).to_have_value("Jongno Yonsei Clinic")
    assert SupplementaryInfo.objects.get(institution=alice.institution).jurisdiction == jongno
    # After the first save it is a choice; the picker's search box narrows the list.
    expect(picker).to_be_enabled()
    page.get_by_label("관할보건소 검색").fill("서울특별시 중구")
    picker.select_option(str(junggu.pk))
    page.get_by_role("button", name="저장").click()
    expect(page.get_by_text("저장되었습니다.")).to_be_visible()
    info = SupplementaryInfo.objects.get(institution=alice.institution)
    assert info.business_number == "1348672683"
    assert (info.phone_area, info.phone_number) == ("02", "21483500")
    assert info.jurisdiction == junggu
    assert info.information_system.name == "기타"
    assert info.information_system_other == "우리병원 자체시스템"
    assert info.predoctor_names == ["이예진", "박예진"]
    assert info.email == "clinic@gmail.com" and info.email_consent is True
    assert info.mobile == "" and info.mobile_consent is False  # refused: not kept
    # The rest of the area is open now.
    page.goto("/vaccination/")
    expect(page).to_have_url(f"{live_server.url}/vaccination/")


def test_hangul_in_the_english_name_is_refused_and_the_rest_is_kept(page, live_server, alice):
    log_in(page, live_server, alice)
    page.goto(URL)
    fill_valid(page)
    page.get_by_label("기관명(영문)", exact=True).fill("종로연세의원")
    page.get_by_role("button", name="저장").click()
    expect(page.get_by_text("[한글 입력 불가] 기관명(영문)에는 한글을")).to_be_visible()
    expect(page.get_by_label("기관명(영문)", exact=True)).to_have_attribute(
        "aria-invalid", "true")
    expect(page.get_by_label("기관명(영문)", exact=True)).to_have_value("종로연세의원")
    expect(page.get_by_label("사업자등록번호", exact=True)).to_have_value("1348672683")
    expect(page.get_by_label("전화번호 지역번호", exact=True)).to_have_value("02")
    expect(page.get_by_label("이메일 도메인 선택", exact=True)).to_have_value("gmail.com")
    expect(page.get_by_label("기타 직접입력", exact=True)).to_have_value("우리병원 자체시스템")
    expect(page.get_by_role("group", name="☞ 이메일").get_by_label(
        "동의", exact=True)).to_be_checked()
    expect(page.get_by_role("group", name="☞ 휴대전화번호").get_by_label(
        "동의안함", exact=True)).to_be_checked()
    assert not SupplementaryInfo.objects.exists()
