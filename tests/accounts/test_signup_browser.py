"""The signup wizard and the certificate login, driven in the OS Chromium.

The certificate is a real PKCS#12 file of the test CA: the page's certificate.js opens it with
node-forge, signs the server's challenge and posts only the certificate and the signature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re

import pytest
from django.conf import settings
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.conftest import last_sms_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "sinkyu-p12-Pass!"
MOBILE = "01055556666"
# A subscriber number never starts with 0 or 1 (kdcis/phones.py): 02-1234-5678 is refused.
OFFICE = "0221483500"
HANGUL = re.compile(r"[가-힣]")


# ------------------------------------------------------------------------------------ helpers


@pytest.fixture
def sms_log(caplog):
    caplog.set_level(logging.INFO, logger="kdcis.sms")
    return caplog


def _dialog(page: Page):
    return page.locator("#cert-dialog")


def _sign_in_dialog(page: Page, p12_path, password: str, *, opener: str | None = None):
    """Pick the file and type the password in the certificate dialog, then press '확인'.

    `opener` is the button that shows the dialog; None when it is already open (after a
    refusal the dialog stays open, or the page shows it again with the server's message)."""
    dialog = _dialog(page)
    if opener is not None:
        page.get_by_role("button", name=opener).click()
    expect(dialog).to_be_visible()
    dialog.get_by_label("인증서 파일 (.p12, .pfx 또는 signCert.der와 signPri.key)").set_input_files(str(p12_path))
    dialog.get_by_label("인증서 암호").fill(password)
    dialog.get_by_role("button", name="확인", exact=True).click()


def _dialog_error(page: Page):
    return _dialog(page).locator("[data-cert-error]")


def _start_signup(page: Page, live_server) -> None:
    """From the home page to the certificate step (consent given)."""
    page.goto("/")
    page.get_by_role("link", name="사용자 가입").click()
    expect(page).to_have_url(f"{live_server.url}/signup/consent/")
    page.get_by_label("위의 개인정보 수집(이용)에 동의합니다.").check()
    page.get_by_role("button", name="다음").click()
    expect(page).to_have_url(f"{live_server.url}/signup/certificate/")


def _fill_profile(page: Page, live_server, sms_log, *, username: str, mobile: str = MOBILE,
                  check_countdown: bool = False) -> None:
    """The 사용자정보등록 step up to (not including) '다음'."""
    page.get_by_label("아이디", exact=True).fill(username)
    page.get_by_role("button", name="중복검사").click()
    expect(page.locator("#username-result")).to_have_text("사용할 수 있는 아이디입니다.")

    page.get_by_label("기관유형").select_option(label="병의원")
    page.get_by_placeholder("기관명 또는 기관번호").fill("종로")
    page.get_by_role("button", name="검색", exact=True).click()
    page.get_by_label("종로연세의원").check()

    page.get_by_label("휴대폰번호", exact=True).fill(mobile)
    page.get_by_role("button", name="휴대폰번호 인증").click()
    expect(page.get_by_text("인증번호를 보냈습니다.")).to_be_visible()
    expect(page.locator("#selected-institution")).to_contain_text("종로연세의원")
    if check_countdown:
        expect(page.locator("[data-countdown]")).to_contain_text("남은 시간")
    page.get_by_label("인증번호").fill(last_sms_code(sms_log, mobile))
    page.get_by_role("button", name="확인", exact=True).click()
    expect(page.locator("#mobile-verified")).to_have_text("인증 완료")

    page.get_by_label("기관(부서) 전화번호").fill(OFFICE)


def _issue_p12(test_pki, cn: str, name: str, password: str = PASSWORD, **kwargs):
    issued = test_pki.issue(cn, **kwargs)
    return issued, test_pki.p12(issued, password, name)


def test_pressing_search_right_after_the_id_check_keeps_both(page, live_server, test_pki,
                                                            reference_data):
    """'검색' pressed while the live '중복검사' is still on its way: neither loses the other."""
    _issued, p12 = _issue_p12(test_pki, "이빠름()0010041200805281000013", "quick-search")
    _start_signup(page, live_server)
    _sign_in_dialog(page, p12, PASSWORD, opener="공인인증서 등록")
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    page.get_by_label("아이디", exact=True).fill("quick01")
    page.get_by_placeholder("기관명 또는 기관번호").fill("종로")
    page.get_by_role("button", name="중복검사").click()
    page.get_by_role("button", name="검색", exact=True).click()  # no wait in between
    expect(page.get_by_label("종로연세의원")).to_be_visible()
    expect(page.get_by_label("아이디", exact=True)).to_have_value("quick01")
    page.get_by_role("button", name="중복검사").click()
    expect(page.locator("#username-result")).to_have_text("사용할 수 있는 아이디입니다.")
    page.get_by_label("종로연세의원").check()
    page.get_by_role("button", name="검색", exact=True).click()
    # the live check's answer is carried by the form's post and shown again
    expect(page.locator("#username-result")).to_have_text("사용할 수 있는 아이디입니다.")
    expect(page.get_by_placeholder("기관명 또는 기관번호")).to_have_value("종로")


def _bind_to_someone_else(make_verified, test_pki, cn: str, name: str):
    """A certificate already bound to another account (a staff account here)."""
    from accounts.services import staff_account_create

    issued, cert = make_verified(cn)
    staff_account_create(certificate=cert, username="otheruser01", mobile="01077778888")
    return test_pki.p12(issued, PASSWORD, name)


# ---------------------------------------------------------------------------------- the wizard


def test_an_applicant_signs_up_through_the_whole_wizard_and_then_logs_in_with_the_certificate(
    page, live_server, test_pki, reference_data, sms_log
):
    from accounts.models import CertificateBinding, Consent, User
    from institutions.models import Institution
    from kdcis.models import AuditEvent
    from permissions.models import Grant

    issued, p12 = _issue_p12(test_pki, "이신규()0010041200805281000010", "sinkyu-wizard")
    jongno = Institution.objects.select_related("jurisdiction").get(number="11110101")
    health_center = jongno.jurisdiction
    assert health_center.name == "종로구보건소"

    # 01 개인정보수집동의: '다음' without the tick is refused in Korean, on the same page.
    page.goto("/")
    page.get_by_role("link", name="사용자 가입").click()
    expect(page).to_have_url(f"{live_server.url}/signup/consent/")
    page.get_by_role("button", name="다음").click()
    expect(page.locator("#agree-error")).to_have_text(
        "개인정보 수집(이용)에 동의하셔야 가입을 진행할 수 있습니다.")
    expect(page).to_have_url(f"{live_server.url}/signup/consent/")
    page.get_by_label("위의 개인정보 수집(이용)에 동의합니다.").check()
    page.get_by_role("button", name="다음").click()

    # 02 인증서등록
    expect(page).to_have_url(f"{live_server.url}/signup/certificate/")
    expect(_dialog(page)).to_be_hidden()
    _sign_in_dialog(page, p12, PASSWORD, opener="공인인증서 등록")

    # 03 사용자정보등록: the name comes from the certificate and cannot be changed.
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    name = page.get_by_label("이름", exact=True)
    expect(name).to_have_value("이신규")
    expect(name).not_to_be_editable()
    _fill_profile(page, live_server, sms_log, username="sinkyu01", check_countdown=True)
    page.get_by_role("button", name="다음", exact=True).click()

    # 04 권한신청: the jurisdiction's health center is pre-selected.
    expect(page).to_have_url(f"{live_server.url}/signup/permissions/")
    vaccination = page.get_by_label("예방접종관리 User", exact=True)
    expect(vaccination).to_be_visible()
    body = page.locator("#body_vaccination_user")
    expect(body).to_have_value(str(health_center.pk))
    expect(body.locator("option:checked")).to_have_text("종로구보건소")
    vaccination.check()
    page.get_by_role("button", name="권한 신청").click()

    # 05 가입신청완료
    expect(page).to_have_url(f"{live_server.url}/signup/done/")
    expect(page.get_by_role("status")).to_contain_text("이신규 님(sinkyu01)의 가입 신청이 접수")
    row = page.locator("table.list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("예방접종관리 User")
    expect(row).to_contain_text("종로구보건소")
    expect(row).to_contain_text("신청중")

    # What the database holds.
    user = User.objects.get(username="sinkyu01")
    assert user.status == User.Status.PENDING
    assert user.name == "이신규"
    assert user.institution_id == jongno.pk
    assert user.mobile == MOBILE and user.office_phone == OFFICE
    assert not user.has_usable_password()
    binding = CertificateBinding.objects.get(user=user)
    assert binding.fingerprint == hashlib.sha256(issued.der).hexdigest()
    assert binding.subject_cn == "이신규()0010041200805281000010"
    consent = Consent.objects.get(user=user)
    assert consent.notice_version == settings.CONSENT_NOTICE_VERSION
    grant = Grant.objects.get(user=user)
    assert grant.status == Grant.Status.REQUESTED
    assert grant.body_id == health_center.pk
    assert grant.permission_type.code == "vaccination_user"
    ref = str(user.ref)
    actions = set(AuditEvent.objects.filter(subject_ref=ref).values_list("action", flat=True))
    assert {"account.signup", "grant.requested"} <= actions
    # The audit trail holds no personal data.
    for event in AuditEvent.objects.filter(subject_ref=ref):
        assert "sinkyu01" not in str(event.new) and MOBILE not in str(event.new)

    # The certificate login of that account, in a fresh session.
    page.context.clear_cookies()
    page.goto("/login/")
    _sign_in_dialog(page, p12, PASSWORD, opener="인증서 로그인")
    expect(page.get_by_role("heading", name="가입 신청 처리 현황")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/")
    pending = page.locator("table.status-list tbody tr:not(.next-step)")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("예방접종관리 User")
    expect(pending).to_contain_text("종로구보건소")
    # what can be done while nobody decided: move or cancel it, or ask for what is left
    expect(page.get_by_role("button", name="승인기관 변경")).to_be_visible()
    expect(page.get_by_role("button", name="신청취소")).to_be_visible()
    expect(page.locator(".user-bar")).to_contain_text("이신규 님")
    assert AuditEvent.objects.filter(action="account.login", subject_ref=ref).count() == 1


# ------------------------------------------------------------------------------------ refusals


def test_a_wrong_password_is_refused_in_the_dialog_and_nothing_is_posted(
    page, live_server, test_pki, reference_data
):
    from kdcis.models import AuditEvent

    _issued, p12 = _issue_p12(test_pki, "오암호()0010041200805281000020", "wrong-pw-signup")
    _start_signup(page, live_server)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    audit_rows = AuditEvent.objects.count()

    _sign_in_dialog(page, p12, "not-the-password", opener="공인인증서 등록")
    error = _dialog_error(page)
    expect(error).to_contain_text("인증서 암호가 올바르지 않습니다")
    expect(error).to_have_text(HANGUL)
    expect(_dialog(page)).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/signup/certificate/")
    assert posts == []
    assert AuditEvent.objects.count() == audit_rows

    # The page keeps working: the right password goes through.
    _sign_in_dialog(page, p12, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    expect(page.get_by_label("이름", exact=True)).to_have_value("오암호")
    assert len(posts) == 1


def test_a_wrong_password_at_login_is_refused_in_the_dialog_and_no_login_failure_is_recorded(
    page, live_server, test_pki, reference_data
):
    from kdcis.models import AuditEvent

    _issued, p12 = _issue_p12(test_pki, "오로긴()0010041200805281000021", "wrong-pw-login")
    page.goto("/login/")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    _sign_in_dialog(page, p12, "nope-nope", opener="인증서 로그인")
    expect(_dialog_error(page)).to_contain_text("인증서 암호가 올바르지 않습니다")
    expect(page).to_have_url(f"{live_server.url}/login/")
    assert posts == []
    assert not AuditEvent.objects.filter(action="account.login_failed").exists()


def test_expired_revoked_and_already_bound_certificates_are_refused_and_a_good_one_then_works(
    page, live_server, test_pki, reference_data, make_verified
):
    from accounts.models import CertificateBinding

    now = dt.datetime.now(dt.UTC)
    _e, expired = _issue_p12(test_pki, "김만료()0010041200805281000030", "expired",
                             not_before=now - dt.timedelta(days=400),
                             not_after=now - dt.timedelta(days=1))
    _r, revoked = _issue_p12(test_pki, "박폐지()0010041200805281000031", "revoked",
                             serial=test_pki.revoked_serial)
    taken = _bind_to_someone_else(make_verified, test_pki, "최중복()0010041200805281000032",
                                  "taken")
    _g, good = _issue_p12(test_pki, "정상인()0010041200805281000033", "good-after-refusals")
    bindings = CertificateBinding.objects.count()

    _start_signup(page, live_server)
    certificate_url = f"{live_server.url}/signup/certificate/"

    _sign_in_dialog(page, expired, PASSWORD, opener="공인인증서 등록")
    expect(_dialog_error(page)).to_contain_text("만료")
    expect(_dialog(page)).to_be_visible()
    expect(page.locator("#cert-page-error")).to_contain_text("만료")
    expect(page).to_have_url(certificate_url)

    _sign_in_dialog(page, revoked, PASSWORD)
    expect(_dialog_error(page)).to_contain_text("폐지")
    expect(_dialog(page)).to_be_visible()
    expect(page).to_have_url(certificate_url)

    _sign_in_dialog(page, taken, PASSWORD)
    expect(_dialog_error(page)).to_contain_text("이미 다른 사용자에게 등록")
    expect(_dialog(page)).to_be_visible()
    expect(page).to_have_url(certificate_url)
    assert CertificateBinding.objects.count() == bindings

    # The dialog can also be closed and opened again, and a good certificate goes through.
    _dialog(page).get_by_role("button", name="취소").click()
    expect(_dialog(page)).to_be_hidden()
    _sign_in_dialog(page, good, PASSWORD, opener="공인인증서 등록")
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    expect(page.get_by_label("이름", exact=True)).to_have_value("정상인")


def test_an_unknown_certificate_at_login_gets_a_message_with_a_link_to_signup(
    page, live_server, test_pki, reference_data
):
    from kdcis.models import AuditEvent

    _issued, p12 = _issue_p12(test_pki, "나처음()0010041200805281000040", "unknown-login")
    page.goto("/login/")
    _sign_in_dialog(page, p12, PASSWORD, opener="인증서 로그인")
    error = page.locator("#login-error")
    expect(error).to_contain_text("등록되지 않은 인증서입니다.")
    expect(page).to_have_url(f"{live_server.url}/login/")
    link = error.get_by_role("link", name="사용자 가입하기")
    expect(link).to_have_attribute("href", "/signup/consent/")
    failed = AuditEvent.objects.get(action="account.login_failed")
    assert failed.new == {"reason": "unknown_certificate"}
    link.click()
    expect(page).to_have_url(f"{live_server.url}/signup/consent/")
    expect(page.get_by_role("heading", name="개인정보수집동의")).to_be_visible()


# ------------------------------------------------------------------------------------ going back


def _assert_profile_kept(page: Page, username: str) -> None:
    expect(page.get_by_label("아이디", exact=True)).to_have_value(username)
    expect(page.get_by_label("기관유형")).to_have_value(re.compile(r"^\d+$"))
    expect(page.get_by_label("기관유형").locator("option:checked")).to_have_text("병의원")
    expect(page.get_by_placeholder("기관명 또는 기관번호")).to_have_value("종로")
    expect(page.locator("#selected-institution")).to_contain_text("종로연세의원")
    expect(page.get_by_label("종로연세의원")).to_be_checked()
    expect(page.get_by_label("휴대폰번호", exact=True)).to_have_value(MOBILE)
    expect(page.locator("#mobile-verified")).to_have_text("인증 완료")
    expect(page.get_by_label("기관(부서) 전화번호")).to_have_value(OFFICE)


def test_the_previous_link_on_the_permissions_step_keeps_what_was_typed_on_the_profile_step(
    page, live_server, test_pki, reference_data, sms_log
):
    _issued, p12 = _issue_p12(test_pki, "한이전()0010041200805281000050", "back-link")
    _start_signup(page, live_server)
    _sign_in_dialog(page, p12, PASSWORD, opener="공인인증서 등록")
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    _fill_profile(page, live_server, sms_log, username="hanback01")
    page.get_by_role("button", name="다음", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/signup/permissions/")

    page.get_by_role("link", name="이전").click()
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    _assert_profile_kept(page, "hanback01")

    # And '다음' goes on again without typing anything.
    page.get_by_role("button", name="다음", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/signup/permissions/")
    expect(page.get_by_label("예방접종관리 User", exact=True)).to_be_visible()


def test_the_browser_back_button_on_the_permissions_step_keeps_what_was_typed(
    page, live_server, test_pki, reference_data, sms_log
):
    _issued, p12 = _issue_p12(test_pki, "한뒤로()0010041200805281000051", "back-button")
    _start_signup(page, live_server)
    _sign_in_dialog(page, p12, PASSWORD, opener="공인인증서 등록")
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    _fill_profile(page, live_server, sms_log, username="hanback02")
    page.get_by_role("button", name="다음", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/signup/permissions/")

    refused = ""
    try:
        page.go_back()
    except PlaywrightError as exc:
        refused = str(exc.message).splitlines()[0]
    # Every profile button posts and the view answers the POST with a page (no redirect), so
    # the history entry before the permissions step is a POST result; pages are
    # `Cache-Control: no-store`, so Chromium cannot show it again without resubmitting.
    assert not refused, f"Back from the permissions step does not show the profile form: {refused}"
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    _assert_profile_kept(page, "hanback02")

