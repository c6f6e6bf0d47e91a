"""An officer approves a request in Chromium; the applicant's next login shows the menu."""

import pytest
from playwright.sync_api import expect

from permissions.models import Grant
from tests.accounts.helpers import bind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def certificate_login(page, p12_path, password: str) -> None:
    page.goto("/login/")
    page.get_by_role("button", name="인증서 로그인").click()
    dialog = page.locator("#cert-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("인증서 파일 (.p12, .pfx 또는 signCert.der와 signPri.key)").set_input_files(str(p12_path))
    dialog.get_by_label("인증서 암호").fill(password)
    dialog.get_by_role("button", name="확인", exact=True).click()


def test_an_officer_approves_in_the_browser_and_the_applicant_then_sees_the_menu(
        page, live_server, personas, test_pki, complete_supplementary_info):
    complete_supplementary_info(personas.alice.institution)
    officer_cert = test_pki.issue("오보건()0010041200805281555555")
    bind(personas.oscar, officer_cert)
    alice_cert = test_pki.issue("김앨리()0010041200805281666666")
    bind(personas.alice, alice_cert)
    officer_p12 = test_pki.p12(officer_cert, "officer-pass", "oscar")
    alice_p12 = test_pki.p12(alice_cert, "alice-pass", "alice")

    # Before: alice's login shows her pending request and no menu.
    certificate_login(page, alice_p12, "alice-pass")
    expect(page.get_by_role("heading", name="가입 신청 처리 현황")).to_be_visible()
    expect(page.get_by_role("navigation", name="메뉴보기")).to_have_count(0)
    page.get_by_role("button", name="로그아웃").click()

    # The officer of 종로구보건소 approves it from the queue.
    certificate_login(page, officer_p12, "officer-pass")
    page.get_by_role("link", name="권한 승인 관리").click()
    row = page.locator("tr", has_text="김앨리")
    expect(row).to_contain_text("예방접종관리 User")
    row.get_by_role("checkbox").check()
    confirmations = []

    def confirm(dialog):
        confirmations.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    page.get_by_role("button", name="승인", exact=True).click()
    expect(page.get_by_text("(김앨리, 예방접종관리 User): 승인")).to_be_visible()
    assert confirmations == ["선택한 1건을 승인하시겠습니까?"]  # it asked first, naming the count
    page.get_by_role("button", name="로그아웃").click()

    # After: alice's next login shows the 예방접종관리 folder and she can open it.
    certificate_login(page, alice_p12, "alice-pass")
    menu = page.get_by_role("navigation", name="메뉴보기")
    expect(menu.get_by_text("예방접종관리", exact=True)).to_be_visible()
    menu.get_by_role("link", name="예방접종관리 처음화면").click()
    expect(page.get_by_role("heading", name="예방접종관리")).to_be_visible()
    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    assert grant.status == "approved" and grant.decided_by_id == personas.oscar.pk
