"""Accessibility in the OS Chromium: axe-core on every page, the wizard by keyboard alone and
the pages at a 360 px wide phone screen.

axe-core comes from npm (`node_modules/axe-core`, a devDependency). It is added to the browser
context as an init script (Playwright injects it through the DevTools protocol, so the page's
Content-Security-Policy, which forbids inline script, stays on and is not in the way).
A page fails on any violation of impact 'serious' or 'critical' (the 'label' rule among them
checks that every form control has an accessible name), and on an aria-describedby or
aria-labelledby that names no element on the page (axe only lists those for review).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.conftest import last_sms_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE_JS = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
PASSWORD = "axe-p12-Pass!"
OFFICE = "0221483500"
AGREE = "위의 개인정보 수집(이용)에 동의합니다."
PHONE_WIDTH = 360


# ------------------------------------------------------------------------------------ helpers


@pytest.fixture
def sms_log(caplog):
    caplog.set_level(logging.INFO, logger="kdcis.sms")
    return caplog


class Axe:
    """Runs axe-core on the current page and collects what it finds, page by page."""

    def __init__(self, page: Page):
        assert AXE_JS.exists(), f"axe-core is missing: run `npm ci` ({AXE_JS})"
        self.page = page
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.checked: list[str] = []
        page.context.add_init_script(path=str(AXE_JS))

    def check(self, label: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        assert page.evaluate("() => typeof window.axe === 'object'"), "axe-core was not loaded"
        violations = page.evaluate(
            """async () => {
                const result = await window.axe.run(document, {resultTypes: ['violations']});
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    targets: v.nodes.map(n => n.target.join(' ')),
                }));
            }"""
        )
        # axe only flags these as "needs review": an aria-describedby/-labelledby naming an
        # element that is not on the page (an error message without its id, for instance).
        violations += page.evaluate(
            """() => [...document.querySelectorAll('[aria-describedby], [aria-labelledby]')]
                .flatMap(el => ['aria-describedby', 'aria-labelledby'].flatMap(attr =>
                    (el.getAttribute(attr) || '').split(/\\s+/).filter(Boolean)
                        .filter(id => !document.getElementById(id))
                        .map(id => ({id: 'missing-aria-reference', impact: 'serious',
                                     help: `${attr} names a missing element #${id}`,
                                     targets: [el.id ? '#' + el.id : el.tagName]}))))"""
        )
        self.checked.append(label)
        path = urlsplit(page.url).path
        for v in violations:
            targets = ", ".join(v["targets"][:8])
            line = f"[{label}] {path}: {v['id']} ({v['impact']}) {v['help']} -> {targets}"
            (self.failures if v["impact"] in FAILING_IMPACTS else self.notes).append(line)

    def assert_clean(self) -> None:
        assert self.checked
        if self.notes:  # shown with the test's output (pytest -rA or on failure)
            print("Moderate and minor axe findings (not failing):", *self.notes, sep="\n  ")
        assert not self.failures, (
            f"{len(self.failures)} serious or critical axe violations on "
            f"{len(self.checked)} pages:\n" + "\n".join(self.failures))


def log_in(page: Page, live_server, user) -> None:
    """A session made by Django's test client, handed to the browser as its cookie."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{
        "name": "sessionid", "value": client.cookies["sessionid"].value,
        "domain": urlsplit(live_server.url).hostname, "path": "/",
    }])


def open_dialog(page: Page, opener: str) -> None:
    page.get_by_role("button", name=opener).click()
    expect(page.locator("#cert-dialog")).to_be_visible()


def issue_p12(test_pki, cn: str, name: str):
    return test_pki.p12(test_pki.issue(cn), PASSWORD, name)


def walk_wizard(page: Page, live_server, p12, sms_log, visit, *, username: str,
                mobile: str, submit: bool = True) -> None:
    """Every step of the signup wizard, with its error states; `visit(label)` at each.
    With submit=False it stops on the permissions step, nothing chosen yet."""
    page.goto("/signup/consent/")
    visit("signup consent")
    page.get_by_role("button", name="다음").click()
    expect(page.locator("#agree-error")).to_be_visible()
    visit("signup consent, not agreed")
    page.get_by_label(AGREE).check()
    page.get_by_role("button", name="다음").click()

    expect(page).to_have_url(f"{live_server.url}/signup/certificate/")
    visit("signup certificate")
    open_dialog(page, "공인인증서 등록")
    visit("signup certificate, dialog open")
    dialog = page.locator("#cert-dialog")
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(dialog.locator("[data-cert-error]")).to_contain_text("인증서 파일을 선택")
    visit("signup certificate, dialog error")
    dialog.get_by_label("인증서 파일 (.p12, .pfx 또는 signCert.der와 signPri.key)").set_input_files(str(p12))
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()

    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    visit("signup profile")
    page.get_by_role("button", name="다음", exact=True).click()
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    visit("signup profile, errors")
    page.get_by_label("아이디", exact=True).fill(username)
    page.get_by_role("button", name="중복검사").click()
    expect(page.locator("#username-result")).to_have_text("사용할 수 있는 아이디입니다.")
    page.get_by_label("휴대폰번호", exact=True).fill(mobile)
    page.get_by_role("button", name="휴대폰번호 인증").click()
    expect(page.get_by_text("인증번호를 보냈습니다.")).to_be_visible()
    page.get_by_label("기관유형").select_option(label="병의원")
    page.get_by_placeholder("기관명 또는 기관번호").fill("종로")
    page.get_by_role("button", name="검색", exact=True).click()
    expect(page.locator("fieldset.results")).to_be_visible()
    expect(page.get_by_label("인증번호")).to_be_visible()
    visit("signup profile, search results and code sent")
    page.get_by_label("종로연세의원").check()
    page.get_by_label("인증번호").fill(last_sms_code(sms_log, mobile))
    page.get_by_role("button", name="확인", exact=True).click()
    expect(page.locator("#mobile-verified")).to_have_text("인증 완료")
    page.get_by_label("기관(부서) 전화번호").fill(OFFICE)
    visit("signup profile, complete")
    page.get_by_role("button", name="다음", exact=True).click()

    expect(page).to_have_url(f"{live_server.url}/signup/permissions/")
    visit("signup permissions")
    page.get_by_role("button", name="권한 신청").click()
    expect(page.get_by_role("alert")).to_contain_text("신청할 권한을 하나 이상 선택하세요.")
    visit("signup permissions, nothing chosen")
    if not submit:
        return
    page.get_by_label("예방접종관리 User", exact=True).check()
    page.get_by_role("button", name="권한 신청").click()

    expect(page).to_have_url(f"{live_server.url}/signup/done/")
    expect(page.get_by_role("status")).to_contain_text("가입 신청이 접수")
    visit("signup done")


def decide_alice(personas) -> None:
    """alice's '예방접종관리 User' approved and '교육관리 User(학습자)' rejected."""
    from permissions.models import Grant
    from permissions.services import grant_approve, grant_reject

    grants = Grant.objects.filter(user=personas.alice)
    grant_approve(grant_id=grants.get(permission_type__code="vaccination_user").pk,
                  officer=personas.oscar.officer)
    grant_reject(grant_id=grants.get(permission_type__code="education_learner").pk,
                 reason="교육 대상 기관이 아닙니다.", officer=personas.carl.officer)


@pytest.fixture
def active_alice(personas, complete_supplementary_info):
    """alice with one permission approved, one rejected and the institution's supplementary
    info saved: the main screen with its menus."""
    decide_alice(personas)
    complete_supplementary_info(personas.alice.institution)
    personas.alice.refresh_from_db()
    return personas.alice


# ------------------------------------------------------------------------------- axe: public


def test_the_checker_finds_a_control_without_a_label_and_a_dangling_reference(page, live_server):
    axe = Axe(page)
    page.goto("/institution-registration/")
    page.evaluate("""() => {
        const input = document.createElement('input');
        input.type = 'text';
        input.setAttribute('aria-describedby', 'no-such-error');
        document.querySelector('main').append(input);
    }""")
    axe.check("with an unlabelled input")
    assert any(": label (critical)" in f for f in axe.failures), axe.failures
    assert any("missing-aria-reference" in f and "#no-such-error" in f
               for f in axe.failures), axe.failures


def test_public_pages_have_no_serious_accessibility_violations(
    page, live_server, reference_data, test_pki
):
    from kdcis.models import Faq, LibraryFile, Notice

    notice = Notice.objects.create(title="사용자 가입 안내", body="첫 줄\n둘째 줄",
                                   published_at=timezone.now())
    for category, question in (("signup", "접근성 점검용 가입 질문"),
                               ("certificate", "접근성 점검용 인증서 질문")):
        Faq.objects.create(category=category, question=question, answer="첫 줄\n둘째 줄")
    LibraryFile.objects.create(title="사용자 가입 방법", description="안내서",
                               file="library/guide.txt", published_at=timezone.now())
    axe = Axe(page)
    for url, label in [
        ("/", "home (login)"),
        ("/login/", "login"),
        ("/contacts/", "contacts"),
        ("/contacts/?region=11", "contacts with a region"),
        ("/notices/", "notices"),
        (f"/notices/{notice.pk}/", "a notice"),
        ("/library/", "library"),
        ("/faq/", "faq"),
        ("/institution-registration/", "institution registration guide"),
        ("/no-such-page/", "404"),
        ("/admin/login/", "national admin login"),
    ]:
        page.goto(url)
        axe.check(label)
    page.goto("/faq/")
    page.get_by_text("접근성 점검용 인증서 질문").click()
    axe.check("faq, an answer open")
    page.goto("/login/")
    open_dialog(page, "인증서 로그인")
    axe.check("login, dialog open")
    dialog = page.locator("#cert-dialog")
    dialog.get_by_label("인증서 파일 (.p12, .pfx 또는 signCert.der와 signPri.key)").set_input_files(
        str(issue_p12(test_pki, "나처음()0010041200805281000073", "axe-unknown")))
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(page.locator("#login-error")).to_contain_text("등록되지 않은 인증서입니다.")
    axe.check("login, unknown certificate")
    # An expired form: the CSRF failure page.
    page.goto("/signup/consent/")
    page.context.clear_cookies()
    page.get_by_label(AGREE).check()
    page.get_by_role("button", name="다음").click()
    expect(page.get_by_role("heading", name="화면이 만료되었습니다")).to_be_visible()
    axe.check("CSRF failure")
    axe.assert_clean()


def test_every_step_of_the_signup_wizard_has_no_serious_accessibility_violations(
    page, live_server, test_pki, reference_data, sms_log
):
    p12 = issue_p12(test_pki, "이접근()0010041200805281000070", "axe-wizard")
    axe = Axe(page)
    walk_wizard(page, live_server, p12, sms_log, axe.check, username="axeuser01",
                mobile="01055550001")
    axe.assert_clean()


# ---------------------------------------------------------------------------- axe: applicant


def test_applicant_pages_have_no_serious_accessibility_violations(
    page, live_server, personas, complete_supplementary_info
):
    from kdcis.models import Notice
    from permissions.models import Grant

    alice = personas.alice
    work = Notice.objects.create(kind=Notice.Kind.WORK, title="예방접종 등록 점검 협조",
                                 body="첫 줄\n둘째 줄", published_at=timezone.now())
    axe = Axe(page)
    log_in(page, live_server, alice)
    page.goto("/")
    expect(page.get_by_role("heading", name="가입 신청 처리 현황")).to_be_visible()
    axe.check("pending status")
    page.goto("/work/")
    axe.check("work correspondence")
    page.goto(f"/work/{work.pk}/")
    axe.check("a work correspondence")
    page.goto("/vaccination/")
    axe.check("area refused (pending)")

    decide_alice(personas)

    # No supplementary info yet: the form comes first.
    page.goto("/vaccination/")
    expect(page).to_have_url(f"{live_server.url}/vaccination/institution-info/")
    axe.check("supplementary info form")
    page.get_by_label("기관명(영문)", exact=True).fill("종로연세의원")
    page.get_by_role("button", name="저장").click()
    expect(page.get_by_text("입력한 내용을 확인하세요.")).to_be_visible()
    axe.check("supplementary info form, errors")

    complete_supplementary_info(alice.institution)
    page.goto("/vaccination/institution-info/")
    axe.check("supplementary info form, saved")
    page.goto("/")
    expect(page.get_by_role("navigation", name="메뉴보기")).to_be_visible()
    axe.check("main screen")
    for status in ("approved", "requestable", "requested", "rejected", "revoked"):
        page.goto(f"/permissions/?status={status}")
        axe.check(f"permissions {status}")
    page.goto("/permissions/?status=requestable")
    page.get_by_role("button", name="신청", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("권한을 신청했습니다")
    axe.check("permissions, requested with a message")
    page.goto("/me/")
    axe.check("me")
    page.goto("/me/withdraw/")
    axe.check("withdraw")
    open_dialog(page, "인증서 확인 후 탈퇴")
    axe.check("withdraw, dialog open")
    page.goto("/vaccination/")
    axe.check("vaccination")
    page.goto("/contacts/?region=11")
    axe.check("contacts, signed in")
    page.goto("/approvals/")
    axe.check("403")

    # Every permission revoked: the main screen offers the request forms.
    Grant.objects.filter(user=alice).update(status=Grant.Status.REVOKED,
                                            revoked_at=timezone.now())
    page.goto("/education/")
    axe.check("area refused")
    page.goto("/")
    expect(page.get_by_role("heading", name="신청 가능한 권한")).to_be_visible()
    axe.check("main screen without permissions")
    page.goto("/permissions/?status=revoked")
    axe.check("permissions revoked, with rows")
    axe.assert_clean()


# ------------------------------------------------------------------------- axe: staff pages


def test_officer_pages_have_no_serious_accessibility_violations(page, live_server, personas):
    from permissions.models import Grant

    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    axe = Axe(page)
    log_in(page, live_server, personas.oscar)
    page.goto("/")
    axe.check("officer main screen")
    page.goto("/approvals/")
    expect(page.locator("table.approvals tbody tr")).to_have_count(1)
    axe.check("approvals with rows")
    page.get_by_role("button", name="반려").click()
    expect(page.locator(".messages")).to_be_visible()
    axe.check("approvals, reject without a reason")
    page.goto(f"/approvals/{grant.pk}/")
    axe.check("request detail")
    page.get_by_role("button", name="승인").click()
    expect(page.locator(".messages")).to_be_visible()
    axe.check("approvals after approving")
    page.goto(f"/approvals/{grant.pk}/")
    axe.check("request detail, decided")
    page.goto("/approvals/?status=approved")
    axe.check("approvals, approved")

    page.context.clear_cookies()
    log_in(page, live_server, personas.carl)
    page.goto("/approvals/")
    axe.check("central approvals")
    axe.assert_clean()


def test_helpdesk_pages_have_no_serious_accessibility_violations(page, live_server, personas):
    alice = personas.alice
    axe = Axe(page)
    log_in(page, live_server, personas.hana)
    page.goto("/helpdesk/")
    axe.check("helpdesk search")
    page.goto("/helpdesk/?q=alice01")
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    axe.check("helpdesk search with results")
    page.goto("/helpdesk/?q=nobody-here")
    axe.check("helpdesk search without results")
    page.goto(f"/helpdesk/users/{alice.pk}/")
    axe.check("helpdesk user")
    page.get_by_role("button", name="확인", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    axe.check("helpdesk user, no reason")
    page.get_by_label("사유", exact=True).fill("본인 요청 확인")
    page.get_by_role("button", name="확인", exact=True).click()
    axe.check("helpdesk user, revealed")
    page.goto(f"/helpdesk/institutions/{alice.institution_id}/")
    axe.check("institution correction")
    page.get_by_role("button", name="저장").click()
    expect(page.get_by_role("alert")).to_be_visible()
    axe.check("institution correction, error")
    axe.assert_clean()


# ------------------------------------------------------------------------------ keyboard only


def _focused(page: Page, selector: str) -> bool:
    return page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)",
                         selector)


def tab_to(page: Page, selector: str, *, limit: int = 120) -> None:
    """Press Tab until the focused element matches `selector`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused(page, selector):
            return
    raise AssertionError(f"Tab never reached {selector!r} on {page.url}")


def test_the_signup_wizard_works_with_the_keyboard_alone(
    page, live_server, test_pki, reference_data, sms_log
):
    from accounts.models import User

    p12 = issue_p12(test_pki, "한건반()0010041200805281000071", "keyboard-wizard")
    mobile = "01055550002"
    page.goto("/")
    tab_to(page, "a#signup-button")
    page.keyboard.press("Enter")

    # 01 개인정보수집동의: Space ticks the box, Enter presses '다음'.
    expect(page).to_have_url(f"{live_server.url}/signup/consent/")
    tab_to(page, "#id_agree")
    page.keyboard.press("Space")
    tab_to(page, ".actions button[type=submit]")
    page.keyboard.press("Enter")

    # 02 인증서등록: the dialog opens with the focus in it, keeps it, and Escape closes it.
    expect(page).to_have_url(f"{live_server.url}/signup/certificate/")
    tab_to(page, "[data-dialog-open]")
    page.keyboard.press("Enter")
    dialog = page.locator("#cert-dialog")
    expect(dialog).to_be_visible()
    assert _focused(page, "#cert-dialog *"), "the focus is not in the dialog"
    for _ in range(6):
        page.keyboard.press("Tab")
        assert _focused(page, "#cert-dialog *"), "Tab left the open dialog"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert _focused(page, "[data-dialog-open]"), "the focus did not return to the opener"
    page.keyboard.press("Space")
    expect(dialog).to_be_visible()
    assert _focused(page, "#cert-file")
    # A file chooser cannot be typed into: the file is set, everything else is keys.
    page.locator("#cert-file").set_input_files(str(p12))
    tab_to(page, "#cert-password")
    page.keyboard.type(PASSWORD)
    tab_to(page, "#cert-dialog button[type=submit]")
    page.keyboard.press("Space")

    # 03 사용자정보등록
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    tab_to(page, "#id_username")
    page.keyboard.type("keyboard01")
    tab_to(page, "[data-check-id]")
    page.keyboard.press("Enter")
    expect(page.locator("#username-result")).to_have_text("사용할 수 있는 아이디입니다.")

    tab_to(page, "#id_mobile")
    page.keyboard.type(mobile)
    tab_to(page, "button[formaction$='/send-code/']")
    page.keyboard.press("Enter")
    expect(page.get_by_text("인증번호를 보냈습니다.")).to_be_visible()

    tab_to(page, "#id_institution_type")
    select = page.locator("#id_institution_type")
    for _ in range(10):
        if select.locator("option:checked").inner_text() == "병의원":
            break
        page.keyboard.press("ArrowDown")
    expect(select.locator("option:checked")).to_have_text("병의원")
    tab_to(page, "#id_query")
    page.keyboard.type("종로")
    tab_to(page, "button[formaction$='/search/']")
    page.keyboard.press("Enter")
    expect(page.locator("fieldset.results")).to_be_visible()

    target = page.get_by_label("종로연세의원").get_attribute("id")
    tab_to(page, "input[name=institution_choice]")
    page.keyboard.press("Space")
    for _ in range(12):
        if _focused(page, f"#{target}:checked"):
            break
        page.keyboard.press("ArrowDown")
    expect(page.locator(f"#{target}")).to_be_checked()

    tab_to(page, "#id_code")
    page.keyboard.type(last_sms_code(sms_log, mobile))
    tab_to(page, "button[formaction$='/verify-code/']")
    page.keyboard.press("Enter")
    expect(page.locator("#mobile-verified")).to_have_text("인증 완료")
    expect(page.locator("#selected-institution")).to_contain_text("종로연세의원")

    tab_to(page, "#id_office_phone")
    page.keyboard.type(OFFICE)
    tab_to(page, "[data-profile-form] .actions button[type=submit]")
    page.keyboard.press("Enter")

    # 04 권한신청: the health center is pre-selected; Space ticks, Enter sends.
    expect(page).to_have_url(f"{live_server.url}/signup/permissions/")
    tab_to(page, "#perm_vaccination_user")
    page.keyboard.press("Space")
    expect(page.locator("#perm_vaccination_user")).to_be_checked()
    tab_to(page, "button[data-once]")
    page.keyboard.press("Enter")

    # 05 가입신청완료
    expect(page).to_have_url(f"{live_server.url}/signup/done/")
    expect(page.get_by_role("status")).to_contain_text("한건반 님(keyboard01)의 가입 신청이 접수")
    assert User.objects.get(username="keyboard01").status == User.Status.PENDING


# ------------------------------------------------------------------------------- 360 px wide


def _overflow(page: Page) -> tuple[int, list[str]]:
    """The document's scroll width and the elements sticking out on the right (for the
    message): those outside any box that scrolls or clips by itself first."""
    return page.evaluate(
        """width => {
            const outside = [], inside = [];
            for (const el of document.body.querySelectorAll('*')) {
                const r = el.getBoundingClientRect();
                if (r.width === 0 || r.right <= width + 0.5) continue;
                let p = el.parentElement, clipped = false;
                while (p && p !== document.body) {
                    if (/(auto|scroll|hidden|clip)/.test(getComputedStyle(p).overflowX)) {
                        clipped = true;
                        break;
                    }
                    p = p.parentElement;
                }
                const id = el.id ? '#' + el.id : '';
                const cls = el.classList.length ? '.' + [...el.classList].join('.') : '';
                const name = `${el.tagName.toLowerCase()}${id}${cls}`;
                (clipped ? inside : outside).push(`${name} (right ${Math.round(r.right)})`);
            }
            const culprits = outside.length ? outside : inside.map(n => n + ' in a scrolling box');
            return [document.documentElement.scrollWidth, culprits.slice(0, 10)];
        }""",
        PHONE_WIDTH,
    )


class NarrowCheck:
    def __init__(self, page: Page):
        self.page = page
        self.failures: list[str] = []
        self.checked: list[str] = []
        page.set_viewport_size({"width": PHONE_WIDTH, "height": 740})

    def check(self, label: str) -> None:
        self.page.wait_for_load_state("load")
        width, culprits = _overflow(self.page)
        self.checked.append(label)
        if width > PHONE_WIDTH:
            self.failures.append(f"[{label}] {urlsplit(self.page.url).path}: the document is "
                                 f"{width}px wide: {', '.join(culprits)}")

    def assert_clean(self) -> None:
        assert self.checked
        assert not self.failures, "pages scroll sideways at 360px:\n" + "\n".join(self.failures)


def test_the_wizard_reads_well_on_a_360px_wide_screen(
    page, live_server, test_pki, reference_data, sms_log
):
    p12 = issue_p12(test_pki, "서좁은()0010041200805281000072", "narrow-wizard")
    narrow = NarrowCheck(page)
    page.goto("/")
    narrow.check("home (login)")
    walk_wizard(page, live_server, p12, sms_log, narrow.check, username="narrow01",
                mobile="01055550003")
    narrow.assert_clean()


def test_the_main_screen_permissions_and_approvals_read_well_on_a_360px_wide_screen(
    page, live_server, personas, active_alice
):
    narrow = NarrowCheck(page)
    log_in(page, live_server, active_alice)
    page.goto("/")
    expect(page.get_by_role("navigation", name="메뉴보기")).to_be_visible()
    narrow.check("main screen")
    for status in ("approved", "requestable", "requested", "rejected", "revoked"):
        page.goto(f"/permissions/?status={status}")
        narrow.check(f"permissions {status}")
    page.goto("/vaccination/institution-info/")
    narrow.check("supplementary info form")

    page.context.clear_cookies()
    log_in(page, live_server, personas.olga)
    page.goto("/approvals/")
    expect(page.locator("table.approvals tbody tr")).to_have_count(1)
    narrow.check("approvals with rows")
    page.locator("table.approvals a").first.click()
    narrow.check("request detail")
    narrow.assert_clean()
