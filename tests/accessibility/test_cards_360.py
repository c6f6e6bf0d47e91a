"""At 360 px, list tables become cards: every cell is on screen in full, with its heading."""

import pytest
from playwright.sync_api import expect

from tests.accessibility.test_axe import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 360


def _cells_out_of_sight(page) -> list[str]:
    """Cells of list tables that stick out of the window or are cut by a scrolling box."""
    return page.evaluate("""width => {
        const bad = [];
        for (const table of document.querySelectorAll('table.list')) {
            if (table.scrollWidth > table.clientWidth + 1) bad.push('table scrolls sideways');
            for (const td of table.querySelectorAll('tbody td')) {
                const r = td.getBoundingClientRect();
                if (r.width && (r.left < -0.5 || r.right > width + 0.5))
                    bad.push(`${td.dataset.label || '?'}: ${td.textContent.trim().slice(0, 20)}`);
            }
        }
        return bad;
    }""", WIDTH)


def test_search_and_permission_tables_are_cards_on_a_phone(page, live_server, personas):
    page.set_viewport_size({"width": WIDTH, "height": 740})
    log_in(page, live_server, personas.hana)
    page.goto("/helpdesk/?q=김")
    row = page.locator("table.list tbody tr").first
    expect(row).to_be_visible()
    assert _cells_out_of_sight(page) == []
    assert row.locator("td").first.get_attribute("data-label")  # labelled by its heading

    page.context.clear_cookies()
    log_in(page, live_server, personas.alice)
    for url in ("/", "/permissions/?status=requested", "/permissions/?status=requestable"):
        page.goto(url)
        expect(page.locator("table.list").first).to_be_visible()
        assert _cells_out_of_sight(page) == [], url


def test_the_approval_queue_is_cards_on_a_phone(page, live_server, personas):
    page.set_viewport_size({"width": WIDTH, "height": 740})
    log_in(page, live_server, personas.oscar)
    page.goto("/approvals/")
    row = page.locator("table.approvals tbody tr").first
    expect(row).to_contain_text("종로연세의원")
    assert _cells_out_of_sight(page) == []
    expect(row.locator("td[data-label='기관']")).to_contain_text("종로연세의원")
