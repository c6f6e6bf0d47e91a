import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_home_page_renders_the_korean_layout_in_chromium(page, live_server):
    page.goto("/")
    expect(page).to_have_title("질병보건통합관리시스템")
    expect(page.locator(".brand-name")).to_have_text("질병보건통합관리시스템")
    top = page.get_by_role("navigation", name="상단 메뉴")
    for label in ("담당자안내", "공지", "자료실"):
        expect(top.get_by_role("link", name=label)).to_be_visible()
    expect(page.get_by_role("link", name="사용자 가입")).to_be_visible()
    # The page is styled by our own stylesheet (served by the live server).
    color = page.locator(".site-header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(18, 58, 107)"
    page.get_by_role("link", name="사용자 가입").click()
    expect(page).to_have_url(f"{live_server.url}/signup/consent/")
    expect(page.get_by_text("01 개인정보수집동의")).to_be_visible()
