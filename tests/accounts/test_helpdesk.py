"""Helpdesk lookups: masked results, audited views and reveals, scoped corrections."""

import re
from html import unescape

import pytest

from kdcis.models import AuditEvent

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return unescape(response.content.decode())


HELPDESK_PAGES = ["/helpdesk/", "/helpdesk/users/{alice}/", "/helpdesk/institutions/{inst}/"]


def urls(personas):
    return [u.format(alice=personas.alice.pk, inst=personas.alice.institution_id)
            for u in HELPDESK_PAGES]


def test_anonymous_is_sent_to_login(client, personas):
    for url in urls(personas):
        assert client.get(url).url.startswith("/login/")


@pytest.mark.parametrize("who", ["alice", "oscar", "carl"])
def test_applicants_and_officers_are_refused(client, personas, who):
    client.force_login(getattr(personas, who))
    for url in urls(personas):
        assert client.get(url).status_code == 403


def test_a_national_admin_without_the_role_is_refused(client, personas):
    from accounts.models import User

    admin = User.objects.create_superuser(username="root02", password="x" * 16)
    client.force_login(admin)
    assert client.get("/helpdesk/").status_code == 403


@pytest.mark.parametrize("query", ["김앨리", "alice01", "010-1111-2222", "01011112222",
                                   "종로연세", "11110101"])
def test_the_helpdesk_finds_users_by_name_id_phone_or_institution(client, personas, query):
    client.force_login(personas.hana)
    page = text(client.get("/helpdesk/", {"q": query}))
    assert "김*리" in page and "010-****-2222" in page
    assert "김앨리" not in page.replace('value="김앨리"', "")
    assert "01011112222" not in page.replace('value="01011112222"', "")


def test_every_lookup_is_audited_without_the_query(client, personas):
    client.force_login(personas.hana)
    client.get("/helpdesk/", {"q": "김앨리"})
    event = AuditEvent.objects.get(action="helpdesk.searched")
    assert event.actor == personas.hana and event.new["kind"] == "name"
    assert "김앨리" not in str(event.new)
    client.get(f"/helpdesk/users/{personas.alice.pk}/")
    viewed = AuditEvent.objects.get(action="helpdesk.viewed")
    assert viewed.subject_ref == str(personas.alice.ref)


def test_the_user_page_shows_history_and_who_must_decide(client, personas):
    client.force_login(personas.hana)
    page = text(client.get(f"/helpdesk/users/{personas.alice.pk}/"))
    assert "처리 대기 중인 신청" in page and "종로구보건소" in page
    assert "질병관리청 예방접종관리과" in page
    # The trail reads as sentences, never event codes.
    assert "본인: 가입 신청" in page
    assert "본인: 예방접종관리 User 신청 (종로구보건소)" in page
    assert "account.signup" not in page and "grant.requested" not in page and "{" not in page
    assert "010-****-2222" in page and "01011112222" not in page


def test_reveal_needs_a_reason_and_is_audited(client, personas):
    client.force_login(personas.hana)
    url = f"/helpdesk/users/{personas.alice.pk}/"
    refused = client.post(url, {"field": "mobile", "reason": ""})
    assert refused.status_code == 400 and "사유를 입력하세요" in text(refused)
    response = client.post(url, {"field": "mobile", "reason": "본인 요청 전화 확인"})
    assert response.status_code == 302 and response.url == url
    assert "010-1111-2222" in text(client.get(url))
    event = AuditEvent.objects.get(action="helpdesk.revealed")
    assert event.reason == "본인 요청 전화 확인" and event.new == {"field": "mobile"}
    # A reload shows the masked page again and logs no second reveal.
    again = text(client.get(url))
    assert "010-1111-2222" not in again and "010-****-2222" in again
    assert AuditEvent.objects.filter(action="helpdesk.revealed").count() == 1
    assert client.post(url, {"field": "password", "reason": "x"}).status_code == 400


def test_an_institution_correction_shows_every_problem_at_once(client, personas):
    from institutions.models import Institution

    client.force_login(personas.hana)
    institution = personas.alice.institution
    response = client.post(f"/helpdesk/institutions/{institution.pk}/", {
        "name": "🏥🏥", "postcode": "12", "address": "✨✨", "reason": ""})
    page = text(response)
    assert response.status_code == 400
    assert "기관명은 한글, 영문 또는 숫자로 입력하세요." in page
    assert "우편번호는 숫자 5자리로 입력하세요." in page
    assert "주소는 한글, 영문 또는 숫자로 입력하세요." in page
    assert "수정 사유를 입력하세요." in page
    assert 'value="🏥🏥"' in page  # what was typed stays
    assert Institution.objects.get(pk=institution.pk).name == institution.name


def test_the_timeline_names_who_decided_and_includes_reveals(client, personas):
    from permissions.models import Grant
    from permissions.services import grant_reject

    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    grant_reject(grant_id=grant.pk, officer=personas.oscar.officer, reason="기관 확인 필요")
    client.force_login(personas.hana)
    url = f"/helpdesk/users/{personas.alice.pk}/"
    client.post(url, {"field": "mobile", "reason": "본인 요청"})
    page = " ".join(re.sub(r"<[^>]+>", "", text(client.get(url))).split())
    assert "종로구보건소 오보건: 예방접종관리 User 반려 (사유: 기관 확인 필요)" in page
    assert "헬프데스크 한상담: 헬프데스크 개인정보 확인: 휴대폰번호 (사유: 본인 요청)" in page


def test_a_search_records_whom_it_showed_and_a_pinning_search_counts_as_a_reveal(
        client, personas):
    client.force_login(personas.hana)
    client.get("/helpdesk/", {"q": "alice01"})  # one person: pinned
    listed = AuditEvent.objects.filter(action="helpdesk.listed")
    assert [e.subject_ref for e in listed] == [str(personas.alice.ref)]
    reveal = AuditEvent.objects.get(action="helpdesk.revealed")
    assert reveal.subject_ref == str(personas.alice.ref) and reveal.new["field"] == "search"
    assert "alice01" not in str(AuditEvent.objects.get(action="helpdesk.searched").new)
    page = text(client.get(f"/helpdesk/users/{personas.alice.pk}/"))
    assert "헬프데스크 개인정보 확인: 검색 결과로 특정" in page


def test_searches_are_limited_per_agent(client, personas, settings):
    settings.HELPDESK_SEARCHES_PER_HOUR = 3
    client.force_login(personas.hana)
    for n in range(3):
        assert client.get("/helpdesk/", {"q": f"김{n}"}).status_code == 200
    refused = client.get("/helpdesk/", {"q": "김앨"})
    assert refused.status_code == 429 and "조회 한도" in text(refused)
    assert "김*리" not in text(refused)
