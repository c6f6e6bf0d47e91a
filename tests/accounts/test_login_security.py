"""Certificate login under attack (issue 16): lockouts one person can impose (item 2), the
login challenge without a stored session (item 10) and one certificate with two encodings
(item 11)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from html import unescape

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.test import Client

from accounts import pki
from accounts.models import CertificateBinding, User
from tests.accounts.helpers import bind, post_certificate

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return unescape(response.content.decode())


def logged_in_as(client) -> str | None:
    return client.session.get("_auth_user_id")


# ------------------------------------------------------------------ item 2: lockouts


def test_another_persons_failures_do_not_lock_out_a_valid_certificate(
        client, test_pki, personas, pinned_clock):
    """Ten failures by someone else from the same (NAT) address used to lock every
    certificate login of that address out for 15 minutes."""
    stranger = test_pki.issue("모르는()2001")  # valid, but bound to no account
    for _ in range(10):
        assert "등록되지 않은 인증서" in text(post_certificate(client, "/login/", stranger))
    # The stranger's certificate is now limited...
    assert post_certificate(client, "/login/", stranger).status_code == 429
    # ...but a colleague behind the same address signs in.
    issued = test_pki.issue("김앨리()2002")
    bind(personas.alice, issued)
    response = post_certificate(client, "/login/", issued)
    assert response.status_code == 302
    assert logged_in_as(client) == str(personas.alice.pk)


def test_failures_against_one_account_lock_that_account_only(
        client, test_pki, personas, pinned_clock):
    """Someone holding alice's certificate (it is not secret) but not her key: the account is
    limited after ten failures, whatever address they come from; bob is not."""
    issued = test_pki.issue("김앨리()2003")
    bind(personas.alice, issued)
    wrong_key = pki.cached_key("someone else")
    for n in range(10):
        attacker = Client(REMOTE_ADDR=f"10.1.0.{n + 1}")
        response = post_certificate(attacker, "/login/", issued, sign_with=wrong_key)
        assert "서명" in text(response)
    response = post_certificate(client, "/login/", issued)  # alice, right key, own address
    assert response.status_code == 429
    assert logged_in_as(client) is None
    bobs = test_pki.issue("박밥()2004")
    bind(personas.bob, bobs)
    assert post_certificate(client, "/login/", bobs).status_code == 302


def test_the_address_ceiling_still_holds(client, test_pki, personas, settings, pinned_clock):
    settings.LOGIN_MAX_FAILURES_PER_IP = 3
    for n in range(3):
        post_certificate(client, "/login/", test_pki.issue(f"모르는()20{n:02d}"))
    issued = test_pki.issue("김앨리()2010")
    bind(personas.alice, issued)
    response = post_certificate(client, "/login/", issued)
    assert response.status_code == 429
    assert "로그인 실패가 너무 많습니다" in text(response)


# ------------------------------------------------------- item 10: no session per visitor


def test_cookieless_visits_of_the_login_page_store_no_session(reference_data):
    """300 GETs without a cookie used to insert 300 session rows (kept 8 hours)."""

    for n in range(300):
        response = Client().get("/" if n % 2 else "/login/")
        assert response.status_code == 200
        assert response.context["challenge"]
    assert Session.objects.count() == 0
    assert Session.objects.count() == 0


def test_a_login_challenge_works_once(client, test_pki, personas):
    issued = test_pki.issue("김앨리()2011")
    bind(personas.alice, issued)
    challenge = Client().get("/login/").context["challenge"]
    signature = base64.b64encode(pki.sign_challenge(issued.key, challenge.encode())).decode()
    posted = {"challenge": challenge, "signature": signature,
              "certificate": base64.b64encode(issued.der).decode()}
    assert client.post("/login/", posted).status_code == 302
    assert logged_in_as(client) == str(personas.alice.pk)
    # The same token and signature again (a captured request), from another browser.
    replay = Client()
    response = replay.post("/login/", posted)
    assert response.status_code == 200 and logged_in_as(replay) is None
    assert "이미 사용되었습니다" in text(response)


def test_a_forged_or_expired_login_challenge_is_refused(client, test_pki, personas, settings):
    from django.core import signing

    issued = test_pki.issue("김앨리()2012")
    bind(personas.alice, issued)
    forged = signing.dumps("A" * 43, salt="another-purpose")
    response = post_certificate(client, "/login/", issued, challenge=forged)
    assert logged_in_as(client) is None and "이미 사용되었습니다" in text(response)
    settings.CERT_CHALLENGE_TTL_SECONDS = -1  # every token is already too old
    response = post_certificate(client, "/login/", issued)
    assert logged_in_as(client) is None and "시간이 지났습니다" in text(response)


# ------------------------------------------------- item 11: one certificate, two encodings

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _tlv(data: bytes, at: int) -> tuple[int, int]:
    """(start of the value, end of the element) of the DER element at `at`."""
    length = data[at + 1]
    if length < 0x80:
        return at + 2, at + 2 + length
    count = length & 0x7F
    length = int.from_bytes(data[at + 2:at + 2 + count], "big")
    return at + 2 + count, at + 2 + count + length


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def reencoded(der: bytes) -> bytes:
    """The same certificate with its ECDSA signature (r, s) written as (r, n - s): still a
    valid signature, a different DER and fingerprint."""
    cert = x509.load_der_x509_certificate(der)
    r, s = decode_dss_signature(cert.signature)
    signature = encode_dss_signature(r, P256_ORDER - s)
    body_start, _end = _tlv(der, 0)
    _tbs_value, tbs_end = _tlv(der, body_start)
    _alg_value, alg_end = _tlv(der, tbs_end)
    bit_string = b"\x03" + _der_length(len(signature) + 1) + b"\x00" + signature
    body = der[body_start:alg_end] + bit_string
    return b"\x30" + _der_length(len(body)) + body


@pytest.fixture
def ecdsa_ca(settings, test_pki, tmp_path):
    """An ECDSA-signing CA trusted next to the test CA, with its CRL."""
    from cryptography.hazmat.primitives.asymmetric import ec

    ca = pki.make_ca("KDCIS Test ECDSA CA", key=ec.generate_private_key(ec.SECP256R1()))
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(test_pki.anchors.read_bytes() + pki.pem(ca.cert))
    crl = tmp_path / "ecdsa.crl"
    crl.write_bytes(pki.pem(pki.make_crl(ca, [])))
    settings.CERT_TRUST_ANCHORS = str(anchors)
    settings.CERT_CRL_PATHS = [str(test_pki.crl), str(crl)]
    return ca


def test_a_reencoded_certificate_is_the_same_certificate(client, ecdsa_ca, personas):
    """Regression: the binding hashed the posted DER, so the second encoding of a
    certificate from an ECDSA CA could sign up a second account."""
    from django.conf import settings
    from django.utils import timezone

    from accounts.certificates import TrustStore, verify_signed_challenge
    from accounts.services import RequestedPermission, SignupError, signup_submit
    from institutions.models import Institution
    from permissions.models import PermissionType

    original = pki.make_user_certificate(ecdsa_ca, common_name="이중인()0010041200805282222",
                                         key=pki.cached_key("ecdsa-user"))
    twin = dataclasses.replace(original, cert=x509.load_der_x509_certificate(
        reencoded(original.der)))
    assert twin.der != original.der
    trust = TrustStore.from_settings()
    verified = [verify_signed_challenge(certificate=i.der, challenge=b"x", trust=trust,
                                        signature=pki.sign_challenge(i.key, b"x"))
                for i in (original, twin)]  # both encodings verify
    assert verified[0].fingerprint != verified[1].fingerprint
    assert hashlib.sha256(twin.der).hexdigest() == verified[1].fingerprint

    inst = Institution.objects.get(number="11110101")
    request = [RequestedPermission(permission_type=PermissionType.objects.get(
        code="vaccination_user"), body=inst.jurisdiction)]
    user = signup_submit(certificate=verified[0], name="이중인", username="twin01",
                         institution=inst, mobile="01012340000", office_phone="0221483500",
                         consent_at=timezone.now(),
                         consent_version=settings.CONSENT_NOTICE_VERSION, permissions=request)
    accounts = User.objects.count()

    # The second encoding cannot sign up again, neither in the service...
    with pytest.raises(SignupError) as info:
        signup_submit(certificate=verified[1], name="이중인", username="twin02",
                      institution=inst, mobile="01012340001", office_phone="0221483500",
                      consent_at=timezone.now(),
                      consent_version=settings.CONSENT_NOTICE_VERSION, permissions=request)
    assert info.value.code == "certificate_taken"
    # ...nor in the wizard...
    wizard = Client()
    wizard.post("/signup/consent/", {"agree": "on"})
    response = post_certificate(wizard, "/signup/certificate/", twin, follow=True)
    assert "이미 다른 사용자에게 등록" in text(response)
    # ...nor behind the service's back (the database's constraint).
    with pytest.raises(IntegrityError), transaction.atomic():
        CertificateBinding.objects.create(
            user=User.objects.create(username="twin03"),
            fingerprint=verified[1].fingerprint, subject_cn="x", issuer="x",
            issuer_dn=verified[1].issuer_dn, serial=verified[1].serial,
            not_before=timezone.now(), not_after=timezone.now(), kind="personal",
            policy_oid="1")
    assert User.objects.count() == accounts

    # It signs in to the same account.
    response = post_certificate(client, "/login/", twin)
    assert response.status_code == 302
    assert logged_in_as(client) == str(user.pk)
    assert user.certificate.fingerprint == verified[0].fingerprint  # kept for display


def test_bindings_made_before_the_issuer_name_was_stored_still_sign_in(
        client, test_pki, personas):
    """accounts/migrations/0005 gives old rows 'legacy:' + the issuer CN."""
    issued = test_pki.issue("김앨리()2013")
    binding = bind(personas.alice, issued)
    binding.issuer_dn = f"legacy:{binding.issuer}"
    binding.save()
    assert post_certificate(client, "/login/", issued).status_code == 302
    assert logged_in_as(client) == str(personas.alice.pk)
