"""Certificate login: the same challenge-response and checks as signup."""

import datetime as dt
import hashlib
from html import unescape

import pytest

from accounts.models import CertificateBinding
from kdcis.models import AuditEvent
from tests.accounts.helpers import bind, post_certificate, sms_code_from_outbox

pytestmark = pytest.mark.django_db




def test_a_pending_account_lands_on_its_requests_status(client, test_pki, personas):
    issued = test_pki.issue("김앨리()1001")
    bind(personas.alice, issued)
    response = post_certificate(client, "/login/", issued)
    assert response.url == "/"
    body = unescape(client.get("/").content.decode())
    assert "가입 신청 처리 현황" in body
    assert "종로구보건소" in body and "질병관리청 예방접종관리과" in body
    assert "메뉴보기" not in body  # a pending account sees its requests and nothing else
    assert AuditEvent.objects.filter(action="account.login",
                                     subject_ref=str(personas.alice.ref)).exists()


def test_an_officer_lands_on_the_main_screen(client, test_pki, personas):
    issued = test_pki.issue("오보건()1002")
    bind(personas.oscar, issued)
    post_certificate(client, "/login/", issued)
    body = unescape(client.get("/").content.decode())
    assert "메뉴보기" in body and "권한 승인 관리" in body


def test_an_unknown_certificate_is_sent_to_signup(client, test_pki, reference_data):
    issued = test_pki.issue("모르는()1003")
    response = post_certificate(client, "/login/", issued)
    body = unescape(response.content.decode())
    assert "등록되지 않은 인증서입니다" in body
    assert 'href="/signup/consent/"' in body
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="account.login_failed",
                                     new__reason="unknown_certificate").exists()


def test_a_forged_signature_does_not_log_in(client, test_pki, personas):
    from accounts import pki

    issued = test_pki.issue("김앨리()1004")
    bind(personas.alice, issued)
    response = post_certificate(client, "/login/", issued, sign_with=pki.cached_key("forger"))
    assert "_auth_user_id" not in client.session
    assert "서명" in unescape(response.content.decode())


def test_failed_attempts_are_rate_limited_per_ip(client, test_pki, personas, settings):
    settings.LOGIN_MAX_FAILURES_PER_IP = 3
    stranger = test_pki.issue("모르는()1005")
    for _ in range(3):
        post_certificate(client, "/login/", stranger)
    issued = test_pki.issue("김앨리()1006")
    bind(personas.alice, issued)
    response = post_certificate(client, "/login/", issued)
    assert response.status_code == 429
    assert "로그인 실패가 너무 많습니다" in unescape(response.content.decode())
    assert "_auth_user_id" not in client.session


def test_logout_ends_the_session(client, personas):
    client.force_login(personas.oscar)
    response = client.post("/logout/")
    assert response.url == "/"
    assert "_auth_user_id" not in client.session


def test_a_renewed_certificate_is_rebound_after_a_phone_code(client, test_pki, personas):
    old = test_pki.issue("김앨리()0010041200805281777777")
    bind(personas.alice, old)
    renewed = test_pki.issue("김앨리()0010041200805281777777", serial=0xABCDEF,
                             not_after=old.cert.not_valid_after_utc + dt.timedelta(days=365))
    response = post_certificate(client, "/login/", renewed)
    assert response.url == "/login/renewed-certificate/"
    page = unescape(client.get(response.url).content.decode())
    assert "010-****-2222" in page
    client.post(response.url, {"action": "send_code"})
    code = sms_code_from_outbox(personas.alice.mobile)
    wrong = unescape(client.post(response.url, {"action": "verify_code",
                                                "code": "000000" if code != "000000"
                                                else "111111"}).content.decode())
    assert "일치하지 않습니다" in wrong
    done = client.post(response.url, {"action": "verify_code", "code": code})
    assert done.url == "/"
    binding = CertificateBinding.objects.get(user=personas.alice)
    assert binding.fingerprint == hashlib.sha256(renewed.der).hexdigest()
    assert AuditEvent.objects.filter(action="certificate.rebound").exists()
    # The old certificate no longer logs in, and is not offered as a renewal again.
    client.post("/logout/")
    again = post_certificate(client, "/login/", old)
    assert "_auth_user_id" not in client.session
    assert again.status_code == 200
    assert "갱신된 인증서로 교체되었습니다" in unescape(again.content.decode())


def test_the_rebind_page_names_its_own_button(client, test_pki, personas):
    old = test_pki.issue("김앨리()0010041200805281777778")
    bind(personas.alice, old)
    renewed = test_pki.issue("김앨리()0010041200805281777778", serial=0xABCDEE,
                             not_after=old.cert.not_valid_after_utc + dt.timedelta(days=365))
    url = post_certificate(client, "/login/", renewed).url
    page = unescape(client.post(url, {"action": "verify_code", "code": "123456"}).content.decode())
    assert "먼저 '인증번호 받기'를 눌러 인증번호를 받으세요." in page


def test_a_different_subject_is_not_offered_a_rebind(client, test_pki, personas):
    bind(personas.alice, test_pki.issue("김앨리()0010041200805281777777"))
    other = test_pki.issue("김다른()0010041200805281777777")
    response = post_certificate(client, "/login/", other)
    assert response.status_code == 200
    assert "등록되지 않은 인증서입니다" in unescape(response.content.decode())
