"""The signup draft under overlapping requests: no request saves it whole, so none loses a
field another one wrote (the live ID check, '검색' and '인증번호 받기' at once)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from accounts import wizard
from accounts.models import SignupDraft, User
from tests.accounts.helpers import walk_to_profile

MOBILE = "01055556666"

pytestmark = pytest.mark.django_db


def _profile(draft_row: SignupDraft) -> dict:
    draft_row.refresh_from_db()
    return draft_row.data.get("profile", {})


class _Session(dict):
    """A stand-in for request.session (the draft module only needs get/[]=/pop)."""


def test_a_save_writes_only_what_this_request_changed():
    session = _Session()
    wizard.save_draft(session, {"profile": {"username": "first01", "query": "종로"}})
    mine = wizard.get_draft(session)       # this request reads ...
    other = wizard.get_draft(session)      # ... and so does an overlapping one
    other["profile"]["query"] = "강남"
    wizard.save_draft(session, other)
    mine["profile"]["mobile"] = MOBILE
    mine["profile"].pop("username")
    wizard.save_draft(session, mine)
    stored = wizard.get_draft(session)["profile"]
    assert stored == {"query": "강남", "mobile": MOBILE}
    # and the request that saved now sees what the other one wrote
    assert mine["profile"] == stored


def test_replacing_and_clearing_the_draft_leave_nothing_behind():
    session = _Session()
    wizard.save_draft(session, {"profile": {"name": "홍길동", "mobile": MOBILE}})
    wizard.replace_draft(session, {"submitted_user_id": 7})
    assert wizard.get_draft(session) == {"submitted_user_id": 7}
    wizard.clear_draft(session)
    assert not SignupDraft.objects.exists() and wizard.get_draft(session) == {}


def test_the_live_id_check_answers_without_writing_the_draft(client, test_pki,
                                                              reference_data):
    walk_to_profile(client, test_pki)
    row = SignupDraft.objects.get()
    before = (row.data, row.updated_at)
    answer = client.get("/signup/check-id/", {"username": "freshid01"}).json()
    assert answer == {"ok": True, "message": "사용할 수 있는 아이디입니다."}
    row.refresh_from_db()
    assert (row.data, row.updated_at) == before


def test_a_refused_id_from_the_live_check_never_reaches_the_account(client, test_pki,
                                                                    reference_data):
    """A look-alike ID with a Cyrillic 'о' is refused by the check and stored nowhere."""
    walk_to_profile(client, test_pki)
    answer = client.get("/signup/check-id/", {"username": "\u043escar01"}).json()
    assert answer["ok"] is False and "영문 소문자" in answer["message"]
    assert "\u043escar01" not in str(SignupDraft.objects.get().data)


def test_the_form_check_and_the_live_check_share_one_limit(client, test_pki, reference_data,
                                                           settings):
    settings.ID_CHECK_MAX_PER_IP = 4
    walk_to_profile(client, test_pki)
    for n in range(2):
        assert client.get("/signup/check-id/", {"username": f"live{n}id"}).json()["ok"]
    for n in range(2):
        client.post("/signup/profile/check-id/", {"username": f"form{n}id"})
    page = client.post("/signup/profile/check-id/", {"username": "form9id"},
                       follow=True).content.decode()
    assert "아이디 확인을 너무 많이 시도했습니다" in page
    assert client.get("/signup/check-id/", {"username": "live9id"}).status_code == 429


def test_each_signup_session_has_its_own_id_check_limit(client, test_pki, reference_data,
                                                         settings):
    settings.ID_CHECK_MAX_PER_SESSION = 2
    walk_to_profile(client, test_pki)
    assert client.get("/signup/check-id/", {"username": "aaaa1"}).status_code == 200
    assert client.get("/signup/check-id/", {"username": "aaaa2"}).status_code == 200
    assert client.get("/signup/check-id/", {"username": "aaaa3"}).status_code == 429
    other = Client()
    walk_to_profile(other, test_pki, cn="김다른()0010041200805281000011")
    assert other.get("/signup/check-id/", {"username": "aaaa4"}).status_code == 200


def test_the_account_service_refuses_an_id_the_rules_refuse(make_verified, reference_data):
    from accounts.services import SignupError, signup_submit
    from tests.accounts.test_signup_races import _signup_kwargs

    _issued, cert = make_verified("이규칙()0010041200805281000012")
    with pytest.raises(SignupError) as exc:
        signup_submit(**_signup_kwargs(cert, "\u043escar01"))
    assert exc.value.field == "username"
    assert not User.objects.filter(username="\u043escar01").exists()


ROUNDS = 12


def _all_at_once(cookies, requests: list[tuple[str, str, dict]]) -> list[tuple[float, float]]:
    """Send the requests from one browser (its cookies) at the same moment, one thread each;
    return each one's (start, end)."""
    import time

    barrier = threading.Barrier(len(requests))
    spans: list[tuple[float, float]] = []
    failures: list[BaseException] = []

    def send(method: str, path: str, data: dict) -> None:
        tab = Client()
        tab.cookies = cookies
        try:
            barrier.wait(timeout=30)
            start = time.perf_counter()
            # A post is followed, as the browser follows its redirect to the page.
            response = getattr(tab, method)(path, data, follow=method == "post")
            spans.append((start, time.perf_counter()))
            assert response.status_code == 200, response
        except BaseException as exc:  # reported below, in the test's own thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=r) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures
    return spans


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_check_search_and_code_requests_never_lose_a_field(test_pki,
                                                                       reference_data,
                                                                       settings):
    settings.PHONE_CODE_RESEND_SECONDS = 0
    settings.PHONE_CODE_MAX_PER_NUMBER_PER_DAY = 1000
    settings.PHONE_CODE_MAX_PER_IP_PER_HOUR = 1000
    settings.PHONE_CODE_MAX_PER_SESSION_PER_DAY = 1000
    browser = Client()
    walk_to_profile(browser, test_pki)
    cookies = browser.cookies
    form = {"username": "raceid01", "mobile": MOBILE, "office_phone": "0221483500"}
    browser.post("/signup/profile/search/", {**form, "query": "query-0"})
    row = SignupDraft.objects.get()
    overlapped = 0

    for round_ in range(1, ROUNDS + 1):
        shown = _profile(row)
        # The applicant typed a new search term, then pressed 중복검사, 검색 and 인증번호 받기
        # in quick succession: both posts carry the whole form as typed.
        typed = {**form, "query": f"query-{round_}"}
        requests = [
            ("get", "/signup/check-id/", {"username": f"typed{round_}"}),
            ("post", "/signup/profile/search/", typed),
            ("post", "/signup/profile/send-code/", typed),
        ]
        spans = _all_at_once(cookies, requests)
        if max(s for s, _e in spans) < min(e for _s, e in spans):
            overlapped += 1
        stored = _profile(row)
        assert stored["query"] == f"query-{round_}", (round_, stored)  # the search's field
        assert stored["code_expires_at"] != shown.get("code_expires_at"), round_  # the code's
        assert stored["username"] == "raceid01"  # the live check wrote nothing
        assert stored["mobile"] == MOBILE and stored["office_phone"] == "0221483500"
    assert overlapped, "the requests never ran at the same time: nothing was raced"
