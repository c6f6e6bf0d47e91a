"""The officers' approval queue: scope, decisions, their effects and the persona matrix."""

import io
import threading
from html import unescape

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import User
from kdcis.models import AuditEvent, SmsMessage
from permissions.models import Grant
from permissions.services import GrantError, grant_approve

pytestmark = pytest.mark.django_db


def body(response) -> str:
    return unescape(response.content.decode())


def vaccination_grant(user) -> Grant:
    return Grant.objects.get(user=user, permission_type__code="vaccination_user")


QUEUE_PAGES = ["/approvals/", "/approvals/{grant}/"]


class TestPersonaMatrix:
    def test_anonymous_is_sent_to_login(self, client, personas):
        grant = vaccination_grant(personas.alice)
        for url in QUEUE_PAGES:
            response = client.get(url.format(grant=grant.pk))
            assert response.status_code == 302 and response.url.startswith("/login/")
        assert client.post("/approvals/decide/", {"grant": grant.pk}).url.startswith("/login/")

    def test_an_applicant_is_refused(self, client, personas):
        client.force_login(personas.alice)
        grant = vaccination_grant(personas.alice)
        for url in QUEUE_PAGES:
            assert client.get(url.format(grant=grant.pk)).status_code == 403
        response = client.post("/approvals/decide/", {"grant": grant.pk, "action": "approve"})
        assert response.status_code == 403
        assert vaccination_grant(personas.alice).status == "requested"

    def test_the_officer_of_a_sees_only_a_requests(self, client, personas):
        client.force_login(personas.oscar)
        page = body(client.get("/approvals/"))
        assert "김앨리" in page and "alice01" in page
        assert "박밥" not in page  # bob's request goes to 강남구보건소
        assert "교육관리 User(학습자)" not in page  # alice's education request is central's
        assert "010-****-2222" in page and "01011112222" not in page

    def test_the_officer_of_b_sees_none_of_as_requests(self, client, personas):
        client.force_login(personas.olga)
        page = body(client.get("/approvals/"))
        assert "박밥" in page and "김앨리" not in page
        grant = vaccination_grant(personas.alice)
        assert client.get(f"/approvals/{grant.pk}/").status_code == 404

    def test_the_central_officer_sees_education_requests_only(self, client, personas):
        client.force_login(personas.carl)
        page = body(client.get("/approvals/"))
        assert "교육관리 User(학습자)" in page and "김앨리" in page
        assert "박밥" not in page
        assert "예방접종관리 User</td>" not in page

    def test_a_national_admin_without_an_officer_role_is_refused(self, client, personas):
        admin = User.objects.create_superuser(username="root01", password="x" * 16)
        client.force_login(admin)
        assert client.get("/approvals/").status_code == 403


class TestDecisions:
    def test_approving_the_first_permission_activates_the_account_and_sends_an_sms(
            self, client, personas):
        client.force_login(personas.oscar)
        grant = vaccination_grant(personas.alice)
        response = client.post("/approvals/decide/", {"grant": grant.pk, "action": "approve",
                                                      "back": f"/approvals/{grant.pk}/"})
        assert response.url == f"/approvals/{grant.pk}/"
        grant.refresh_from_db()
        assert grant.status == "approved" and grant.decided_by == personas.oscar
        assert grant.last_used_on is not None
        personas.alice.refresh_from_db()
        assert personas.alice.status == "active"
        sms = SmsMessage.objects.filter(to=personas.alice.mobile).last()
        assert "승인되었습니다" in sms.text
        assert AuditEvent.objects.filter(action="grant.approved", actor=personas.oscar).exists()
        assert AuditEvent.objects.filter(action="account.activated").exists()

    def test_rejecting_needs_a_reason_which_the_applicant_receives(self, client, personas):
        client.force_login(personas.oscar)
        grant = vaccination_grant(personas.alice)
        response = client.post("/approvals/decide/", {"grant": grant.pk, "action": "reject"},
                               follow=True)
        assert "반려 사유를 입력하세요" in body(response)
        assert vaccination_grant(personas.alice).status == "requested"
        client.post("/approvals/decide/", {"grant": grant.pk, "action": "reject",
                                           "reason": "소속 확인 불가"})
        grant.refresh_from_db()
        assert grant.status == "rejected" and grant.reason == "소속 확인 불가"
        assert "소속 확인 불가" in SmsMessage.objects.filter(to=personas.alice.mobile).last().text
        personas.alice.refresh_from_db()
        assert personas.alice.status == "pending"

    def test_many_ticked_rows_are_decided_one_by_one(self, client, personas, make_verified):
        from accounts.services import RequestedPermission, signup_submit
        from institutions.models import Institution
        from permissions.models import PermissionType

        inst = Institution.objects.get(number="11110102")
        ptype = PermissionType.objects.get(code="vaccination_user")
        others = []
        for n in range(3):
            _i, cert = make_verified(f"환자{n}()00100412008052877{n}")
            from django.utils import timezone

            others.append(signup_submit(
                certificate=cert, name=cert.name, username=f"bulk{n}user", institution=inst,
                mobile=f"0106666000{n}", office_phone="0221483500", consent_at=timezone.now(),
                consent_version="v", permissions=[RequestedPermission(
                    permission_type=ptype, body=inst.jurisdiction)]))
        ids = [vaccination_grant(u).pk for u in others] + [vaccination_grant(personas.alice).pk]
        grant_approve(grant_id=ids[0], officer=personas.oscar.officer)  # already decided
        client.force_login(personas.oscar)
        page = body(client.post("/approvals/decide/", {"grant": ids, "action": "approve"},
                                follow=True))
        assert "이미 처리된 신청입니다" in page
        assert page.count("): 승인") == 3
        assert Grant.objects.filter(pk__in=ids, status="approved").count() == 4

    def test_another_bodys_request_in_a_bulk_list_is_a_404_and_nothing_is_decided(
            self, client, personas):
        client.force_login(personas.oscar)
        mine = vaccination_grant(personas.alice).pk
        theirs = vaccination_grant(personas.bob).pk
        response = client.post("/approvals/decide/", {"grant": [mine, theirs],
                                                      "action": "approve"})
        assert response.status_code == 404
        assert Grant.objects.filter(pk__in=[mine, theirs], status="requested").count() == 2

    def test_tampered_ids_are_a_404(self, client, personas):
        client.force_login(personas.oscar)
        assert client.post("/approvals/decide/", {"grant": "abc", "action": "approve"}
                           ).status_code == 404
        assert client.post("/approvals/decide/", {"grant": "999999", "action": "approve"}
                           ).status_code == 404

    def test_a_decided_request_cannot_be_decided_again(self, personas):
        grant = vaccination_grant(personas.alice)
        grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
        with pytest.raises(GrantError) as exc:
            grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
        assert exc.value.code == "already_decided"

    def test_the_detail_page_shows_certificate_and_history(self, client, personas):
        grant = vaccination_grant(personas.alice)
        client.force_login(personas.oscar)
        page = body(client.get(f"/approvals/{grant.pk}/"))
        cert = personas.alice.certificate
        # The page renders dates in Asia/Seoul; from 15:00 UTC the UTC date is a day behind.
        expires = timezone.localtime(cert.not_after).strftime("%Y-%m-%d")
        assert cert.issuer in page and expires in page
        assert "교육관리 User(학습자)" in page  # the earlier/other request in the history
        assert "종로연세의원" in page and "병의원" in page


class TestQueueFilters:
    def test_filters_and_search(self, client, personas):
        client.force_login(personas.oscar)
        assert "김앨리" in body(client.get("/approvals/", {"q": "종로연세"}))
        assert "김앨리" in body(client.get("/approvals/", {"q": "alice01"}))
        assert "김앨리" not in body(client.get("/approvals/", {"q": "없는사람"}))
        assert "김앨리" not in body(client.get("/approvals/", {"status": "approved"}))
        assert "김앨리" in body(client.get("/approvals/", {"region": "11"}))
        assert "김앨리" not in body(client.get("/approvals/", {"region": "26"}))
        assert "김앨리" not in body(client.get("/approvals/", {"date_from": "2999-01-01"}))
        assert client.get("/approvals/", {"date_from": "not-a-date", "status": "zzz",
                                          "page": "-1"}).status_code == 200

    def test_a_bad_filter_value_is_dropped_and_the_others_still_apply(self, client, personas):
        client.force_login(personas.oscar)
        page = body(client.get("/approvals/", {"status": "zzz", "date_from": "2026-02-30",
                                               "date_to": "99999-01-01", "q": "종로연세"}))
        assert "김앨리" in page  # the requests still waiting, searched
        assert '<option value="requested" selected>' in page
        assert 'name="date_from" value=""' in page and 'value="종로연세"' in page
        assert "김앨리" not in body(client.get("/approvals/", {"status": "zzz", "q": "없는사람"}))

    def test_the_queue_page_costs_a_constant_number_of_queries(self, client, personas,
                                                               django_assert_max_num_queries,
                                                               make_verified):
        from django.utils import timezone

        from accounts.services import RequestedPermission, signup_submit
        from institutions.models import Institution
        from permissions.models import PermissionType

        client.force_login(personas.oscar)
        client.get("/approvals/")
        inst = Institution.objects.get(number="11110102")
        ptype = PermissionType.objects.get(code="vaccination_user")
        for n in range(15):
            _i, cert = make_verified(f"대기{n}()0010041200805288{n:03d}")
            signup_submit(certificate=cert, name=cert.name, username=f"queue{n}user",
                          institution=inst, mobile="01066660000", office_phone="0221483500",
                          consent_at=timezone.now(), consent_version="v",
                          permissions=[RequestedPermission(permission_type=ptype,
                                                           body=inst.jurisdiction)])
        with django_assert_max_num_queries(12):
            response = client.get("/approvals/")
        assert body(response).count('name="grant"') == 16


def test_the_digest_tells_each_body_what_waits(personas):
    out = io.StringIO()
    call_command("send_approval_digest", "--overdue-days", "0", stdout=out)
    text = out.getvalue()
    assert "HC-11110-1 종로구보건소: 1 waiting" in text
    assert "KDCA-VPM" in text
    sms = SmsMessage.objects.filter(to=personas.oscar.mobile).last()
    assert "승인 대기 1건" in sms.text and "이상 대기 1건" in sms.text


def test_the_digest_goes_out_once_per_body_per_day(personas):
    call_command("send_approval_digest", stdout=io.StringIO())
    sent = SmsMessage.objects.count()
    assert sent >= 1
    out = io.StringIO()
    call_command("send_approval_digest", stdout=out)
    assert SmsMessage.objects.count() == sent
    assert "already sent today" in out.getvalue()


def test_the_digest_says_today_for_a_request_made_today(personas):
    from django.utils import timezone

    from institutions.models import ApprovingBody
    from permissions.services import approval_digest_send

    body = ApprovingBody.objects.get(code="HC-11110-1")
    now = timezone.now()
    approval_digest_send(body=body, waiting=1, oldest=now, overdue=0, overdue_days=3, now=now)
    text = SmsMessage.objects.filter(to=personas.oscar.mobile).last().text
    assert "가장 오래된 신청 오늘" in text and "0일" not in text
    yesterday = now - timezone.timedelta(days=1)
    later = now + timezone.timedelta(days=1)  # the next day's run
    approval_digest_send(body=body, waiting=1, oldest=yesterday, overdue=0, overdue_days=3,
                         now=later)
    assert "가장 오래된 신청 2일 전" in SmsMessage.objects.filter(
        to=personas.oscar.mobile).last().text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_deciding_the_same_request_at_once_make_exactly_one_decision(
        personas, make_verified):
    from accounts.services import staff_account_create
    from permissions.services import grant_reject, officer_assign

    _i, cert = make_verified("둘째()0010041200805287777")
    second = staff_account_create(certificate=cert, username="oscar02")
    officer_assign(user=second, body=personas.oscar.officer.body)
    grant_id = vaccination_grant(personas.alice).pk
    barrier = threading.Barrier(2)
    results = []

    def decide(kind):
        try:
            barrier.wait()
            if kind == "approve":
                grant_approve(grant_id=grant_id, officer=personas.oscar.officer)
            else:
                grant_reject(grant_id=grant_id, officer=second.officer, reason="중복")
            results.append(("ok", kind))
        except GrantError as exc:
            results.append(("refused", exc.code))
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(k,)) for k in ("approve", "reject")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r[0] for r in results) == ["ok", "refused"]
    assert ("refused", "already_decided") in results
    decisions = AuditEvent.objects.filter(
        action__in=["grant.approved", "grant.rejected"], target_id=str(grant_id))
    assert decisions.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_sms_provider_outage_neither_blocks_nor_undoes_a_decision(client, personas,
                                                                     settings):
    from tests.kdcis.fake_twilio import FakeTwilio

    with FakeTwilio() as fake:
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = fake.account_sid
        settings.TWILIO_AUTH_TOKEN = fake.auth_token
        settings.TWILIO_FROM_NUMBER = "+15005550006"
        settings.TWILIO_API_BASE_URL = fake.base_url
        fake.fail_next(1, status=503)  # the immediate delivery after commit fails
        client.force_login(personas.oscar)
        grant = vaccination_grant(personas.alice)
        response = client.post("/approvals/decide/", {"grant": grant.pk, "action": "approve"})
        assert response.status_code == 302
        grant.refresh_from_db()
        assert grant.status == "approved"
        message = SmsMessage.objects.filter(to=personas.alice.mobile).latest("id")
        assert message.status == "queued" and "승인되었습니다" in message.text
        # The provider is back: the worker delivers it later.
        from django.utils import timezone

        from kdcis.sms import deliver_pending

        deliver_pending(now=timezone.now() + timezone.timedelta(hours=2))
        message.refresh_from_db()
        assert message.status == "sent"
        assert any("승인되었습니다" in m["body"] for m in fake.messages)


class TestQueueFreshness:
    """/approvals/ shows the database as it is: every domain operation that changes the
    queue shows on the next view."""

    def test_officers_of_one_body_see_their_own_name_above_the_same_list(
            self, client, personas):
        from institutions.models import ApprovingBody
        from permissions.services import officer_assign

        client.force_login(personas.oscar)
        assert "오보건 님" in body(client.get("/approvals/"))
        officer_assign(user=personas.olga, body=ApprovingBody.objects.get(code="HC-11110-1"))
        client.force_login(personas.olga)
        page = body(client.get("/approvals/"))
        assert "올강남 님" in page and "오보건" not in page and "김앨리" in page

    def test_every_change_to_the_queue_shows_on_the_next_view(self, client, personas,
                                                              make_verified):
        from django.utils import timezone

        from accounts.services import RequestedPermission, account_withdraw, signup_submit
        from institutions.models import Institution
        from institutions.services import institution_correct
        from permissions.models import PermissionType
        from permissions.revocation import revoke_inactive
        from permissions.services import grant_cancel

        client.force_login(personas.oscar)

        def queue(**filters) -> str:
            return body(client.get("/approvals/", filters))

        assert "김앨리" in queue()
        # A new request arrives.
        inst = Institution.objects.get(number="11110102")
        ptype = PermissionType.objects.get(code="vaccination_user")
        _i, cert = make_verified("새신청()00100412008052877001")
        newcomer = signup_submit(
            certificate=cert, name=cert.name, username="newcomer1", institution=inst,
            mobile="01077770000", office_phone="0221483500", consent_at=timezone.now(),
            consent_version="v", permissions=[RequestedPermission(permission_type=ptype,
                                                                  body=inst.jurisdiction)])
        assert "새신청" in queue()
        # The helpdesk corrects the applicant's institution name.
        institution_correct(institution=inst, name="종로새이름의원", reason="개명",
                            actor=personas.hana)
        assert "종로새이름의원" in queue()
        # The applicant cancels, then another request is decided by a colleague.
        grant_cancel(grant_id=vaccination_grant(newcomer).pk, user=newcomer)
        assert "새신청" not in queue()
        grant_approve(grant_id=vaccination_grant(personas.alice).pk,
                      officer=personas.oscar.officer)
        assert "김앨리" not in queue() and "김앨리" in queue(status="approved")
        # The nightly job revokes it.
        far = timezone.localdate() + timezone.timedelta(days=400)
        assert revoke_inactive(as_of=far).grants_revoked >= 1
        assert "김앨리" not in queue(status="approved")
        assert "김앨리" in queue(status="revoked")
        # The applicant withdraws: their rows leave the queue.
        account_withdraw(user=User.objects.get(pk=personas.alice.pk))
        assert "김앨리" not in queue(status="all")
