"""After a form's round trip the keyboard focus lands on the answer, not the page's top."""

import pytest
from playwright.sync_api import expect

from tests.accounts.helpers import bind
from tests.permissions.test_approval_browser import certificate_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _focused(page) -> dict:
    return page.evaluate("""() => { const el = document.activeElement;
        return {id: el.id, cls: el.className, text: (el.textContent || '').trim()}; }""")


def test_a_refused_form_puts_the_focus_on_the_field_in_error(page, live_server):
    page.goto("/signup/consent/")
    page.get_by_role("button", name="다음").click()
    expect(page.locator("#agree-error")).to_be_visible()
    assert _focused(page)["id"] == "id_agree"


def test_a_done_action_puts_the_focus_on_its_message(page, live_server, personas, test_pki):
    cert = test_pki.issue("김앨리()0010041200805281666602")
    bind(personas.alice, cert)
    certificate_login(page, test_pki.p12(cert, "alice-pass", "alice-focus"), "alice-pass")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="신청취소").first.click()
    expect(page.get_by_text("권한 신청을 취소했습니다")).to_be_visible()
    assert "권한 신청을 취소했습니다" in _focused(page)["text"]


def test_a_plain_visit_keeps_the_browsers_focus(page, live_server):
    page.goto("/notices/")
    assert _focused(page)["id"] == ""  # the body: nothing was moved
