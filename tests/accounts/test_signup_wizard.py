"""The signup wizard through the test client: order, validation, messages, nothing lost."""

import datetime as dt

import pytest

from accounts.models import CertificateBinding, Consent, User
from kdcis.models import AuditEvent
from permissions.models import Grant
from tests.accounts.helpers import (
    complete_profile,
    post_certificate,
    sms_code_from_outbox,
    walk_to_profile,
)

pytestmark = pytest.mark.django_db


def html(response) -> str:
    from html import unescape

    return unescape(response.content.decode())


def test_each_step_sends_you_back_to_the_first_incomplete_one(client, reference_data):
    assert client.get("/signup/profile/").url == "/signup/consent/"
    assert client.get("/signup/permissions/").url == "/signup/consent/"
    assert client.get("/signup/done/").url == "/signup/consent/"
    client.post("/signup/consent/", {"agree": "on"})
    assert client.get("/signup/profile/").url == "/signup/certificate/"


def test_the_consent_must_be_ticked(client):
    page = client.get("/signup/consent/")
    body = html(page)
    for item in ("수집·이용 목적", "수집하는 항목", "보유·이용 기간", "동의를 거부할 권리"):
        assert item in body
    assert 'name="agree" id="id_agree">' in body  # unticked by default
    response = client.post("/signup/consent/", {}, follow=True)
    assert response.redirect_chain == [("/signup/consent/", 302)]
    assert "동의하셔야 가입을 진행할 수 있습니다" in html(response)
    assert client.post("/signup/consent/", {"agree": "on"}).url == "/signup/certificate/"


def test_the_step_bar_names_the_five_steps(client):
    body = html(client.get("/signup/consent/"))
    for label in ("개인정보수집동의", "인증서등록", "사용자정보등록", "권한신청", "가입신청완료"):
        assert label in body


def test_a_valid_personal_certificate_moves_on_and_sets_the_name(client, test_pki,
                                                                 reference_data):
    walk_to_profile(client, test_pki, cn="박성용(park sungyong)0004047H000190474")
    body = html(client.get("/signup/profile/"))
    assert 'value="박성용" readonly' in body


@pytest.mark.parametrize(("kind", "message"), [
    ("expired", "만료"),
    ("not_yet_valid", "유효기간"),
    ("revoked", "폐지"),
    ("unknown_ca", "신뢰"),
    ("forged", "서명"),
    ("corporate", "기관"),
])
def test_a_refused_certificate_says_why_and_lets_you_try_again(client, test_pki, kind,
                                                                message):
    from accounts import pki

    now = dt.datetime.now(dt.UTC)
    client.post("/signup/consent/", {"agree": "on"})
    kwargs = {}
    sign_with = None
    ca = test_pki.ca
    if kind == "expired":
        kwargs = {"not_before": now - dt.timedelta(days=400),
                  "not_after": now - dt.timedelta(days=1)}
    elif kind == "not_yet_valid":
        kwargs = {"not_before": now + dt.timedelta(days=2),
                  "not_after": now + dt.timedelta(days=30)}
    elif kind == "revoked":
        kwargs = {"serial": test_pki.revoked_serial}
    elif kind == "corporate":
        kwargs = {"policy_oid": pki.DEMO_CORPORATE_POLICY_OID}
    if kind == "unknown_ca":
        other = pki.make_ca("Other CA", key=pki.cached_key("other-ca"))
        issued = pki.make_user_certificate(other, common_name="가짜()1",
                                           key=pki.cached_key("u1"))
    else:
        issued = pki.make_user_certificate(ca, common_name="홍길동()123",
                                           key=pki.cached_key(f"user-{kind}"), **kwargs)
    if kind == "forged":
        sign_with = pki.cached_key("forger")
    response = post_certificate(client, "/signup/certificate/", issued, sign_with=sign_with,
                                follow=True)
    assert response.redirect_chain[-1][0] == "/signup/certificate/"
    assert message in html(response)
    good = test_pki.issue("홍길동()0010041200805281234567")
    assert post_certificate(client, "/signup/certificate/", good).url == "/signup/profile/"


def test_a_replayed_challenge_is_refused(client, test_pki):
    from accounts import pki

    client.post("/signup/consent/", {"agree": "on"})
    issued = test_pki.issue("홍길동()1")
    page = client.get("/signup/certificate/")
    challenge = page.context["challenge"]
    post_certificate(client, "/signup/certificate/", issued, challenge=challenge)
    client.post("/signup/restart/")
    client.post("/signup/consent/", {"agree": "on"})
    import base64

    replay = client.post("/signup/certificate/", {
        "challenge": challenge, "certificate": base64.b64encode(issued.der).decode(),
        "signature": base64.b64encode(pki.sign_challenge(issued.key, challenge.encode())).decode(),
    }, follow=True)
    assert replay.redirect_chain[-1][0] == "/signup/certificate/"
    assert "등록된 인증서" not in html(replay)


def test_a_certificate_bound_to_someone_else_is_refused(client, test_pki, personas):
    from accounts import pki

    # Re-issue nothing: bind a fresh certificate to alice, then try it in the wizard.
    from tests.accounts.helpers import bind

    issued = test_pki.issue("김앨리()999")
    bind(personas.alice, issued)
    client.post("/signup/consent/", {"agree": "on"})
    response = post_certificate(client, "/signup/certificate/", issued, follow=True)
    assert "이미 다른 사용자에게 등록" in html(response)
    assert pki  # the module is used above through test_pki


@pytest.mark.parametrize(("username", "message"), [
    ("", "아이디를 입력하세요"),
    ("abc", "4~20자"),
    ("1abc", "영문 소문자로 시작"),
    ("Abcd", "영문 소문자"),
    ("abcd_1", "영문 소문자"),
    ("a" * 21, "4~20자"),
    ("홍길동아이디", "영문 소문자"),
])
def test_bad_ids_get_a_korean_message_and_keep_the_rest(client, test_pki, reference_data,
                                                        username, message):
    walk_to_profile(client, test_pki)
    response = client.post("/signup/profile/check-id/", {
        "username": username, "mobile": "01012345678", "office_phone": "0221483500",
        "query": "종로"}, follow=True)
    body = html(response)
    assert message in body
    assert 'value="01012345678"' in body and 'value="0221483500"' in body
    assert 'value="종로"' in body


def test_a_taken_id_is_refused_by_the_check_and_again_on_submit(client, test_pki, personas):
    walk_to_profile(client, test_pki)
    response = client.get("/signup/check-id/", {"username": "alice01"})
    assert response.json()["ok"] is False
    assert "이미 사용 중인 아이디" in response.json()["message"]
    assert client.get("/signup/check-id/", {"username": "freshid01"}).json()["ok"] is True
    response = complete_profile(client, username="alice01", follow=True)
    assert "이미 사용 중인 아이디" in html(response)


@pytest.mark.parametrize(("office", "message"), [
    ("", "기관(부서) 전화번호를 입력하세요"),
    ("12345678", "지역번호"),
    ("0991234567", "지역번호"),
    ("02123", "지역번호"),
    ("02abc45678", "숫자만"),
])
def test_bad_office_phones_get_a_message(client, test_pki, reference_data, office, message):
    walk_to_profile(client, test_pki)
    response = complete_profile(client, office_phone=office, follow=True)
    assert message in html(response)


def test_office_phone_with_dashes_is_normalised(client, test_pki, reference_data):
    walk_to_profile(client, test_pki)
    assert complete_profile(client, office_phone="02-2148-3500").url == "/signup/permissions/"


def test_a_non_010_mobile_is_refused_before_any_sms(client, test_pki, reference_data):
    from kdcis.models import SmsMessage

    walk_to_profile(client, test_pki)
    response = client.post("/signup/profile/send-code/", {"mobile": "0111234567"},
                           follow=True)
    assert "010으로 시작하는 11자리" in html(response)
    assert not SmsMessage.objects.exists()


def test_next_without_phone_verification_or_institution_is_refused(client, test_pki,
                                                                   reference_data):
    walk_to_profile(client, test_pki)
    response = client.post("/signup/profile/", {
        "username": "newuser01", "mobile": "01012345678", "office_phone": "0221483500"},
        follow=True)
    body = html(response)
    assert "'휴대폰번호 인증'을 완료하세요" in body
    assert "소속기관을 선택하세요" in body


def test_the_institution_search_pages_and_hints_when_nothing_is_found(client, test_pki,
                                                                      reference_data):
    walk_to_profile(client, test_pki)
    body = html(client.post("/signup/profile/search/", {"query": "없는기관이름"}, follow=True))
    assert "검색된 기관이 없습니다" in body and "기관등록 절차 안내" in body
    body = html(client.post("/signup/profile/search/", {"query": "11110101"}, follow=True))
    assert "종로연세의원" in body
    body = html(client.post("/signup/profile/search/", {"query": "의원"}, follow=True))
    assert "다음 목록" in body
    body = html(client.post("/signup/profile/results/", {"query": "의원", "page": "2"}, follow=True))
    assert "2 / " in body


def test_the_whole_wizard_creates_one_pending_account(client, test_pki, reference_data):
    issued = walk_to_profile(client, test_pki)
    assert complete_profile(client).url == "/signup/permissions/"
    body = html(client.get("/signup/permissions/"))
    assert "예방접종관리 User" in body and "교육관리 User(학습자)" in body
    from institutions.models import ApprovingBody

    jongno = ApprovingBody.objects.get(code="HC-11110-1")
    central = ApprovingBody.objects.get(kind="central")
    assert f'value="{jongno.pk}" selected' in body
    assert f'value="{central.pk}" selected' in body
    assert "권한을 하나 이상" in html(client.post("/signup/permissions/", {}, follow=True))
    response = client.post("/signup/permissions/", {
        "perm_vaccination_user": "on", "body_vaccination_user": str(jongno.pk),
        "body_education_learner": str(central.pk)})
    assert response.url == "/signup/done/"
    user = User.objects.get(username="newuser01")
    assert user.status == "pending" and user.name == "이신규"
    assert user.mobile == "01055556666" and user.office_phone == "0221483500"
    import hashlib

    assert CertificateBinding.objects.get(user=user).fingerprint == hashlib.sha256(
        issued.der).hexdigest()
    assert Consent.objects.get(user=user).notice_version
    grant = Grant.objects.get(user=user)
    assert grant.status == "requested" and grant.body == jongno
    assert AuditEvent.objects.filter(action="account.signup", subject_ref=str(user.ref)).exists()
    done = html(client.get("/signup/done/"))
    assert "종로구보건소" in done and "가입 신청이 접수되었습니다" in done
    # After submission every step leads to the done page: nothing is created twice.
    assert client.get("/signup/consent/").url == "/signup/done/"
    assert client.post("/signup/permissions/", {"perm_vaccination_user": "on"}).url == (
        "/signup/done/")
    assert User.objects.filter(username="newuser01").count() == 1


def test_a_body_from_another_kind_cannot_be_forced_by_tampering(client, test_pki,
                                                                 reference_data):
    from institutions.models import ApprovingBody

    walk_to_profile(client, test_pki)
    complete_profile(client)
    jongno = ApprovingBody.objects.get(code="HC-11110-1")
    response = client.post("/signup/permissions/", {
        "perm_education_learner": "on", "body_education_learner": str(jongno.pk)},
        follow=True)
    assert "승인기관을 선택하세요" in html(response)
    assert not User.objects.filter(username="newuser01").exists()


def test_back_keeps_what_was_typed(client, test_pki, reference_data):
    walk_to_profile(client, test_pki)
    complete_profile(client)
    body = html(client.get("/signup/profile/"))
    assert 'value="newuser01"' in body and 'value="01055556666"' in body
    assert "종로연세의원" in body and "인증 완료" in body


class TestPhoneVerification:
    def test_five_wrong_codes_void_it(self, client, test_pki, reference_data):
        walk_to_profile(client, test_pki)
        client.post("/signup/profile/send-code/", {"mobile": "01055556666"})
        good = sms_code_from_outbox("01055556666")
        wrong = "000000" if good != "000000" else "111111"
        for left in (4, 3, 2, 1):
            body = html(client.post("/signup/profile/verify-code/", {
                "mobile": "01055556666", "code": wrong}, follow=True))
            assert f"남은 입력 횟수: {left}회" in body
        body = html(client.post("/signup/profile/verify-code/", {
            "mobile": "01055556666", "code": wrong}, follow=True))
        assert "더 이상 사용할 수 없습니다" in body
        body = html(client.post("/signup/profile/verify-code/", {
            "mobile": "01055556666", "code": good}, follow=True))
        assert "다시 받으세요" in body

    def test_an_empty_or_non_numeric_code_costs_no_try_and_full_width_digits_work(
            self, client, test_pki, reference_data):
        from accounts.models import PhoneVerification

        walk_to_profile(client, test_pki)
        client.post("/signup/profile/send-code/", {"mobile": "01055556666"})
        for slip in ("", "abcdef", "12 34", "１２３"):
            body = html(client.post("/signup/profile/verify-code/", {
                "mobile": "01055556666", "code": slip}, follow=True))
            assert "인증번호 6자리 숫자를 입력하세요" in body
        assert PhoneVerification.objects.get().attempts == 0
        full_width = sms_code_from_outbox("01055556666").translate(
            str.maketrans("0123456789", "０１２３４５６７８９"))
        body = html(client.post("/signup/profile/verify-code/", {
            "mobile": "01055556666", "code": full_width}, follow=True))
        assert "휴대폰번호 인증이 완료되었습니다" in body

    def test_resend_waits_sixty_seconds(self, client, test_pki, reference_data):
        walk_to_profile(client, test_pki)
        client.post("/signup/profile/send-code/", {"mobile": "01055556666"})
        body = html(client.post("/signup/profile/send-code/", {
            "mobile": "01055556666"}, follow=True))
        assert "초 후에 다시 받을 수 있습니다" in body

    def test_an_expired_code_is_refused(self, client, test_pki, reference_data):
        from accounts.models import PhoneVerification

        walk_to_profile(client, test_pki)
        client.post("/signup/profile/send-code/", {"mobile": "01055556666"})
        code = sms_code_from_outbox("01055556666")
        from django.utils import timezone

        PhoneVerification.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        body = html(client.post("/signup/profile/verify-code/", {
            "mobile": "01055556666", "code": code}, follow=True))
        assert "인증 시간이 지났습니다" in body

    def test_codes_are_stored_hashed(self, client, test_pki, reference_data):
        from accounts.models import PhoneVerification

        walk_to_profile(client, test_pki)
        client.post("/signup/profile/send-code/", {"mobile": "01055556666"})
        code = sms_code_from_outbox("01055556666")
        assert code not in PhoneVerification.objects.get().code_hash

    def test_a_code_is_bound_to_its_session(self, client, test_pki, reference_data):
        from django.test import Client

        walk_to_profile(client, test_pki)
        client.post("/signup/profile/send-code/", {"mobile": "01055556666"})
        code = sms_code_from_outbox("01055556666")
        other = Client()
        walk_to_profile(other, test_pki, cn="다른이()77")
        body = html(other.post("/signup/profile/verify-code/", {
            "mobile": "01055556666", "code": code}, follow=True))
        assert "인증번호를 받으세요" in body

    def test_sends_per_number_per_day_are_capped(self, client, test_pki, reference_data,
                                                 settings):
        settings.PHONE_CODE_RESEND_SECONDS = 0
        settings.PHONE_CODE_MAX_PER_NUMBER_PER_DAY = 2
        walk_to_profile(client, test_pki)
        for _ in range(2):
            client.post("/signup/profile/send-code/", {"mobile": "01055556666"})
        body = html(client.post("/signup/profile/send-code/", {
            "mobile": "01055556666"}, follow=True))
        assert "하루에 받을 수 있는 인증번호 횟수를 넘었습니다" in body

    def test_sends_per_ip_per_hour_are_capped(self, client, test_pki, reference_data,
                                              settings):
        settings.PHONE_CODE_MAX_PER_IP_PER_HOUR = 2
        walk_to_profile(client, test_pki)
        for n in range(2):
            client.post("/signup/profile/send-code/", {"mobile": f"0105555000{n}"})
        body = html(client.post("/signup/profile/send-code/", {
            "mobile": "01055550009"}, follow=True))
        assert "인증번호 요청이 너무 많습니다" in body

    def test_changing_the_number_after_verification_needs_a_new_code(self, client, test_pki,
                                                                     reference_data):
        walk_to_profile(client, test_pki)
        complete_profile(client, mobile="01055556666")
        response = client.post("/signup/profile/", {
            "username": "newuser01", "mobile": "01077778888", "office_phone": "0221483500"},
            follow=True)
        assert "'휴대폰번호 인증'을 완료하세요" in html(response)


def test_the_live_id_check_is_rate_limited_per_ip(client, test_pki, reference_data, settings):
    settings.ID_CHECK_MAX_PER_IP = 3
    walk_to_profile(client, test_pki)
    for n in range(3):
        assert client.get("/signup/check-id/", {"username": f"free{n}id"}).status_code == 200
    response = client.get("/signup/check-id/", {"username": "free9id"})
    assert response.status_code == 429 and "잠시 후 다시 시도하세요" in response.json()["message"]


def test_signup_time_phone_audit_rows_keep_no_address(client, test_pki, reference_data):
    """Nothing could erase them with the person later: the address stays on the verification
    record, which is purged after two days (and deleted with the number at withdrawal)."""
    from accounts.models import PhoneVerification
    from kdcis.models import AuditEvent

    walk_to_profile(client, test_pki)
    complete_profile(client, mobile="01055556666")
    rows = AuditEvent.objects.filter(action__startswith="phone.")
    assert {r.action for r in rows} >= {"phone.code_sent", "phone.verified"}
    assert all(r.ip is None for r in rows)
    assert PhoneVerification.objects.get().ip == "127.0.0.1"


# ------------------------------------------------- the buttons of 사용자정보등록, without script

TYPED = {"username": "typed01", "query": "종로", "mobile": "0105555", "office_phone": "022148"}


def _buttons(body: str) -> dict[str, tuple[str, dict]]:
    """The form's submit buttons as a browser without script sends them: label → (the URL
    the form goes to, the button's own name and value)."""
    import re

    form_url = re.search(r'<form method="post" action="([^"]+)"[^>]*data-profile-form', body)
    buttons = {}
    for attrs, label in re.findall(r'<button type="submit"([^>]*)>([^<]+)</button>', body):
        url = re.search(r'formaction="([^"]+)"', attrs)
        named = re.search(r'name="([^"]+)" value="([^"]+)"', attrs)
        buttons[label.strip()] = (url.group(1) if url else form_url.group(1),
                                  dict([named.groups()]) if named else {})
    return buttons


@pytest.mark.parametrize(("label", "message"), [
    ("저장", None),  # the Enter key's button
    ("중복검사", "사용할 수 있는 아이디입니다."),
    ("검색", "종로연세의원"),
    ("휴대폰번호 인증", "010으로 시작하는 11자리"),
    ("다음", "지역번호를 포함한 올바른 전화번호"),
])
def test_each_button_answers_on_the_same_page_and_keeps_what_was_typed(
        client, test_pki, reference_data, label, message):
    walk_to_profile(client, test_pki)
    url, own = _buttons(html(client.get("/signup/profile/")))[label]
    response = client.post(url, {**TYPED, **own}, follow=True)
    assert response.redirect_chain == [("/signup/profile/", 302)]
    body = html(response)
    for value in TYPED.values():
        assert f'value="{value}"' in body
    if message:
        assert message in body


def test_the_results_pages_and_the_code_check_keep_what_was_typed(client, test_pki,
                                                                 reference_data):
    walk_to_profile(client, test_pki)
    typed = {**TYPED, "query": "의원", "mobile": "01055556666"}
    url, own = _buttons(html(client.post("/signup/profile/search/", typed, follow=True)))[
        "다음 목록"]
    body = html(client.post(url, {**typed, **own}, follow=True))
    assert "2 / " in body and 'value="의원"' in body and 'value="typed01"' in body
    url, own = _buttons(html(client.post("/signup/profile/send-code/", typed, follow=True)))[
        "확인"]
    body = html(client.post(url, {**typed, **own, "code": "12"}, follow=True))
    assert "인증번호 6자리 숫자를 입력하세요" in body
    assert 'value="01055556666"' in body and 'value="typed01"' in body


def test_a_search_without_a_name_says_what_to_type(client, test_pki, reference_data):
    walk_to_profile(client, test_pki)
    body = html(client.post("/signup/profile/search/", {**TYPED, "query": "  "}, follow=True))
    assert "검색할 기관명 또는 기관번호를 입력하세요" in body
    assert 'value="typed01"' in body


def test_a_page_number_that_is_not_one_shows_the_first_page(client, test_pki,
                                                            reference_data):
    walk_to_profile(client, test_pki)
    client.post("/signup/profile/search/", {"query": "의원"})
    for page in ("²", "-3", "9" * 5000, "abc"):
        response = client.post("/signup/profile/results/", {"query": "의원", "page": page},
                               follow=True)
        assert response.status_code == 200 and "1 / " in html(response)
