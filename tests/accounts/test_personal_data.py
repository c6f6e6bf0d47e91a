"""내 정보 열람 (the right of access): the person sees and downloads everything held about
them, each time audited; the helpdesk sees it only after a reveal with a reason."""

from __future__ import annotations

import json
from html import unescape

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.services import phone_code_send
from kdcis.models import AuditEvent, SmsMessage
from permissions.models import Grant
from permissions.services import grant_approve
from tests.accounts.helpers import bind, post_certificate

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 KDCIS-test"


@pytest.fixture(autouse=True)
def _supplementary_done(personas, complete_supplementary_info):
    complete_supplementary_info(personas.alice.institution)


@pytest.fixture
def alice_browser(personas, test_pki):
    """alice with an approved grant, signed in through the certificate login from a known
    browser, with a code sent to her phone in that session."""
    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
    issued = test_pki.issue("김앨리()0010041200805281999999")
    bind(personas.alice, issued)
    browser = Client(HTTP_USER_AGENT=UA)
    assert post_certificate(browser, "/login/", issued).status_code == 302
    phone_code_send(session_key=browser.session.session_key, phone=personas.alice.mobile,
                    ip="127.0.0.1", purpose="rebind", user=personas.alice)
    personas.alice.refresh_from_db()
    browser.issued = issued
    return browser


def _code_sent_to(phone: str) -> str:
    text = SmsMessage.objects.filter(to=phone).order_by("-id").values_list("text", flat=True)[0]
    return text.split("[")[2].split("]")[0]


def test_anonymous_visitors_are_sent_to_the_login(client):
    for url in ("/me/data/", "/me/data/download/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response.url


def test_the_page_shows_everything_held_in_korean_and_is_audited(alice_browser, personas):
    alice = personas.alice
    response = alice_browser.get("/me/data/")
    assert response.status_code == 200
    page = unescape(response.content.decode())
    binding = alice.certificate
    for value in ("내 정보 열람", "김앨리", "alice01", "종로연세의원", "010-1111-2222",
                  "02-2148-3500", binding.subject_cn, binding.serial, binding.issuer,
                  "예방접종관리 User", "승인", settings.CONSENT_NOTICE_VERSION,
                  "인증서 로그인", "가입 신청", "휴대폰 인증 기록", "인증서 재등록", UA,
                  "지금 이 기기", "JSON 파일로 내려받기"):
        assert value in page, value
    assert _code_sent_to(alice.mobile) not in page
    assert "account.signup" not in page and "{'" not in page  # sentences, not codes or dicts
    row = AuditEvent.objects.get(action="account.data_viewed")
    assert (row.actor_id, row.subject_ref, row.new) == (alice.pk, str(alice.ref),
                                                        {"kind": "page"})


def test_the_json_file_holds_the_same_data(alice_browser, personas):
    alice = personas.alice
    response = alice_browser.get("/me/data/download/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = response.content.decode()
    data = json.loads(text)
    binding = alice.certificate
    assert data["account"]["username"] == "alice01" and data["account"]["name"] == "김앨리"
    assert data["account"]["mobile"] == "010-1111-2222"
    assert data["account"]["institution"]["number"] == "11110101"
    assert data["certificate"] == {
        **data["certificate"], "subject": binding.subject_cn, "issuer": binding.issuer,
        "serial": binding.serial, "fingerprint_sha256": binding.fingerprint}
    assert data["certificate"]["not_after"][:10] == (
        timezone.localtime(binding.not_after).date().isoformat())
    assert [c["version"] for c in data["consents"]] == [settings.CONSENT_NOTICE_VERSION]
    perms = {p["permission"]: p for p in data["permissions"]}
    vaccination = perms["예방접종관리 User"]
    assert vaccination["status"] == "approved" and vaccination["decided_at"]
    assert [h["what"] for h in vaccination["history"]] == ["예방접종관리 User 신청 (종로구보건소)",
                                                           "예방접종관리 User 승인"]
    assert "교육관리 User(학습자)" in perms
    (phone,) = data["phone_verifications"]
    assert phone["purpose"] == "rebind" and phone["phone"] == "010-1111-2222"
    assert "code" not in phone and "code_hash" not in text
    assert _code_sent_to(alice.mobile) not in text
    about = [e["action"] for e in data["audit"]["about_me"]]
    assert "account.signup" in about and "account.login" in about
    assert "grant.approved" in about
    assert all(e["what"] and e["who"] for e in data["audit"]["about_me"])
    (session,) = data["sessions"]
    assert session["device"] == UA and session["current"] and session["signed_in"]
    assert session["signed_in_at"] and session["last_used_at"] and session["expires_at"]
    row = AuditEvent.objects.get(action="account.data_downloaded")
    assert (row.actor_id, row.subject_ref) == (alice.pk, str(alice.ref))


def test_an_officers_own_actions_are_in_their_file(client, personas):
    grant = Grant.objects.get(user=personas.bob, permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.olga.officer)
    client.force_login(personas.olga)
    data = json.loads(client.get("/me/data/download/").content)
    assert data["account"]["roles"]["officer_of"] == "강남구보건소"
    assert [e["action"] for e in data["audit"]["by_me"]] == ["grant.approved",
                                                           "account.activated"]
    assert data["audit"]["by_me"][0]["target"] == f"permissions.grant:{grant.pk}"


def test_a_user_sees_only_their_own_data(alice_browser, personas):
    client = Client()
    client.force_login(personas.bob)
    page = unescape(client.get("/me/data/").content.decode())
    text = client.get("/me/data/download/").content.decode()
    assert "bob01" in page and "박밥" in text
    for value in ("alice01", "김앨리", "010-1111-2222", "01011112222", UA):
        assert value not in page and value not in text, value
    # There is no address for someone else's data but the helpdesk's.
    assert client.get(f"/helpdesk/users/{personas.alice.pk}/data/").status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="account.data_",
                                         subject_ref=str(personas.alice.ref)).exists()


def test_the_me_page_links_to_it(alice_browser):
    page = unescape(alice_browser.get("/me/").content.decode())
    assert 'href="/me/data/"' in page and 'href="/me/data/download/"' in page


def test_the_helpdesk_sees_it_only_through_a_reveal_with_a_reason(client, personas):
    alice = personas.alice
    client.force_login(personas.hana)
    url = f"/helpdesk/users/{alice.pk}/data/"
    refused = client.get(url)
    assert refused.status_code == 302 and refused.url == f"/helpdesk/users/{alice.pk}/"
    assert not AuditEvent.objects.filter(action="account.data_viewed").exists()
    # No reason: the same page with the message, nothing shown, nothing recorded as a reveal.
    no_reason = client.post(f"/helpdesk/users/{alice.pk}/", {"field": "all", "reason": " "})
    assert no_reason.status_code == 400
    assert "사유를 입력하세요" in unescape(no_reason.content.decode())
    revealed = client.post(f"/helpdesk/users/{alice.pk}/",
                           {"field": "all", "reason": "본인 요청으로 보유 정보 안내"})
    assert revealed.status_code == 302 and revealed.url == url
    page = unescape(client.get(url).content.decode())
    assert "헬프데스크 열람" in page and "김앨리" in page and "010-1111-2222" in page
    assert alice.certificate.serial in page and "JSON 파일로 내려받기" not in page
    reveal = AuditEvent.objects.get(action="helpdesk.revealed", subject_ref=str(alice.ref))
    assert reveal.actor_id == personas.hana.pk and reveal.new == {"field": "all"}
    assert reveal.reason == "본인 요청으로 보유 정보 안내"
    viewed = AuditEvent.objects.get(action="account.data_viewed")
    assert (viewed.actor_id, viewed.subject_ref) == (personas.hana.pk, str(alice.ref))
    # One reveal, one view: again needs another reason.
    assert client.get(url).status_code == 302
    assert AuditEvent.objects.filter(action="account.data_viewed").count() == 1
    # The person's helpdesk timeline says so in words.
    timeline = unescape(client.get(f"/helpdesk/users/{alice.pk}/").content.decode())
    assert "헬프데스크 개인정보 확인: 보유 개인정보 전체" in timeline
    assert "보유 개인정보 열람" in timeline


@pytest.mark.parametrize("who", ["alice", "oscar"])
def test_applicants_and_officers_cannot_use_the_helpdesk_path(client, personas, who):
    client.force_login(getattr(personas, who))
    assert client.get(f"/helpdesk/users/{personas.bob.pk}/data/").status_code == 403
