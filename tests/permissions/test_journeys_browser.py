"""Journeys that used to dead-end, walked in Chromium: a rejected applicant asks again, a
waiting one moves or cancels a request, an officer lands on their queue summary."""

import pytest
from playwright.sync_api import expect

from institutions.models import ApprovingBody
from permissions.models import Grant
from permissions.services import grant_reject
from tests.accessibility.test_axe import sms_log  # noqa: F401, F811 (a fixture)
from tests.accounts.helpers import bind
from tests.permissions.test_approval_browser import certificate_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_REASON = "기관정보확인불가" * 60  # 480 characters without a space


def _alice_logs_in(page, personas, test_pki):
    cert = test_pki.issue("김앨리()0010041200805281666601")
    bind(personas.alice, cert)
    certificate_login(page, test_pki.p12(cert, "alice-pass", "alice-journey"), "alice-pass")


def _reject_all(personas, reason):
    for grant in Grant.objects.filter(user=personas.alice, status="requested"):
        officer = personas.carl if grant.body.kind == "central" else personas.oscar
        grant_reject(grant_id=grant.pk, officer=officer.officer, reason=reason)


@pytest.mark.parametrize("width", [1280, 360])
def test_a_rejected_applicant_reads_the_reason_and_asks_another_health_center(
        page, live_server, personas, test_pki, width):
    page.set_viewport_size({"width": width, "height": 900})
    _reject_all(personas, LONG_REASON)
    _alice_logs_in(page, personas, test_pki)

    expect(page.get_by_role("heading", name="가입 신청 처리 현황")).to_be_visible()
    expect(page.get_by_text("승인을 기다리고 있습니다")).to_have_count(0)
    expect(page.get_by_text(f"반려 사유: {LONG_REASON}")).to_have_count(2)  # both requests
    # the unbroken reason wraps: nothing is wider than the window
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    again = page.locator("form", has=page.get_by_role("button", name="다시 신청")).first
    again.get_by_label("승인기관", exact=True).select_option(label="강남구보건소")
    again.get_by_role("button", name="다시 신청").click()
    expect(page.get_by_text("권한을 신청했습니다")).to_be_visible()
    expect(page.get_by_text("승인을 기다리고 있습니다")).to_be_visible()
    gangnam = ApprovingBody.objects.get(code="HC-11680-1")
    assert Grant.objects.filter(user=personas.alice, status="requested", body=gangnam).exists()


def test_a_waiting_applicant_moves_one_request_and_cancels_the_other(
        page, live_server, personas, test_pki):
    _alice_logs_in(page, personas, test_pki)
    vaccination = page.locator("tr.next-step").first
    vaccination.get_by_label("승인기관", exact=True).select_option(label="강남구보건소")
    vaccination.get_by_role("button", name="승인기관 변경").click()
    expect(page.get_by_text("강남구보건소로 변경했습니다")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.dismiss())  # 'no' keeps the request
    page.get_by_role("button", name="신청취소").last.click()
    expect(page.locator("tr.next-step")).to_have_count(2)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="신청취소").last.click()
    expect(page.get_by_text("권한 신청을 취소했습니다")).to_be_visible()
    statuses = set(Grant.objects.filter(user=personas.alice).values_list("status", flat=True))
    assert statuses == {"requested", "cancelled"}


def test_an_officer_lands_on_the_queue_summary_and_goes_to_the_queue(
        page, live_server, personas, test_pki):
    cert = test_pki.issue("오보건()0010041200805281555501")
    bind(personas.oscar, cert)
    certificate_login(page, test_pki.p12(cert, "officer-pass", "oscar-journey"), "officer-pass")
    expect(page.get_by_role("heading", name="종로구보건소 승인 대기 현황")).to_be_visible()
    expect(page.get_by_text("승인된 권한이 없습니다")).to_have_count(0)
    page.get_by_role("link", name="승인 대기 목록 보기").click()
    expect(page.locator("tr", has_text="김앨리")).to_contain_text("예방접종관리 User")


def test_an_officer_transfers_an_off_jurisdiction_request_in_one_click(
        page, live_server, personas, test_pki):
    from kdcis.models import SmsMessage
    from permissions.services import grant_change_body

    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    grant_change_body(grant_id=grant.pk, user=personas.alice,
                      body=ApprovingBody.objects.get(code="HC-11680-1"))
    cert = test_pki.issue("올강남()0010041200805281555502")
    bind(personas.olga, cert)
    certificate_login(page, test_pki.p12(cert, "olga-pass", "olga-journey"), "olga-pass")
    page.get_by_role("link", name="승인 대기 목록 보기").click()
    row = page.locator("tr", has_text="김앨리")
    expect(row.get_by_text("관할 외")).to_be_visible()
    row.get_by_role("link", name="김앨리").click()
    expect(page.get_by_text("기관 주소지 관할 보건소는 종로구보건소입니다.")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="종로구보건소로 이관").click()
    expect(page.get_by_text("종로구보건소로 이관했습니다")).to_be_visible()
    grant.refresh_from_db()
    assert grant.body.code == "HC-11110-1"
    assert "이관되었습니다" in SmsMessage.objects.filter(to=personas.alice.mobile).last().text


def test_the_signup_step_warns_at_once_when_another_health_center_is_picked(
        page, live_server, test_pki, reference_data, sms_log):  # noqa: F811
    from tests.accessibility.test_axe import issue_p12, walk_wizard

    p12 = issue_p12(test_pki, "이먼곳()0010041200805281000092", "faraway-browser")
    walk_wizard(page, live_server, p12, sms_log, lambda _label: None, username="faraway02",
                mobile="01055550009", submit=False)
    hint = page.locator("#home_vaccination_user")
    expect(hint).to_have_text("기관 주소지 관할 보건소는 종로구보건소입니다.")
    page.get_by_label("예방접종관리 User", exact=True).check()
    page.locator("#body_vaccination_user").select_option(label="강남구보건소")
    expect(hint).to_contain_text("관할 보건소가 아닙니다")
    page.get_by_role("button", name="권한 신청").click()
    expect(page.get_by_role("alert").first).to_contain_text("그대로 신청하려면")
    page.get_by_label("관할 보건소가 아닌 승인기관에 그대로 신청합니다.").check()
    page.get_by_role("button", name="권한 신청").click()
    expect(page).to_have_url(f"{live_server.url}/signup/done/")
