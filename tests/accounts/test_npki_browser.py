"""The certificate selection window with what Korean users hold, driven in the OS Chromium.

The NPKI folders and SEED .p12 files are written by accounts/npki.py with OpenSSL's SEED
(through ``cryptography``); the page opens them with our own static/js/seed.js. Only the
certificate and the signature are posted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts import npki
from tests.accounts.helpers import bind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "npki-Pass-2026!"
FILE_LABEL = "인증서 파일 (.p12, .pfx 또는 signCert.der와 signPri.key)"
FOLDER_LABEL = "인증서 폴더 (NPKI)"
HANGUL = re.compile(r"[가-힣]")


def _dialog(page: Page):
    return page.locator("#cert-dialog")


def _error(page: Page):
    return _dialog(page).locator("[data-cert-error]")


def _seoul_date(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d")


def _start_signup(page: Page, live_server) -> None:
    page.goto("/signup/consent/")
    page.get_by_label("위의 개인정보 수집(이용)에 동의합니다.").check()
    page.get_by_role("button", name="다음").click()
    expect(page).to_have_url(f"{live_server.url}/signup/certificate/")
    page.get_by_role("button", name="공인인증서 등록").click()
    expect(_dialog(page)).to_be_visible()


def _posts(page: Page) -> list:
    posts: list = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    return posts


def _posted_fields(request) -> set[str]:
    from urllib.parse import parse_qs

    return set(parse_qs(request.post_data or ""))


def test_signup_with_an_npki_folder_of_three_lists_them_and_registers_the_one_picked(
    page, live_server, test_pki, reference_data, tmp_path
):
    now = dt.datetime.now(dt.UTC)
    expired = test_pki.issue("홍길동()0010041200805281000101",
                             not_before=now - dt.timedelta(days=400),
                             not_after=now - dt.timedelta(days=2))
    current = test_pki.issue("홍길동()0010041200805281000102",
                             not_after=now + dt.timedelta(days=200))
    other = test_pki.issue("김철수()0010041200805281000103",
                           not_after=now + dt.timedelta(days=300))
    root = tmp_path / "LocalLow"
    # Two CA folders; both key forms NPKI software writes.
    npki.write_npki_folder(root, expired, PASSWORD, ca_folder="yessign", scheme="pbes1")
    npki.write_npki_folder(root, current, PASSWORD, ca_folder="yessign", scheme="pbes1")
    npki.write_npki_folder(root, other, "kim-other-pass", ca_folder="KICA", scheme="pbes2")

    _start_signup(page, live_server)
    posts = _posts(page)
    dialog = _dialog(page)
    expect(dialog.get_by_text("%USERPROFILE%\\AppData\\LocalLow\\NPKI")).to_be_attached()
    expect(dialog.get_by_text("~/Library/Preferences/NPKI")).to_be_attached()
    dialog.get_by_label(FOLDER_LABEL).set_input_files(str(root / "NPKI"))

    rows = dialog.locator(".cert-list tbody tr")
    expect(rows).to_have_count(3)
    expect(dialog.locator(".cert-list thead")).to_contain_text("구분")
    for heading in ("구분", "사용자", "만료일", "발급자"):
        expect(dialog.locator(".cert-list thead")).to_contain_text(heading)
    # The longest-running first, the expired one last, marked and not selectable.
    expect(rows.nth(0)).to_contain_text("김철수")
    expect(rows.nth(1)).to_contain_text("홍길동")
    expect(rows.nth(1)).to_contain_text(_seoul_date(current.cert.not_valid_after_utc))
    expect(rows.nth(1)).to_contain_text("범용(개인)")
    expect(rows.nth(1)).to_contain_text("KDCIS Demo PKI")
    expect(rows.nth(2)).to_contain_text("홍길동")
    expect(rows.nth(2)).to_contain_text(_seoul_date(expired.cert.not_valid_after_utc))
    expect(rows.nth(2).locator(".status-expired")).to_have_text("만료")
    expect(rows.nth(2).get_by_role("radio")).to_be_disabled()

    # '확인' without a choice asks for one; then the current 홍길동 is picked by its row.
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(_error(page)).to_have_text("목록에서 사용할 인증서를 선택해 주세요.")
    label = f"홍길동, 범용(개인), {_seoul_date(current.cert.not_valid_after_utc)}"
    dialog.get_by_role("radio", name=label).check()
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()

    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    expect(page.get_by_label("이름", exact=True)).to_have_value("홍길동")
    assert len(posts) == 1
    assert _posted_fields(posts[0]) == {"csrfmiddlewaretoken", "challenge", "certificate",
                                        "signature"}
    assert PASSWORD not in (posts[0].post_data or "")
    # The one registered is the current certificate, byte for byte.
    from accounts.models import SignupDraft

    (draft,) = SignupDraft.objects.all()
    assert draft.data["certificate"]["fingerprint"] == hashlib.sha256(current.der).hexdigest()


def test_login_with_the_two_files_of_a_certificate_folder(
    page, live_server, personas, test_pki, tmp_path
):
    issued = test_pki.issue("김앨리()0010041200805281000111")
    bind(personas.alice, issued)
    password = "앨리스-비밀-2026"  # not ASCII: the key takes the password's UTF-8 bytes
    folder = npki.write_npki_folder(tmp_path, issued, password, ca_folder="yessign",
                                    scheme="pbes2")

    page.goto("/login/")
    page.get_by_role("button", name="인증서 로그인").click()
    dialog = _dialog(page)
    dialog.get_by_label(FILE_LABEL).set_input_files(
        [str(folder / "signCert.der"), str(folder / "signPri.key")])
    # One certificate: chosen already.
    expect(dialog.get_by_role("radio")).to_be_checked()
    dialog.get_by_label("인증서 암호").fill(password)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(page.get_by_role("heading", name="가입 신청 처리 현황")).to_be_visible()
    expect(page.locator(".user-bar")).to_contain_text("김앨리 님")


def test_login_with_a_seed_p12_and_a_wrong_password_first(
    page, live_server, personas, test_pki, tmp_path
):
    from kdcis.models import AuditEvent

    issued = test_pki.issue("오보건()0010041200805281000121")
    bind(personas.oscar, issued)
    p12 = tmp_path / "oscar.p12"
    p12.write_bytes(npki.to_seed_p12(issued, PASSWORD, ca=test_pki.ca, scheme="pbes1"))

    page.goto("/login/")
    posts = _posts(page)
    page.get_by_role("button", name="인증서 로그인").click()
    dialog = _dialog(page)
    dialog.get_by_label(FILE_LABEL).set_input_files(str(p12))
    dialog.get_by_label("인증서 암호").fill("not-the-password")
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(_error(page)).to_have_text(
        "인증서 암호가 올바르지 않습니다. 암호를 확인한 뒤 다시 입력해 주세요.")
    expect(dialog.get_by_label("인증서 암호")).to_be_focused()
    assert posts == []
    assert not AuditEvent.objects.filter(action="account.login_failed").exists()

    # The same choice, the right password.
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(page.locator(".user-bar")).to_contain_text("오보건 님")
    assert len(posts) == 1


def test_signup_with_a_p12_whose_keys_and_certificates_are_all_seed_encrypted(
    page, live_server, test_pki, reference_data, tmp_path
):
    issued = test_pki.issue("서시드()0010041200805281000125")
    p12 = tmp_path / "all-seed.pfx"
    p12.write_bytes(npki.to_seed_p12(issued, PASSWORD, ca=test_pki.ca, scheme="pbes2",
                                     encrypt_certificates=True))
    _start_signup(page, live_server)
    dialog = _dialog(page)
    dialog.get_by_label(FILE_LABEL).set_input_files(str(p12))
    expect(dialog.locator(".cert-list tbody tr")).to_contain_text("all-seed.pfx")
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    expect(page.get_by_label("이름", exact=True)).to_have_value("서시드")


def test_a_wrong_password_for_an_npki_key_is_said_in_korean_and_the_user_can_retry(
    page, live_server, test_pki, reference_data, tmp_path
):
    issued = test_pki.issue("이재시()0010041200805281000131")
    folder = npki.write_npki_folder(tmp_path, issued, PASSWORD, ca_folder="CrossCert",
                                    scheme="pbes1")
    _start_signup(page, live_server)
    posts = _posts(page)
    dialog = _dialog(page)
    dialog.get_by_label(FOLDER_LABEL).set_input_files(str(folder))
    expect(dialog.locator(".cert-list tbody tr")).to_have_count(1)
    for wrong in ("wrong-1", "npki-pass-2026!"):
        dialog.get_by_label("인증서 암호").fill(wrong)
        dialog.get_by_role("button", name="확인", exact=True).click()
        expect(_error(page)).to_contain_text("인증서 암호가 올바르지 않습니다")
        expect(_error(page)).to_have_text(HANGUL)
    assert posts == []
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/signup/profile/")
    expect(page.get_by_label("이름", exact=True)).to_have_value("이재시")


def test_a_folder_without_a_certificate_and_files_we_cannot_use_get_clear_messages(
    page, live_server, test_pki, reference_data, tmp_path
):
    empty = tmp_path / "Documents"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("memo")
    (empty / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0not really")
    issued = test_pki.issue("박혼자()0010041200805281000141")
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "signCert.der").write_bytes(issued.der)
    pem = tmp_path / "cert.pem"
    pem.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")

    _start_signup(page, live_server)
    posts = _posts(page)
    dialog = _dialog(page)
    dialog.get_by_label(FOLDER_LABEL).set_input_files(str(empty))
    expect(_error(page)).to_contain_text("선택한 폴더에서 인증서를 찾지 못했습니다.")
    expect(_error(page)).to_contain_text("NPKI 폴더")
    expect(dialog.locator("[data-cert-list]")).to_be_hidden()
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(_error(page)).to_contain_text("인증서 폴더를 선택해 주세요")

    dialog.get_by_label(FILE_LABEL).set_input_files(str(lone / "signCert.der"))
    expect(_error(page)).to_contain_text("signPri.key를 함께 선택해 주세요")
    dialog.get_by_label(FILE_LABEL).set_input_files(str(pem))
    expect(_error(page)).to_contain_text("PEM(텍스트) 형식")
    expect(_error(page)).to_contain_text(".p12·.pfx")
    broken = tmp_path / "broken.pfx"
    broken.write_bytes(b"this is no PKCS#12 file")
    dialog.get_by_label(FILE_LABEL).set_input_files(str(broken))
    expect(dialog.get_by_role("radio")).to_be_checked()
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(_error(page)).to_contain_text(
        "선택한 .p12·.pfx 파일을 읽을 수 없습니다(PKCS#12 형식이 아니거나 손상된 파일입니다).")
    # A signPri.key under a scheme nobody here knows: said so, with what is supported.
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "signCert.der").write_bytes(issued.der)
    (odd / "signPri.key").write_bytes(npki._seq(
        npki._seq(npki._oid("1.2.410.200004.1.99"), npki._seq(npki._octets(b"12345678"))),
        npki._octets(bytes(64))))
    dialog.get_by_label(FILE_LABEL).set_input_files(
        [str(odd / "signCert.der"), str(odd / "signPri.key")])
    expect(dialog.get_by_role("radio")).to_be_checked()
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(_error(page)).to_contain_text("지원하지 않는 방식으로 암호화되어 있습니다")
    expect(_error(page)).to_contain_text("SEED(pbeWithSHA1AndSeed-CBC, PBES2-SEED), AES, 3DES")
    assert posts == []
    expect(page).to_have_url(f"{live_server.url}/signup/certificate/")


def test_the_window_lists_certificates_without_sideways_scrolling_at_360px(
    page, live_server, test_pki, reference_data, tmp_path
):
    now = dt.datetime.now(dt.UTC)
    for n, cn in enumerate(("JEAN-PIERRE DUPONT()0010041200805281000151",
                            "김재훈-5101640", "김흥재_0000033643")):
        npki.write_npki_folder(tmp_path, test_pki.issue(cn, not_after=now + dt.timedelta(
            days=100 + n)), PASSWORD, ca_folder="SignKorea")
    page.set_viewport_size({"width": 360, "height": 740})
    _start_signup(page, live_server)
    dialog = _dialog(page)
    dialog.get_by_label(FOLDER_LABEL).set_input_files(str(tmp_path / "NPKI"))
    rows = dialog.locator(".cert-list tbody tr")
    expect(rows).to_have_count(3)
    # The names as the CN carries them, cut at the NPKI separators only.
    expect(rows.nth(0)).to_contain_text("김흥재")
    expect(rows.nth(1)).to_contain_text("김재훈")
    expect(rows.nth(2)).to_contain_text("JEAN-PIERRE DUPONT")
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
        " document.querySelector('.cert-dialog-box').scrollWidth,"
        " document.querySelector('.cert-dialog-box').clientWidth]")
    assert widths[0] <= widths[1] and widths[2] <= widths[3], widths
    # Keyboard: Tab reaches the list's radio; Space picks it.
    rows.nth(1).get_by_role("radio").focus()
    page.keyboard.press("Space")
    expect(rows.nth(1).get_by_role("radio")).to_be_checked()


def test_withdrawal_is_confirmed_with_the_certificate_of_a_usb_stick_npki_folder(
    page, live_server, personas, test_pki, tmp_path
):
    from accounts.models import User

    issued = test_pki.issue("박밥()0010041200805281000161")
    bind(personas.bob, issued)
    usb = tmp_path / "USB"  # a stick holds NPKI/ at its root; the whole stick is picked
    (usb / "사진").mkdir(parents=True)
    (usb / "사진" / "a.jpg").write_bytes(b"\xff\xd8")
    npki.write_npki_folder(usb, issued, PASSWORD, ca_folder="yessign", scheme="pbes2")

    page.goto("/login/")
    page.get_by_role("button", name="인증서 로그인").click()
    _dialog(page).get_by_label(FOLDER_LABEL).set_input_files(str(usb))
    expect(_dialog(page).get_by_role("radio")).to_be_checked()
    _dialog(page).get_by_label("인증서 암호").fill(PASSWORD)
    _dialog(page).get_by_role("button", name="확인", exact=True).click()
    expect(page.locator(".user-bar")).to_contain_text("박밥 님")

    page.goto("/me/withdraw/")
    page.get_by_role("button", name="인증서 확인 후 탈퇴").click()
    dialog = _dialog(page)
    dialog.get_by_label(FOLDER_LABEL).set_input_files(str(usb / "NPKI" / "yessign"))
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(page.get_by_role("heading", name="탈퇴가 완료되었습니다")).to_be_visible()
    assert User.objects.get(pk=personas.bob.pk).status == "withdrawn"


def test_the_window_with_its_list_open_passes_axe(page, live_server, test_pki, reference_data,
                                                   tmp_path):
    from tests.accessibility.test_axe import Axe

    now = dt.datetime.now(dt.UTC)
    npki.write_npki_folder(tmp_path, test_pki.issue(
        "나만료()0010041200805281000171", not_before=now - dt.timedelta(days=400),
        not_after=now - dt.timedelta(days=1)), PASSWORD, ca_folder="KICA")
    npki.write_npki_folder(tmp_path, test_pki.issue("나유효()0010041200805281000172"),
                           PASSWORD, ca_folder="KICA")
    axe = Axe(page)
    _start_signup(page, live_server)
    dialog = _dialog(page)
    dialog.get_by_label(FOLDER_LABEL).set_input_files(str(tmp_path / "NPKI"))
    expect(dialog.locator(".cert-list tbody tr")).to_have_count(2)
    expect(dialog.locator("[data-cert-list-status]")).to_have_text("인증서 2개를 찾았습니다.")
    dialog.locator("details.cert-where summary").click()
    axe.check("certificate window, list and NPKI locations open")
    page.set_viewport_size({"width": 360, "height": 740})
    axe.check("certificate window at 360 px")
    axe.assert_clean()


def test_an_officer_logs_in_with_the_sig_pair_of_a_gpki_folder(
    page, live_server, personas, test_pki, tmp_path
):
    issued = test_pki.issue("오보건()0010041200805281000181")
    bind(personas.oscar, issued)
    npki.write_gpki_folder(tmp_path, issued, PASSWORD, stem="001오보건", scheme="pbes2")

    page.goto("/login/")
    page.get_by_role("button", name="인증서 로그인").click()
    dialog = _dialog(page)
    dialog.get_by_label(FOLDER_LABEL).set_input_files(str(tmp_path / "GPKI"))
    rows = dialog.locator(".cert-list tbody tr")
    expect(rows).to_have_count(1)  # the _env pair is not offered
    expect(rows).to_contain_text("오보건")
    dialog.get_by_label("인증서 암호").fill(PASSWORD)
    dialog.get_by_role("button", name="확인", exact=True).click()
    expect(page.locator(".user-bar")).to_contain_text("오보건 님")
