"""탈퇴: the person is erased at once; the institution's data stays; rejoining works."""

import hashlib
from html import unescape

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client

from accounts.models import User
from kdcis.models import AuditEvent
from permissions.models import Grant
from permissions.services import grant_approve
from tests.accounts.helpers import bind, complete_profile, post_certificate

pytestmark = pytest.mark.django_db




def every_stored_text() -> str:
    """Every value of every row of every table, sessions decoded, as one string."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                chunks.append(" ".join(str(v) for v in row))
    for session in Session.objects.all():
        chunks.append(str(session.get_decoded()))
    return "\n".join(chunks)


@pytest.fixture(autouse=True)
def _supplementary_done(personas, complete_supplementary_info):
    complete_supplementary_info(personas.alice.institution)


def active_alice(personas, test_pki):
    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
    issued = test_pki.issue("김앨리()0010041200805281999999")
    bind(personas.alice, issued)
    personas.alice.refresh_from_db()
    return issued


def test_my_info_shows_my_data_and_the_withdraw_button(client, personas, test_pki):
    active_alice(personas, test_pki)
    client.force_login(personas.alice)
    text = unescape(client.get("/me/").content.decode())
    for value in ("김앨리", "alice01", "종로연세의원", "010-1111-2222", "예방접종관리 User", "탈퇴"):
        assert value in text
    page = unescape(client.get("/me/withdraw/").content.decode())
    assert "즉시 삭제되는 정보" in page and "그대로 남는 정보" in page
    assert "소속기관이 변경된 경우에도 탈퇴 후 재가입" in page


def test_withdrawal_needs_a_fresh_signature_of_the_bound_certificate(client, personas,
                                                                    test_pki):
    active_alice(personas, test_pki)
    client.force_login(personas.alice)
    other = test_pki.issue("김앨리()0010041200805281888888")
    response = post_certificate(client, "/me/withdraw/", other)
    assert response.status_code == 400
    assert "본인의 인증서로 서명해야" in unescape(response.content.decode())
    assert User.objects.get(pk=personas.alice.pk).status == "active"


def test_withdrawal_erases_the_person_from_every_table_and_keeps_the_institution(
        client, personas, test_pki):
    issued = active_alice(personas, test_pki)
    alice = personas.alice
    institution = alice.institution
    before = (institution.name, institution.address, institution.number)
    secrets = (alice.username, alice.name, alice.mobile, "0221483500")
    client.force_login(alice)
    client.get("/vaccination/")
    response = post_certificate(client, "/me/withdraw/", issued)
    assert "탈퇴가 완료되었습니다" in unescape(response.content.decode())
    text = every_stored_text()
    for value in secrets[:3]:
        assert value not in text, f"{value!r} is still stored somewhere"
    alice.refresh_from_db()
    assert alice.status == "withdrawn" and alice.username.startswith("withdrawn-")
    assert not Grant.objects.filter(user=alice).exists()
    assert not hasattr(User.objects.get(pk=alice.pk), "certificate") or not \
        User.objects.filter(pk=alice.pk, certificate__isnull=False).exists()
    institution.refresh_from_db()
    assert (institution.name, institution.address, institution.number) == before
    assert AuditEvent.objects.filter(action="account.withdrawn",
                                     subject_ref=str(alice.ref)).exists()


def test_withdrawal_ends_every_session_on_every_device(client, personas, test_pki):
    issued = active_alice(personas, test_pki)
    other_device = Client()
    other_device.force_login(personas.alice)
    assert "로그아웃" in other_device.get("/").content.decode()
    client.force_login(personas.alice)
    keys = [other_device.session.session_key, client.session.session_key]
    assert Session.objects.filter(session_key__in=keys).count() == 2
    post_certificate(client, "/me/withdraw/", issued)
    # Deleted, not merely invalidated: nothing the person left in a session outlives them.
    assert not Session.objects.filter(session_key__in=keys).exists()
    assert other_device.get("/me/").status_code == 302
    assert "인증서 로그인" in unescape(other_device.get("/").content.decode())
    assert "_auth_user_id" not in client.session


def test_the_same_certificate_and_id_can_sign_up_again_at_once(client, personas, test_pki):
    issued = active_alice(personas, test_pki)
    institution = personas.alice.institution
    client.force_login(personas.alice)
    post_certificate(client, "/me/withdraw/", issued)
    fresh = Client()
    fresh.post("/signup/consent/", {"agree": "on"})
    assert post_certificate(fresh, "/signup/certificate/", issued).url == "/signup/profile/"
    assert complete_profile(fresh, username="alice01", mobile="01011112222",
                            institution_number=institution.number).url == (
        "/signup/permissions/")
    from institutions.models import ApprovingBody

    jongno = ApprovingBody.objects.get(code="HC-11110-1")
    fresh.post("/signup/permissions/", {"perm_vaccination_user": "on",
                                        "body_vaccination_user": str(jongno.pk)})
    again = User.objects.get(username="alice01")
    assert again.pk != personas.alice.pk and again.institution == institution
    assert again.certificate.fingerprint == hashlib.sha256(issued.der).hexdigest()


def test_withdrawal_scrubs_the_admin_log_and_new_entries_name_no_one(client, personas,
                                                                     test_pki):
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    issued = active_alice(personas, test_pki)
    alice = personas.alice
    admin = User.objects.create_superuser(username="nadmin2", password="x" * 16)
    assert alice.username not in str(alice) and alice.name not in str(alice)
    assert personas.oscar.username not in str(personas.oscar.officer)
    # An entry as an earlier release wrote it: the username in the repr and the message.
    LogEntry.objects.create(
        user=admin, content_type=ContentType.objects.get_for_model(User),
        object_id=str(alice.pk), object_repr=f"{alice.username} {alice.name}",
        action_flag=CHANGE, change_message=f"changed mobile {alice.mobile}")
    client.force_login(alice)
    post_certificate(client, "/me/withdraw/", issued)
    entry = LogEntry.objects.get(object_id=str(alice.pk))
    assert alice.username not in entry.object_repr and alice.mobile not in entry.change_message
    assert entry.object_repr == f"withdrawn-{alice.ref}"


def test_withdrawal_deletes_a_renewal_in_progress_in_an_anonymous_session(client, personas,
                                                                          test_pki):
    """A renewed certificate's login parks the certificate and the account id in a session
    nobody is signed in to; the person's withdrawal deletes it too."""
    import datetime as dt

    issued = active_alice(personas, test_pki)
    renewed = test_pki.issue("김앨리()0010041200805281999999", serial=0xABC123,
                             not_after=issued.cert.not_valid_after_utc + dt.timedelta(days=365))
    stranger = Client()
    assert post_certificate(stranger, "/login/", renewed).url == "/login/renewed-certificate/"
    parked = stranger.session.session_key
    assert Session.objects.filter(session_key=parked).exists()
    client.force_login(personas.alice)
    post_certificate(client, "/me/withdraw/", issued)
    assert not Session.objects.filter(session_key=parked).exists()


@pytest.mark.django_db
def test_withdrawal_deletes_the_cached_ocsp_answer_naming_the_certificate(personas):
    import datetime as dt

    from django.utils import timezone

    from accounts.models import OcspResponse
    from accounts.services import account_withdraw

    now = timezone.now()
    serial = personas.alice.certificate.serial

    def cached(key):
        return OcspResponse.objects.create(key=key, der=b"\x30\x00", this_update=now,
                                           next_update=now + dt.timedelta(hours=1),
                                           fetched_at=now)

    mine = cached(f"ab12:{serial}")
    other = cached(f"ab12:{personas.bob.certificate.serial}")
    account_withdraw(user=personas.alice, ip="203.0.113.9")
    assert not OcspResponse.objects.filter(pk=mine.pk).exists()
    assert OcspResponse.objects.filter(pk=other.pk).exists()
