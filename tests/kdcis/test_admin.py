"""The national admins' Django admin: password + TOTP, the persona matrix, actions that go
through the services, the read-only audit trail and the admins' reports."""

from __future__ import annotations

import datetime as dt
import io
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import PhoneVerification, User
from institutions.models import (
    ApprovingBody,
    Category,
    Institution,
    InstitutionType,
    MedicalInformationSystem,
    SupplementaryInfo,
)
from kdcis.admin_site import kdcis_admin_site
from kdcis.models import AuditEvent, Faq, LibraryFile, Notice, RateCounter, SmsMessage
from permissions.models import Grant, Officer

pytestmark = pytest.mark.django_db

PASSWORD = "national-admin-password-2026"
LOGIN_URL = "/admin/login/"


def code_for(device: TOTPDevice, *, offset: int = 0) -> str:
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits,
                 drift=device.drift + offset)
    return f"{value:0{device.digits}d}"


GENERIC_FAILURE = "아이디, 비밀번호 또는 OTP 인증코드가 올바르지 않습니다"


def admin_login(client, username: str, *, token: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN_URL, {"username": username, "password": password,
                                   "otp_token": token, "next": "/admin/"}, **extra)


def page_text(response) -> str:
    return unescape(response.content.decode())


@pytest.fixture
def nadmin(db):
    """A national admin: a superuser with a confirmed TOTP device."""
    user = User.objects.create_superuser(username="nadmin", password=PASSWORD, name="나관리")
    user.device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user


@pytest.fixture
def nadmin_client(client, nadmin):
    """A client logged in through the real admin login form, with password and TOTP code."""
    response = admin_login(client, nadmin.username, token=code_for(nadmin.device))
    assert response.status_code == 302 and response.url == "/admin/", page_text(response)
    return client


def grant_of(user, code: str) -> Grant:
    return Grant.objects.get(user=user, permission_type__code=code)


# ----------------------------------------------------------------------------- logging in


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url == f"{LOGIN_URL}?next=/admin/"


def test_the_login_form_asks_for_the_otp_code_in_korean(client):
    body = page_text(client.get(LOGIN_URL))
    assert "질병보건통합관리시스템 관리" in body
    assert 'name="otp_token"' in body and "OTP 인증코드" in body
    assert "<script>" not in body  # the CSP forbids inline script


def test_a_correct_password_without_a_device_does_not_log_in(client):
    User.objects.create_superuser(username="nodevice", password=PASSWORD)
    response = admin_login(client, "nodevice", token="123456")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert GENERIC_FAILURE in page_text(response)
    assert AuditEvent.objects.filter(action="account.login_failed",
                                     new__reason="admin_no_device").exists()


def test_an_unconfirmed_device_does_not_count(client):
    user = User.objects.create_superuser(username="unconfirmed", password=PASSWORD)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=False)
    response = admin_login(client, "unconfirmed", token=code_for(device))
    assert "_auth_user_id" not in client.session
    assert GENERIC_FAILURE in page_text(response)


def test_a_correct_password_with_a_wrong_code_does_not_log_in(client, nadmin):
    wrong = code_for(nadmin.device, offset=5)
    response = admin_login(client, nadmin.username, token=wrong)
    assert "_auth_user_id" not in client.session
    assert GENERIC_FAILURE in page_text(response)
    assert AuditEvent.objects.filter(action="account.login_failed",
                                     new__reason="admin_otp").exists()


def test_a_correct_password_without_a_code_does_not_log_in(client, nadmin):
    response = admin_login(client, nadmin.username, token="")
    assert "_auth_user_id" not in client.session
    assert GENERIC_FAILURE in page_text(response)


def test_a_wrong_password_with_a_valid_code_does_not_log_in(client, nadmin):
    response = admin_login(client, nadmin.username, password="wrong-password-0000",
                           token=code_for(nadmin.device))
    assert "_auth_user_id" not in client.session
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="account.login_failed",
                                     new__reason="admin_password").exists()


def test_a_staff_session_without_otp_verification_is_sent_to_the_login(client, nadmin):
    client.force_login(nadmin)  # password-authenticated session, no verified device
    for url in ("/admin/", "/admin/permissions/grant/", "/admin/reports/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(f"{LOGIN_URL}?next="), url


def test_password_and_a_valid_totp_code_open_the_admin(nadmin_client, nadmin):
    response = nadmin_client.get("/admin/")
    assert response.status_code == 200
    body = page_text(response)
    assert "질병보건통합관리시스템 관리" in body
    assert reverse("admin:reports") in body  # the reports are linked from the index
    assert AuditEvent.objects.filter(action="account.login", actor=nadmin).exists()


def test_a_code_cannot_be_used_twice(client, nadmin):
    token = code_for(nadmin.device)
    assert admin_login(client, nadmin.username, token=token).status_code == 302
    client.logout()
    admin_login(client, nadmin.username, token=token)
    assert "_auth_user_id" not in client.session


def test_failed_admin_logins_are_rate_limited_per_ip(client, nadmin, settings, pinned_clock):
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_IP = 3
    for n in range(3):  # three usernames: only the address ties them together
        admin_login(client, f"guess{n}", password="wrong-password-0000", token="000000")
    response = admin_login(client, nadmin.username, token=code_for(nadmin.device))
    assert "_auth_user_id" not in client.session
    assert "관리자 로그인 실패가 너무 많습니다" in page_text(response)
    assert AuditEvent.objects.filter(action="account.login_failed",
                                     new__reason="admin_rate_limited").exists()


def test_failed_admin_logins_are_rate_limited_per_username(client, nadmin, settings,
                                                           pinned_clock):
    """Regression (issue 16, item 2): guesses of one admin's password from many addresses
    (or with a forged address) are limited by the username."""
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_USER = 5
    for n in range(5):
        admin_login(client, nadmin.username.upper(), password=f"guess-{n}-0000000",
                    token="000000", REMOTE_ADDR=f"10.0.0.{n + 1}")
    response = admin_login(client, nadmin.username, token=code_for(nadmin.device),
                           REMOTE_ADDR="10.9.9.9")
    assert "_auth_user_id" not in client.session
    assert "관리자 로그인 실패가 너무 많습니다" in page_text(response)
    # Another admin is not locked out by it.
    other = User.objects.create_superuser(username="nadmin2", password=PASSWORD)
    device = TOTPDevice.objects.create(user=other, name="phone", confirmed=True)
    assert admin_login(client, "nadmin2", token=code_for(device),
                       REMOTE_ADDR="10.9.9.9").status_code == 302


def test_a_wrong_code_does_not_reveal_that_the_password_was_right(client, nadmin):
    """Regression (issue 16, item 2): the form used to confirm a correct password by asking
    for the OTP code; password and code are now judged together."""
    import re

    def scrub(response) -> str:
        return re.sub(r' value="[^"]*"', "", page_text(response))

    right_password = admin_login(client, nadmin.username, token=code_for(nadmin.device,
                                                                          offset=5))
    wrong_password = admin_login(client, nadmin.username, password="wrong-password-0000",
                                 token=code_for(nadmin.device, offset=5))
    no_code = admin_login(client, nadmin.username, token="")
    assert scrub(right_password) == scrub(wrong_password) == scrub(no_code)
    assert GENERIC_FAILURE in page_text(right_password)
    assert "OTP 기기:" not in page_text(right_password)


# ---------------------------------------------------------------------------- persona matrix


@pytest.mark.parametrize("persona", ["alice", "oscar", "hana"])
def test_certificate_users_are_refused(client, personas, persona):
    """An applicant, an officer and a helpdesk agent are not staff: the admin stays closed."""
    client.force_login(getattr(personas, persona))
    for url in ("/admin/", "/admin/accounts/user/", "/admin/reports/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(f"{LOGIN_URL}?next="), url
    assert "관리자 화면을 사용할 수 없습니다" in page_text(client.get(LOGIN_URL))


def test_staff_without_the_permissions_cannot_read_the_reports(client):
    user = User.objects.create_user(username="clerk", password=PASSWORD, is_staff=True)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    assert admin_login(client, "clerk", token=code_for(device)).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/reports/").status_code == 403
    assert client.get("/admin/permissions/grant/").status_code == 403


def _fill_every_table(personas):
    """At least one row in every registered table, so each change page is rendered too."""
    now = timezone.now()
    SmsMessage.objects.create(to="01011112222", text="[질병보건통합관리시스템] 인증번호 [123456]")
    RateCounter.objects.create(key="login-fail:127.0.0.1", window_start=now, count=1)
    PhoneVerification.objects.create(session_key="s", phone="01011112222", code_hash="x$y",
                                     created_at=now, expires_at=now, ip="127.0.0.1")
    Notice.objects.create(title="공지", body="내용", published_at=now)
    Faq.objects.create(category=Faq.Category.SIGNUP, question="질문", answer="답변")
    LibraryFile.objects.create(title="안내서", file="library/guide.pdf", published_at=now)
    institution = Institution.objects.get(number="11110101")
    system, _ = MedicalInformationSystem.objects.get_or_create(name="테스트 EMR")
    SupplementaryInfo.objects.create(
        institution=institution, english_name="Yonsei Clinic", business_number="1018100340",
        representative_name="홍길동", phone_area="02", phone_number="21483500",
        category=Category.objects.first(), jurisdiction=institution.jurisdiction,
        information_system=system, mobile="01077778888", mobile_consent=True,
        email="clinic@example.kr", email_consent=True,
    )
    _institution_request()


def _institution_request(draft_key="draft-key-secret-0123456789", **changes):
    from institutions.services import institution_request_submit

    data = {"name": "새봄가정의학과의원", "type": InstitutionType.objects.get(code="clinic"),
            "business_number": "1168200276", "postcode": "03154", "sigungu_code": "11110",
            "dong": "청진동", "address": "서울특별시 종로구 종로 33, 2층", "phone": "0227001234"}
    return institution_request_submit(data={**data, **changes}, applicant_name="한가람",
                                      applicant_mobile="01055556666",
                                      draft_key=draft_key)


def test_a_national_admin_opens_every_page_of_every_model(nadmin_client, personas):
    _fill_every_table(personas)
    assert nadmin_client.get("/admin/").status_code == 200
    assert nadmin_client.get("/admin/reports/").status_code == 200
    for model, model_admin in kdcis_admin_site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        url = reverse("admin:{}_{}_changelist".format(*info))
        response = nadmin_client.get(url)
        assert response.status_code == 200, url
        obj = model._default_manager.first()
        assert obj is not None, f"no {model.__name__} row to open"
        url = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
        assert nadmin_client.get(url).status_code == 200, url
        if model_admin.has_add_permission(response.wsgi_request):
            url = reverse("admin:{}_{}_add".format(*info))
            assert nadmin_client.get(url).status_code == 200, url


def test_models_are_registered_on_the_otp_site(nadmin_client):
    registered = {m._meta.label for m in kdcis_admin_site._registry}
    expected = {
        "accounts.User", "accounts.CertificateBinding", "accounts.Consent",
        "accounts.PhoneVerification", "institutions.Region", "institutions.ApprovingBody",
        "institutions.InstitutionType", "institutions.Category",
        "institutions.MedicalInformationSystem", "institutions.Institution",
        "institutions.SupplementaryInfo", "institutions.InstitutionRequest",
        "permissions.PermissionType", "permissions.Grant", "permissions.Officer",
        "kdcis.AuditEvent", "kdcis.SmsMessage", "kdcis.RateCounter", "kdcis.Notice",
        "kdcis.LibraryFile", "kdcis.Faq", "otp_totp.TOTPDevice",
    }
    assert expected <= registered


def test_personal_data_is_masked_in_the_lists(nadmin_client, personas):
    _fill_every_table(personas)
    users = page_text(nadmin_client.get("/admin/accounts/user/"))
    assert "김*리" in users and "010-****-2222" in users
    assert "김앨리" not in users and "01011112222" not in users
    for url in ("/admin/kdcis/smsmessage/", "/admin/accounts/phoneverification/",
                "/admin/permissions/grant/", "/admin/permissions/officer/"):
        body = page_text(nadmin_client.get(url))
        assert "01011112222" not in body and "김앨리" not in body, url
    info = SupplementaryInfo.objects.get()
    for url in ("/admin/institutions/supplementaryinfo/",
                f"/admin/institutions/supplementaryinfo/{info.pk}/change/"):
        body = page_text(nadmin_client.get(url))
        assert "홍*동" in body and "010-****-8888" in body, url
        assert "홍길동" not in body and "01077778888" not in body, url
        assert "clinic@example.kr" not in body, url
    sms = SmsMessage.objects.get(to="01011112222")
    detail = page_text(nadmin_client.get(f"/admin/kdcis/smsmessage/{sms.pk}/change/"))
    assert "123456" not in detail  # a verification code is never shown


def test_a_users_status_is_read_only(nadmin_client, personas):
    alice = personas.alice
    url = f"/admin/accounts/user/{alice.pk}/change/"
    assert 'name="status"' not in page_text(nadmin_client.get(url))
    assert nadmin_client.post(url, {"status": "active"}).status_code == 403
    assert nadmin_client.get("/admin/accounts/user/add/").status_code == 403
    alice.refresh_from_db()
    assert alice.status == User.Status.PENDING


# ------------------------------------------------------------------------- grant decisions


def _action(client, action: str, grants, **extra):
    data = {"action": action, "_selected_action": [g.pk for g in grants], **extra}
    if "post" not in extra:
        data["index"] = 0
    return client.post("/admin/permissions/grant/", data)


def test_approving_in_the_admin_goes_through_the_service(nadmin_client, nadmin, personas):
    grant = grant_of(personas.alice, "vaccination_user")
    response = _action(nadmin_client, "approve_selected", [grant])
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.status == Grant.Status.APPROVED and grant.decided_by == nadmin
    event = AuditEvent.objects.get(action="grant.approved", target_id=str(grant.pk))
    assert event.actor == nadmin and event.subject_ref == str(personas.alice.ref)
    personas.alice.refresh_from_db()
    assert personas.alice.status == User.Status.ACTIVE
    assert AuditEvent.objects.filter(action="account.activated", actor=nadmin).exists()
    assert "승인했습니다" in page_text(nadmin_client.get(response.url))


def test_each_row_reports_its_own_result(nadmin_client, personas):
    first = grant_of(personas.alice, "vaccination_user")
    _action(nadmin_client, "approve_selected", [first])
    second = grant_of(personas.bob, "vaccination_user")
    response = _action(nadmin_client, "approve_selected", [first, second])
    body = page_text(nadmin_client.get(response.url))
    assert f"#{first.pk}" in body and "이미 처리된 신청입니다" in body
    assert f"#{second.pk}" in body and "승인했습니다" in body
    assert AuditEvent.objects.filter(action="grant.approved").count() == 2


def test_rejecting_requires_a_reason(nadmin_client, nadmin, personas):
    grant = grant_of(personas.bob, "vaccination_user")
    page = _action(nadmin_client, "reject_selected", [grant])
    assert page.status_code == 200 and "반려 사유" in page_text(page)
    empty = _action(nadmin_client, "reject_selected", [grant], post="yes", reason="  ")
    assert empty.status_code == 200 and "반려 사유를 입력하세요" in page_text(empty)
    grant.refresh_from_db()
    assert grant.status == Grant.Status.REQUESTED
    done = _action(nadmin_client, "reject_selected", [grant], post="yes",
                   reason="기관 정보가 확인되지 않습니다.")
    assert done.status_code == 302
    grant.refresh_from_db()
    assert grant.status == Grant.Status.REJECTED
    assert grant.reason == "기관 정보가 확인되지 않습니다."
    event = AuditEvent.objects.get(action="grant.rejected", target_id=str(grant.pk))
    assert event.actor == nadmin and event.reason == grant.reason


def test_a_grants_status_cannot_be_edited_in_the_form(nadmin_client, personas):
    grant = grant_of(personas.bob, "vaccination_user")
    url = f"/admin/permissions/grant/{grant.pk}/change/"
    page = page_text(nadmin_client.get(url))
    assert 'name="status"' not in page and "신청중" in page
    response = nadmin_client.post(url, {"status": "approved", "reason": "x"})
    assert response.status_code == 403
    grant.refresh_from_db()
    assert grant.status == Grant.Status.REQUESTED and grant.decided_at is None
    assert nadmin_client.get("/admin/permissions/grant/add/").status_code == 403
    assert nadmin_client.post(f"/admin/permissions/grant/{grant.pk}/delete/",
                              {"post": "yes"}).status_code == 403


def test_the_audit_trail_cannot_be_added_changed_or_deleted(nadmin_client, personas):
    event = AuditEvent.objects.filter(action="grant.requested").first()
    base = "/admin/kdcis/auditevent/"
    assert nadmin_client.get(base).status_code == 200
    assert nadmin_client.get(f"{base}?action=grant.requested").status_code == 200
    assert nadmin_client.get(f"{base}add/").status_code == 403
    assert nadmin_client.post(f"{base}add/", {"action": "forged"}).status_code == 403
    assert nadmin_client.post(f"{base}{event.pk}/change/",
                              {"action": "forged", "reason": "x"}).status_code == 403
    assert nadmin_client.get(f"{base}{event.pk}/delete/").status_code == 403
    assert nadmin_client.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = nadmin_client.post(base, {"action": "delete_selected", "index": 0,
                                     "_selected_action": [event.pk], "post": "yes"})
    assert bulk.status_code == 200  # the list again: no delete action is offered
    event.refresh_from_db()
    assert event.action == "grant.requested"


# ------------------------------------------------------------------------------------ roles


def test_adding_an_officer_in_the_admin_is_audited(nadmin_client, nadmin, personas):
    body = ApprovingBody.objects.get(code="HC-11680-1")
    response = nadmin_client.post("/admin/permissions/officer/add/",
                                  {"user": personas.bob.pk, "body": body.pk, "_save": "1"})
    assert response.status_code == 302, page_text(response)
    officer = Officer.objects.get(user=personas.bob)
    assert officer.body == body
    event = AuditEvent.objects.get(action="officer.assigned", subject_ref=str(personas.bob.ref))
    assert event.actor == nadmin and event.new == {"body": body.code}

    response = nadmin_client.post(f"/admin/permissions/officer/{officer.pk}/delete/",
                                  {"post": "yes"})
    assert response.status_code == 302
    assert not Officer.objects.filter(user=personas.bob).exists()
    assert AuditEvent.objects.filter(action="officer.unassigned", actor=nadmin,
                                     subject_ref=str(personas.bob.ref)).exists()


def test_moving_an_officer_to_another_body_is_audited(nadmin_client, nadmin, personas):
    officer = personas.oscar.officer
    body = ApprovingBody.objects.get(code="HC-11680-1")
    response = nadmin_client.post(f"/admin/permissions/officer/{officer.pk}/change/",
                                  {"body": body.pk, "_save": "1"})
    assert response.status_code == 302, page_text(response)
    officer.refresh_from_db()
    assert officer.body == body and officer.user == personas.oscar
    event = AuditEvent.objects.filter(action="officer.assigned", actor=nadmin).get()
    assert event.old == {"body": "HC-11110-1"} and event.new == {"body": "HC-11680-1"}


def test_a_withdrawn_user_cannot_become_an_officer(nadmin_client, personas):
    User.objects.filter(pk=personas.bob.pk).update(status=User.Status.WITHDRAWN)
    body = ApprovingBody.objects.get(code="HC-11680-1")
    response = nadmin_client.post("/admin/permissions/officer/add/",
                                  {"user": personas.bob.pk, "body": body.pk, "_save": "1"})
    assert response.status_code == 200
    assert "탈퇴한 사용자는 담당자로 지정할 수 없습니다" in page_text(response)
    assert not Officer.objects.filter(user=personas.bob).exists()


def test_the_helpdesk_role_is_given_and_taken_by_an_action(nadmin_client, nadmin, personas):
    bob = personas.bob
    data = {"action": "give_helpdesk_role", "index": 0, "_selected_action": [bob.pk]}
    assert nadmin_client.post("/admin/accounts/user/", data).status_code == 302
    bob.refresh_from_db()
    assert bob.is_helpdesk
    assert AuditEvent.objects.filter(action="helpdesk.assigned", actor=nadmin,
                                     subject_ref=str(bob.ref)).exists()
    data["action"] = "take_helpdesk_role"
    nadmin_client.post("/admin/accounts/user/", data)
    bob.refresh_from_db()
    assert not bob.is_helpdesk
    assert AuditEvent.objects.filter(action="helpdesk.unassigned", actor=nadmin).exists()


def test_an_admin_can_add_a_totp_device_for_a_staff_user(nadmin_client):
    clerk = User.objects.create_user(username="clerk2", password=PASSWORD, is_staff=True)
    response = nadmin_client.post("/admin/otp_totp/totpdevice/add/", {
        "user": clerk.pk, "name": "phone", "confirmed": "on",
        "key": "3132333435363738393031323334353637383930", "step": 30, "t0": 0,
        "digits": 6, "tolerance": 1, "drift": 0, "throttling_failure_count": 0,
        "_save": "1",
    })
    assert response.status_code == 302, page_text(response)
    assert TOTPDevice.objects.filter(user=clerk, confirmed=True).exists()


# ---------------------------------------------------------------------------------- reports


def test_the_reports_show_pending_requests_decision_times_and_expiring_certificates(
    nadmin_client, nadmin, personas
):
    from permissions.services import grant_approve

    now = timezone.now()
    # bob's request waited two days before an admin approved it.
    bob_grant = grant_of(personas.bob, "vaccination_user")
    Grant.objects.filter(pk=bob_grant.pk).update(requested_at=now - dt.timedelta(days=2))
    grant_approve(grant_id=bob_grant.pk, admin=nadmin)
    # alice's vaccination request is the oldest at her health center.
    alice_grant = grant_of(personas.alice, "vaccination_user")
    Grant.objects.filter(pk=alice_grant.pk).update(requested_at=now - dt.timedelta(days=5))
    binding = personas.alice.certificate
    binding.not_after = now + dt.timedelta(days=10)
    binding.save(update_fields=["not_after"])

    response = nadmin_client.get("/admin/reports/")
    assert response.status_code == 200
    pending = {row["body"].code: row for row in response.context["pending"]}
    assert pending["HC-11110-1"]["count"] == 1
    assert pending["HC-11110-1"]["age_days"] == 5
    assert "HC-11680-1" not in pending  # bob's request is decided
    central = ApprovingBody.objects.get(kind="central")
    assert pending[central.code]["count"] == 1
    decisions = {row["body"].code: row for row in response.context["decisions"]}
    assert decisions["HC-11680-1"]["count"] == 1
    assert decisions["HC-11680-1"]["median_display"].startswith("2일")
    body = page_text(response)
    assert "승인기관별 대기 신청" in body and "종로구보건소" in body
    queue = page_text(nadmin_client.get(pending["HC-11110-1"]["url"]))
    assert f"/admin/permissions/grant/{alice_grant.pk}/change/" in queue
    assert f"/admin/permissions/grant/{bob_grant.pk}/change/" not in queue
    assert "30일 이내 만료되는 인증서 (1건)" in body
    assert personas.alice.username in body and "김*리" in body and "김앨리" not in body


def test_durations_show_the_two_largest_units():
    from kdcis.korean import format_duration

    assert format_duration(dt.timedelta(days=2, hours=3, minutes=5)) == "2일 3시간"
    assert format_duration(dt.timedelta(hours=5, minutes=12)) == "5시간 12분"
    assert format_duration(dt.timedelta(minutes=8)) == "8분"


def test_decision_times_use_the_median_per_body(nadmin, personas):
    from permissions.models import PermissionType
    from permissions.selectors import decision_times_by_body

    now = timezone.now()
    body = ApprovingBody.objects.get(code="HC-11110-1")
    kind = PermissionType.objects.get(code="vaccination_user")
    for hours, user in ((1, personas.oscar), (3, personas.olga), (50, personas.hana)):
        Grant.objects.create(user=user, permission_type=kind, body=body,
                             status=Grant.Status.APPROVED, decided_by=nadmin,
                             requested_at=now - dt.timedelta(hours=hours + 1),
                             decided_at=now - dt.timedelta(hours=1))
    # An old decision and a cancellation are not counted.
    Grant.objects.create(user=personas.carl, permission_type=kind, body=body,
                         status=Grant.Status.CANCELLED, requested_at=now - dt.timedelta(days=9),
                         decided_at=now - dt.timedelta(hours=2))
    rows = {row["body"].pk: row for row in decision_times_by_body(now=now)}
    assert rows[body.pk]["count"] == 3
    assert rows[body.pk]["median"] == dt.timedelta(hours=3)


def test_list_titles_read_as_korean(nadmin_client):
    """Django's own Korean catalog says "보기위한 1감사 기록 를(을) 선택"; ours corrects it."""
    page = page_text(nadmin_client.get("/admin/kdcis/auditevent/"))
    assert "조회할 감사 기록 선택" in page
    assert "를(을)" not in page and "보기위한" not in page


def test_admins_edit_the_faq_and_post_work_correspondence(nadmin_client):
    response = nadmin_client.post("/admin/kdcis/faq/add/", {
        "category": "certificate", "question": "인증서 암호를 잊었습니다.",
        "answer": "인증서를 발급한 기관에서 다시 발급받으세요.", "order": "5",
        "is_published": "on"})
    assert response.status_code == 302, page_text(response)
    faq = Faq.objects.get(question="인증서 암호를 잊었습니다.")
    assert faq.category == "certificate" and faq.order == 5 and faq.is_published
    body = page_text(nadmin_client.get("/admin/kdcis/faq/"))
    assert "자주묻는 질문" in body and "인증서 암호를 잊었습니다." in body
    response = nadmin_client.post("/admin/kdcis/notice/add/", {
        "kind": "work", "title": "예방접종 등록 점검 협조", "body": "관할 의료기관 점검",
        "published_at_0": "2026-12-01", "published_at_1": "09:00:00", "is_published": "on"})
    assert response.status_code == 302, page_text(response)
    assert Notice.objects.get(title="예방접종 등록 점검 협조").kind == Notice.Kind.WORK
    assert "업무연락" in page_text(nadmin_client.get("/admin/kdcis/notice/?kind=work"))


def test_the_reports_page_shows_the_last_audit_verification(nadmin_client):
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db import connection

    from kdcis.audit import audit

    assert "아직 검증한 적이 없습니다" in page_text(nadmin_client.get("/admin/reports/"))
    rows = [audit(actor=None, action="test.event", target_type="test") for _ in range(3)]
    call_command("verify_audit", stdout=io.StringIO())
    assert "정상: 변경·삭제·순서 어긋남 없음" in page_text(nadmin_client.get("/admin/reports/"))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE id = %s", [rows[0].pk])
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=io.StringIO())
    text = page_text(nadmin_client.get("/admin/reports/"))
    # The admin's own login is a row of the chain too: the first row after the gap is named.
    assert "이상 발견" in text and f"ID {rows[1].pk} (순번 {rows[1].seq})" in text


def test_institution_requests_are_listed_masked_and_found_by_their_reference(nadmin_client,
                                                                              personas):
    waiting = _institution_request()
    from institutions.services import institution_request_cancel

    other = _institution_request("draft-key-secret-other", name="푸른솔약국",
                                 business_number="2208162517")
    institution_request_cancel(request_id=other.pk, draft_key="draft-key-secret-other")
    listing = page_text(nadmin_client.get("/admin/institutions/institutionrequest/"))
    for shown in (waiting.reference, "새봄가정의학과의원", "신청중", "신청취소", "종로구", "한*람"):
        assert shown in listing, shown
    assert "한가람" not in listing and "draft-key-secret" not in listing
    only = page_text(nadmin_client.get("/admin/institutions/institutionrequest/",
                                       {"status__exact": "requested"}))
    assert "새봄가정의학과의원" in only and "푸른솔약국" not in only
    found = page_text(nadmin_client.get("/admin/institutions/institutionrequest/",
                                        {"q": other.reference}))
    assert "푸른솔약국" in found and "새봄가정의학과의원" not in found
    url = f"/admin/institutions/institutionrequest/{waiting.pk}/change/"
    detail = page_text(nadmin_client.get(url))
    assert "010-****-6666" in detail and "01055556666" not in detail
    assert "한가람" not in detail and "draft-key-secret" not in detail


def test_institution_requests_cannot_be_changed_in_the_admin(nadmin_client, personas):
    """Deciding is the health center's and correcting the helpdesk's, through services."""
    req = _institution_request()
    url = f"/admin/institutions/institutionrequest/{req.pk}/change/"
    response = nadmin_client.post(url, {"status": "registered", "name": "바뀐이름의원"})
    assert response.status_code == 403
    assert nadmin_client.get("/admin/institutions/institutionrequest/add/").status_code == 403
    delete = f"/admin/institutions/institutionrequest/{req.pk}/delete/"
    assert nadmin_client.post(delete, {"post": "yes"}).status_code == 403
    req.refresh_from_db()
    assert (req.status, req.name) == ("requested", "새봄가정의학과의원")
