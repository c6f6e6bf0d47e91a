"""OCSP (RFC 6960) against a real responder the test starts (`openssl ocsp` of the OS
package): good, revoked, unknown and unreachable; good answers cached in the database."""

from __future__ import annotations

import logging

import pytest

from accounts import pki
from accounts.certificates import CertificateError, TrustStore, verify_signed_challenge
from accounts.models import OcspResponse
from accounts.revocation import DatabaseRevocationSources
from tests.accounts import pki_servers

pytestmark = pytest.mark.django_db
CHALLENGE = b"ocsp-test-challenge"
CN = "홍길동()0010041200805281234567"


@pytest.fixture(scope="module")
def ca() -> pki.Authority:
    return pki.make_ca("KDCIS OCSP Test CA", key=pki.cached_key("ocsp-ca"))


@pytest.fixture(scope="module")
def responder(ca) -> pki.Issued:
    return pki.make_ocsp_responder(ca, key=pki.cached_key("ocsp-responder"))


def issue(ca, url: str, serial: int) -> pki.Issued:
    return pki.make_user_certificate(ca, common_name=CN, key=pki.cached_key("ocsp-user"),
                                     serial=serial, ocsp_url=url)


def verify(issued, trust, sources=None):
    return verify_signed_challenge(
        certificate=issued.der, challenge=CHALLENGE,
        signature=pki.sign_challenge(issued.key, CHALLENGE), trust=trust,
        revocation=sources if sources is not None else DatabaseRevocationSources(
            ocsp_enabled=True, timeout=5))


def refused(code, issued, trust, sources=None) -> CertificateError:
    with pytest.raises(CertificateError) as info:
        verify(issued, trust, sources)
    assert info.value.code == code
    return info.value


@pytest.fixture(scope="module")
def served(ca, responder, tmp_path_factory):
    """One responder for the module: serial 1 good, 2 revoked, anything else unknown."""
    port = pki_servers.free_port()
    url = f"http://127.0.0.1:{port}/"
    good, revoked = issue(ca, url, 1), issue(ca, url, 2)
    index = pki_servers.ocsp_index(good=[good], revoked=[revoked])
    with pki_servers.ocsp_responder(tmp_path_factory.mktemp("ocsp"), ca, responder, index,
                                    port=port):
        yield {"url": url, "good": good, "revoked": revoked, "unknown": issue(ca, url, 3)}


def no_crl(ca) -> TrustStore:
    return TrustStore.from_pem_bundle(pki.pem(ca))


def with_crl(ca, revoked=()) -> TrustStore:
    return TrustStore.from_pem_bundle(pki.pem(ca), [pki.pem(pki.make_crl(ca, list(revoked)))])


def test_a_good_answer_covers_a_ca_without_any_crl_and_is_cached(ca, served):
    result = verify(served["good"], no_crl(ca))
    assert result.serial == "1"
    cached = OcspResponse.objects.get()
    assert cached.next_update > cached.this_update
    assert cached.key.endswith(":1")


def test_a_revoked_answer_refuses_at_once_even_when_the_crl_says_nothing(ca, served):
    error = refused("revoked", served["revoked"], with_crl(ca))
    assert "폐지" in str(error)
    assert not OcspResponse.objects.exists()  # only good answers are kept


def test_unknown_falls_back_to_the_crl_and_fails_closed_without_one(ca, served, caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.certificates"):
        error = refused("revocation_unknown", served["unknown"], no_crl(ca))
    assert "OCSP" in str(error)
    assert any("does not know serial 3" in r.getMessage() for r in caplog.records)
    assert any("revocation_unknown" in r.getMessage() and r.levelno == logging.ERROR
               for r in caplog.records)
    assert verify(served["unknown"], with_crl(ca)).serial == "3"
    refused("revoked", served["unknown"], with_crl(ca, revoked=[3]))


def test_an_unreachable_responder_falls_back_to_the_crl(ca, caplog):
    closed = f"http://127.0.0.1:{pki_servers.free_port()}/"
    issued = issue(ca, closed, 4)
    with caplog.at_level(logging.WARNING, logger="accounts.certificates"):
        refused("revocation_unknown", issued, no_crl(ca))
    assert any(closed in r.getMessage() for r in caplog.records)
    assert verify(issued, with_crl(ca)).serial == "4"


def test_a_cached_good_answer_is_used_while_the_responder_is_down(ca, responder, tmp_path):
    port = pki_servers.free_port()
    issued = issue(ca, f"http://127.0.0.1:{port}/", 5)
    with pki_servers.ocsp_responder(tmp_path, ca, responder,
                                    pki_servers.ocsp_index(good=[issued]), port=port):
        verify(issued, no_crl(ca))
    # The responder is gone: the stored answer (valid for a day) still covers it, on any
    # server (a fresh sources object reads the database).
    assert verify(issued, no_crl(ca)).serial == "5"
    # An answer past its nextUpdate is not used.
    OcspResponse.objects.update(this_update="2000-01-01T00:00Z", next_update="2000-01-02T00:00Z")
    refused("revocation_unknown", issued, no_crl(ca))


def test_the_ca_itself_may_sign_the_answers(ca, tmp_path):
    port = pki_servers.free_port()
    issued = issue(ca, f"http://127.0.0.1:{port}/", 6)
    with pki_servers.ocsp_responder(tmp_path, ca, ca, pki_servers.ocsp_index(good=[issued]),
                                    port=port):
        assert verify(issued, no_crl(ca)).serial == "6"


def test_an_answer_signed_by_a_responder_the_ca_did_not_delegate_is_not_trusted(
        ca, tmp_path, caplog):
    other = pki.make_ca("Other OCSP CA", key=pki.cached_key("ocsp-other-ca"))
    stranger = pki.make_ocsp_responder(other, common_name="KDCIS OCSP Test CA OCSP Responder",
                                       key=pki.cached_key("ocsp-stranger"))
    port = pki_servers.free_port()
    issued = issue(ca, f"http://127.0.0.1:{port}/", 7)
    with pki_servers.ocsp_responder(tmp_path, ca, stranger,
                                    pki_servers.ocsp_index(good=[issued]), port=port):
        with caplog.at_level(logging.WARNING, logger="accounts.certificates"):
            refused("revocation_unknown", issued, no_crl(ca))
    assert any("neither the CA nor a responder it delegated" in r.getMessage()
               for r in caplog.records)
    assert not OcspResponse.objects.exists()


def test_without_sources_ocsp_is_not_asked(ca, served):
    # The pure verifier with only the trust store: the CRL files decide, as before.
    with pytest.raises(CertificateError) as info:
        verify_signed_challenge(
            certificate=served["good"].der, challenge=CHALLENGE,
            signature=pki.sign_challenge(served["good"].key, CHALLENGE), trust=no_crl(ca))
    assert info.value.code == "revocation_unknown"
