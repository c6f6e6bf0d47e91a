"""Unit tests of certificate verification, challenges and the test PKI (no database)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if not settings.configured:  # run without pytest-django (``-p no:django``)
    settings.configure(USE_I18N=False, USE_TZ=True)

from django.test import override_settings  # noqa: E402

from accounts import challenges, pki  # noqa: E402
from accounts.certificates import (  # noqa: E402
    CertificateError,
    TrustStore,
    TrustStoreNotConfigured,
    VerifiedCertificate,
    decode_base64,
    name_from_cn,
    verify_signed_challenge,
)

CHALLENGE = b"Zk3q0c9V2lJ8m1Q4xYb7uNw6sRt5oPa0eDi3gHf2kLc"
CN = "홍길동()0010041200805281234567"
PERSONAL = pki.DEMO_PERSONAL_POLICY_OID
CORPORATE = pki.DEMO_CORPORATE_POLICY_OID
UTC = dt.UTC


# ---------------------------------------------------------------------------------------------
# Fixtures: one demo PKI per test session (RSA key generation is the slow part)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ca() -> pki.Authority:
    return pki.make_ca("KDCIS Test CA", key=pki.cached_key("test-ca"))


@pytest.fixture(scope="session")
def other_ca() -> pki.Authority:
    return pki.make_ca("Other Test CA", key=pki.cached_key("test-other-ca"))


@pytest.fixture(scope="session")
def user_key():
    return pki.cached_key("test-user")


@pytest.fixture(scope="session")
def stranger_key():
    return pki.cached_key("test-stranger")


@pytest.fixture(scope="session")
def user(ca, user_key) -> pki.Issued:
    return pki.make_user_certificate(ca, common_name=CN, key=user_key, serial=0x1234ABCD)


@pytest.fixture(scope="session")
def trust(ca, other_ca) -> TrustStore:
    """Both CAs with a current (empty) CRL: without one their certificates are refused."""
    return TrustStore.from_pem_bundle(pki.pem([ca, other_ca]), crls_for(ca, other_ca))


def crls_for(*authorities, revoked=()) -> list[bytes]:
    return [pki.pem(pki.make_crl(authority, list(revoked))) for authority in authorities]


def issue(ca, key, **kwargs) -> pki.Issued:
    kwargs.setdefault("common_name", CN)
    return pki.make_user_certificate(ca, key=key, **kwargs)


def verify(issued: pki.Issued, trust: TrustStore, *, challenge: bytes = CHALLENGE,
           signature: bytes | None = None, **kwargs) -> VerifiedCertificate:
    if signature is None:
        signature = pki.sign_challenge(issued.key, challenge)
    return verify_signed_challenge(certificate=issued.der, challenge=challenge,
                                   signature=signature, trust=trust, **kwargs)


def refused(code: str, issued: pki.Issued, trust: TrustStore, **kwargs) -> CertificateError:
    with pytest.raises(CertificateError) as info:
        verify(issued, trust, **kwargs)
    assert info.value.code == code
    return info.value


# ---------------------------------------------------------------------------------------------
# Accepted certificates
# ---------------------------------------------------------------------------------------------


def test_valid_personal_certificate(user, trust):
    result = verify(user, trust)

    assert result.kind == "personal"
    assert result.name == "홍길동"
    assert result.subject_cn == CN
    assert result.issuer == "KDCIS Test CA"
    assert result.serial == "1234abcd"
    assert result.policy_oid == PERSONAL
    assert result.der == user.der
    assert result.fingerprint == hashlib.sha256(user.der).hexdigest()
    assert result.not_before == user.cert.not_valid_before_utc
    assert result.not_after == user.cert.not_valid_after_utc
    assert result.not_after.utcoffset() == dt.timedelta(0)


def test_pem_certificate_is_accepted_and_fingerprinted_as_der(user, trust):
    result = verify_signed_challenge(
        certificate=pki.pem(user), challenge=CHALLENGE,
        signature=pki.sign_challenge(user.key, CHALLENGE), trust=trust,
    )
    assert result.fingerprint == hashlib.sha256(user.der).hexdigest()


def test_explicit_time_in_another_timezone(user, trust):
    kst = dt.timezone(dt.timedelta(hours=9))
    assert verify(user, trust, at=dt.datetime.now(kst)).kind == "personal"


def test_key_usage_extension_absent_is_accepted(ca, user_key, trust):
    issued = issue(ca, user_key, key_usage_digital_signature=None)
    assert verify(issued, trust).kind == "personal"


def test_corporate_refused_unless_allowed(ca, other_ca, user_key, trust):
    issued = issue(ca, user_key, common_name="주식회사 가나다(Ganada)0001", policy_oid=CORPORATE)

    refused("corporate_not_allowed", issued, trust)

    allowing = TrustStore.from_pem_bundle(pki.pem([ca, other_ca]), crls_for(ca, other_ca),
                                          allow_corporate=True)
    result = verify(issued, allowing)
    assert result.kind == "corporate"
    assert result.policy_oid == CORPORATE


def test_korean_ca_policy_table(ca, user_key, trust):
    # yessign personal, KICA purpose-limited personal (.7.x), CrossCert corporate.
    assert verify(issue(ca, user_key, policy_oid="1.2.410.200005.1.1.1"), trust).kind \
        == "personal"
    assert verify(issue(ca, user_key, policy_oid="1.2.410.200004.5.2.1.7.1"), trust).kind \
        == "personal"
    refused("corporate_not_allowed", issue(ca, user_key, policy_oid="1.2.410.200004.5.4.1.2"),
            trust)


def test_policy_table_can_be_extended(ca, user_key):
    issued = issue(ca, user_key, policy_oid="1.2.410.123456.7")
    extended = TrustStore.from_pem_bundle(pki.pem(ca), crls_for(ca),
                                          policy_oids={"1.2.410.123456.7": "personal"})
    assert verify(issued, extended).kind == "personal"


# ---------------------------------------------------------------------------------------------
# Refused certificates
# ---------------------------------------------------------------------------------------------


def test_expired(ca, user_key, trust):
    now = dt.datetime.now(UTC)
    issued = issue(ca, user_key, not_before=now - dt.timedelta(days=400),
                   not_after=now - dt.timedelta(days=1))
    error = refused("expired", issued, trust)
    assert "만료" in str(error)


def test_expired_at_a_later_time(user, trust):
    refused("expired", user, trust, at=dt.datetime.now(UTC) + dt.timedelta(days=800))


def test_not_yet_valid(ca, user_key, trust):
    now = dt.datetime.now(UTC)
    issued = issue(ca, user_key, not_before=now + dt.timedelta(days=2),
                   not_after=now + dt.timedelta(days=400))
    refused("not_yet_valid", issued, trust)


@pytest.mark.parametrize("encoding", [serialization.Encoding.PEM, serialization.Encoding.DER])
def test_revoked_in_crl(ca, other_ca, user_key, encoding):
    issued = issue(ca, user_key, serial=424242)
    crl = pki.make_crl(ca, [1, 2, 424242, 3])
    revoking = TrustStore.from_pem_bundle(pki.pem([ca, other_ca]), [crl.public_bytes(encoding)])

    refused("revoked", issued, revoking)
    # A certificate that is not on the list is still fine with CRL checking on.
    assert verify(issue(ca, user_key, serial=424243), revoking).kind == "personal"


def test_crl_bundle_with_several_pem_crls(ca, other_ca, user_key):
    issued = issue(ca, user_key, serial=515151)
    bundle = pki.pem([pki.make_crl(other_ca, [1]), pki.make_crl(ca, [515151])])
    refused("revoked", issued, TrustStore.from_pem_bundle(pki.pem([ca, other_ca]), [bundle]))


def test_crl_of_another_ca_does_not_affect(ca, other_ca, user_key):
    issued = issue(ca, user_key, serial=777)
    other_crl = pki.make_crl(other_ca, [777])
    # The other CA is trusted and has a CRL listing the same serial number...
    store = TrustStore.from_pem_bundle(pki.pem([ca, other_ca]),
                                       [pki.pem(other_crl), *crls_for(ca)])
    assert verify(issued, store).kind == "personal"
    # ...or is not trusted at all (its CRL is ignored).
    store = TrustStore.from_pem_bundle(pki.pem(ca), [pki.pem(other_crl), *crls_for(ca)])
    assert verify(issued, store).kind == "personal"


def test_expired_crl_is_crl_missing(ca, user_key):
    now = dt.datetime.now(UTC)
    stale = pki.make_crl(ca, [], last_update=now - dt.timedelta(days=10),
                         next_update=now - dt.timedelta(days=3))
    store = TrustStore.from_pem_bundle(pki.pem(ca), [pki.pem(stale)])
    refused("crl_missing", issue(ca, user_key), store)


def test_crl_with_a_bad_signature_fails_closed(ca, user_key):
    impostor = pki.Authority(cert=ca.cert, key=pki.cached_key("test-stranger"))
    forged_crl = pki.make_crl(impostor, [])
    store = TrustStore.from_pem_bundle(pki.pem(ca), [pki.pem(forged_crl)])
    refused("crl_missing", issue(ca, user_key), store)


def test_a_ca_without_a_crl_fails_closed(ca, other_ca, user_key):
    """Regression (issue 16, item 4): a revoked certificate signed in when its CA had no CRL
    configured. Whatever is missing, revocation is unknown and the certificate is refused."""
    revoked = issue(ca, user_key, serial=0xDEAD)
    # No CRL at all, or only another CA's.
    for crls in ([], crls_for(other_ca, revoked=[0xDEAD])):
        error = refused("revocation_unknown", revoked,
                        TrustStore.from_pem_bundle(pki.pem([ca, other_ca]), crls))
        assert "폐지 여부를 확인할 수 없습니다" in str(error.message)
    # With its CRL it is known to be revoked.
    refused("revoked", revoked,
            TrustStore.from_pem_bundle(pki.pem([ca, other_ca]), crls_for(ca, revoked=[0xDEAD])))
    assert TrustStore.from_pem_bundle(pki.pem([ca, other_ca]),
                                      crls_for(ca)).anchors_without_crl() == [
        other_ca.cert.subject.rfc4514_string()]


def test_a_chain_needs_the_crl_of_every_ca(user_key):
    root = pki.make_ca("KDCIS Test Root", key=pki.cached_key("test-root"))
    sub = pki.make_ca("KDCIS Test Sub CA", key=pki.cached_key("test-sub"), issuer=root)
    issued = issue(sub, user_key, serial=99)
    anchors = pki.pem([root, sub])
    # No CRL, the issuing CA's only, the root's only: the certificate is refused.
    for crls in ([], crls_for(sub), crls_for(root)):
        refused("revocation_unknown", issued, TrustStore.from_pem_bundle(anchors, crls))
    # An unknown CA is still reported as untrusted, not as a revocation problem.
    stranger = pki.make_ca("Unknown Sub CA", key=pki.cached_key("test-unknown-sub"))
    refused("untrusted", issue(stranger, user_key), TrustStore.from_pem_bundle(anchors))


def test_bad_configuration_is_refused(ca):
    with pytest.raises(ValueError):
        TrustStore.from_pem_bundle(pki.pem(ca), [pki.pem(ca)])  # a certificate, not a CRL
    with pytest.raises(ImproperlyConfigured):
        TrustStore.from_pem_bundle(pki.pem(ca), policy_oids={"1.2.3": "everyone"})
    with pytest.raises(TrustStoreNotConfigured):
        TrustStore.from_pem_bundle(b"")


def test_intermediate_ca_chain_and_revocation(user_key):
    root = pki.make_ca("KDCIS Test Root", key=pki.cached_key("test-root"))
    sub = pki.make_ca("KDCIS Test Sub CA", key=pki.cached_key("test-sub"), issuer=root)
    issued = issue(sub, user_key, serial=99)
    anchors = pki.pem([root, sub])

    # Revocation is only known with a current CRL of every CA of the chain.
    both = [pki.pem(pki.make_crl(sub, [1])), pki.pem(pki.make_crl(root, [2]))]
    assert verify(issued, TrustStore.from_pem_bundle(anchors, both)).kind == "personal"

    # The leaf revoked by the sub CA; the sub CA revoked by the root (whole chain checked).
    revoked_leaf = [pki.pem(pki.make_crl(sub, [99])), pki.pem(pki.make_crl(root, []))]
    refused("revoked", issued, TrustStore.from_pem_bundle(anchors, revoked_leaf))
    revoked_sub = [pki.pem(pki.make_crl(sub, [])),
                   pki.pem(pki.make_crl(root, [sub.cert.serial_number]))]
    refused("untrusted", issued, TrustStore.from_pem_bundle(anchors, revoked_sub))

    # Without the root in the bundle there is no trust anchor to end the chain at.
    refused("untrusted", issued, TrustStore.from_pem_bundle(pki.pem(sub), crls_for(sub)))


def test_key_usage_without_digital_signature(ca, user_key, trust):
    refused("key_usage", issue(ca, user_key, key_usage_digital_signature=False), trust)


def test_unknown_ca(other_ca, user_key):
    stranger_ca = pki.make_ca("Unknown CA", key=pki.cached_key("test-unknown-ca"))
    refused("untrusted", issue(stranger_ca, user_key),
            TrustStore.from_pem_bundle(pki.pem(other_ca)))


def test_certificate_forged_in_the_name_of_a_trusted_ca(ca, user_key, trust):
    impostor = pki.Authority(cert=ca.cert, key=pki.cached_key("test-stranger"))
    refused("untrusted", issue(impostor, user_key), trust)


def test_signature_by_another_key(user, stranger_key, trust):
    refused("bad_signature", user, trust,
            signature=pki.sign_challenge(stranger_key, CHALLENGE))


def test_signature_over_another_challenge(user, trust):
    refused("bad_signature", user, trust,
            signature=pki.sign_challenge(user.key, CHALLENGE + b"x"))


def test_empty_signature(user, trust):
    refused("bad_signature", user, trust, signature=b"")


def test_unknown_policy_oid(ca, user_key, trust):
    refused("unknown_policy", issue(ca, user_key, policy_oid="1.2.3.4.5"), trust)
    refused("unknown_policy", issue(ca, user_key, policy_oid=None), trust)


def test_ec_key_is_not_rsa(ca, trust):
    issued = issue(ca, pki.cached_key("test-ec", "ec"))
    with pytest.raises(CertificateError) as info:
        verify_signed_challenge(certificate=issued.der, challenge=CHALLENGE,
                                signature=b"\x30" * 70, trust=trust)
    assert info.value.code == "not_rsa"


@pytest.mark.parametrize("data", [b"", b"not a certificate", b"\x30\x82\x01\x00" + b"\0" * 40,
                                  b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"])
def test_malformed_bytes(data, trust):
    with pytest.raises(CertificateError) as info:
        verify_signed_challenge(certificate=data, challenge=CHALLENGE, signature=b"x",
                                trust=trust)
    assert info.value.code == "malformed"


def test_trailing_bytes_after_the_certificate_are_malformed(user, trust):
    with pytest.raises(CertificateError) as info:
        verify_signed_challenge(certificate=user.der + b"\0", challenge=CHALLENGE,
                                signature=pki.sign_challenge(user.key, CHALLENGE), trust=trust)
    assert info.value.code == "malformed"


def test_decode_base64():
    assert decode_base64("aGVs\nbG8=") == b"hello"
    with pytest.raises(CertificateError) as info:
        decode_base64("not base64!", code="bad_signature")
    assert info.value.code == "bad_signature"
    with pytest.raises(CertificateError):
        decode_base64("")


def test_error_message_is_korean():
    error = CertificateError("revoked")
    assert str(error) == str(error.message)
    assert "폐지" in str(error)
    assert repr(error) == "CertificateError('revoked')"


@pytest.mark.parametrize(
    ("cn", "name"),
    [
        ("홍길동()0010041200805281234567", "홍길동"),
        ("박성용(park sungyong)0004047H000190474", "박성용"),
        ("김재훈-5101640", "김재훈"),
        ("김흥재_0000033643", "김흥재"),
        (" 이순신 ", "이순신"),
    ],
)
def test_name_from_cn(cn, name):
    assert name_from_cn(cn) == name


# ---------------------------------------------------------------------------------------------
# Trust store from settings
# ---------------------------------------------------------------------------------------------


def test_from_settings_caches_and_rereads_a_changed_crl(tmp_path, ca, user_key):
    anchors = tmp_path / "ca.pem"
    anchors.write_bytes(pki.pem(ca))
    crl_path = tmp_path / "ca.crl"
    crl_path.write_bytes(pki.make_crl(ca, [1]).public_bytes(serialization.Encoding.DER))
    issued = issue(ca, user_key, serial=31337)

    with override_settings(CERT_TRUST_ANCHORS=str(anchors), CERT_CRL_PATHS=[str(crl_path)],
                           CERT_POLICY_OIDS={}, CERT_ALLOW_CORPORATE=False):
        first = TrustStore.from_settings()
        assert TrustStore.from_settings() is first
        assert verify(issued, first).kind == "personal"

        crl_path.write_bytes(pki.pem(pki.make_crl(ca, [1, 31337], crl_number=2)))
        stat = crl_path.stat()
        os.utime(crl_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        second = TrustStore.from_settings()
        assert second is not first
        refused("revoked", issued, second)


def test_from_settings_without_anchors_fails_only_when_called(tmp_path):
    with override_settings(CERT_TRUST_ANCHORS=""):
        with pytest.raises(TrustStoreNotConfigured):
            TrustStore.from_settings()
    with override_settings(CERT_TRUST_ANCHORS=str(tmp_path / "missing.pem")):
        with pytest.raises(TrustStoreNotConfigured):
            TrustStore.from_settings()
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with override_settings(CERT_TRUST_ANCHORS=str(empty)):
        with pytest.raises(TrustStoreNotConfigured):
            TrustStore.from_settings()


# ---------------------------------------------------------------------------------------------
# Challenges
# ---------------------------------------------------------------------------------------------


def test_challenge_is_random_and_signable():
    session: dict = {}
    first = challenges.issue_challenge(session, "login")
    second = challenges.issue_challenge(session, "login")
    assert first != second
    assert len(first) >= 22  # at least 128 bits in URL-safe base64
    assert first.isascii() and "=" not in first
    assert challenges.consume_challenge(session, "login", second) == second.encode()
    assert challenges.consume_challenge(session, "login", first) == first.encode()


def test_challenge_works_once():
    session: dict = {}
    value = challenges.issue_challenge(session, "login")
    assert challenges.consume_challenge(session, "login", value) == value.encode()
    with pytest.raises(CertificateError) as info:
        challenges.consume_challenge(session, "login", value)
    assert info.value.code == "challenge_invalid"


def test_challenge_expired():
    session: dict = {}
    value = challenges.issue_challenge(session, "login")
    key = challenges.SESSION_KEY_PREFIX + "login"
    session[key] = [[entry[0], entry[1] - 301] for entry in session[key]]
    with pytest.raises(CertificateError) as info:
        challenges.consume_challenge(session, "login", value)
    assert info.value.code == "challenge_expired"
    # Expired challenges are gone too.
    with pytest.raises(CertificateError) as info:
        challenges.consume_challenge(session, "login", value)
    assert info.value.code == "challenge_invalid"


def test_challenge_ttl_setting():
    session: dict = {}
    value = challenges.issue_challenge(session, "login")
    key = challenges.SESSION_KEY_PREFIX + "login"
    session[key] = [[entry[0], entry[1] - 100] for entry in session[key]]
    with override_settings(CERT_CHALLENGE_TTL_SECONDS=60):
        with pytest.raises(CertificateError) as info:
            challenges.consume_challenge(session, "login", value)
    assert info.value.code == "challenge_expired"


def test_challenge_of_another_purpose_or_value_fails():
    session: dict = {}
    value = challenges.issue_challenge(session, "signup")
    for purpose, candidate in [("login", value), ("signup", value + "x"), ("signup", "")]:
        with pytest.raises(CertificateError) as info:
            challenges.consume_challenge(session, purpose, candidate)
        assert info.value.code == "challenge_invalid"
    assert challenges.consume_challenge(session, "signup", value) == value.encode()


def test_only_a_few_challenges_are_kept():
    session: dict = {}
    values = [challenges.issue_challenge(session, "login") for _ in range(8)]
    with pytest.raises(CertificateError):
        challenges.consume_challenge(session, "login", values[0])
    assert challenges.consume_challenge(session, "login", values[-1]) == values[-1].encode()


def test_signed_challenge_end_to_end(user, trust):
    session: dict = {}
    value = challenges.issue_challenge(session, "login")
    signature = pki.sign_challenge(user.key, value.encode())
    signed = challenges.consume_challenge(session, "login", value)
    result = verify_signed_challenge(certificate=user.der, challenge=signed,
                                     signature=signature, trust=trust)
    assert result.name == "홍길동"


# ---------------------------------------------------------------------------------------------
# PKCS#12
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True])
def test_p12_round_trip(ca, user, legacy):
    data = pki.to_p12(user, "비밀번호1234!", ca=ca, legacy=legacy)

    key, cert, extra = pkcs12.load_key_and_certificates(data, "비밀번호1234!".encode())
    assert cert == user.cert
    assert key.private_numbers() == user.key.private_numbers()
    assert extra == [ca.cert]
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(data, b"wrong password")
