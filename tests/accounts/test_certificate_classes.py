"""Every licensed CA's policy OIDs and classes, who may use GPKI/EPKI, and the names read
from identifyData and from the CN forms Korean CAs issue."""

from __future__ import annotations

import pytest

from accounts import pki
from accounts.certificates import (
    CORPORATE,
    GENERAL,
    GOVERNMENT,
    LIMITED,
    POLICIES,
    STAFF,
    CertificateError,
    TrustStore,
    name_from_cn,
    real_name_from_identify_data,
    verify_signed_challenge,
)

CHALLENGE = b"class-test-challenge"

# The issue's table, written out once more by hand: the code's table must say the same.
EXPECTED = {
    "yessign": {GENERAL: ["1.2.410.200005.1.1.1"],
                LIMITED: ["1.2.410.200005.1.1.4", "1.2.410.200005.1.1.6.2"],
                CORPORATE: ["1.2.410.200005.1.1.5", "1.2.410.200005.1.1.2",
                            "1.2.410.200005.1.1.6.1"]},
    "KICA": {GENERAL: ["1.2.410.200004.5.2.1.2"],
             LIMITED: ["1.2.410.200004.5.2.1.7.1", "1.2.410.200004.5.2.1.7.2",
                       "1.2.410.200004.5.2.1.7.3"],
             CORPORATE: ["1.2.410.200004.5.2.1.1"]},
    "SignKorea": {GENERAL: ["1.2.410.200004.5.1.1.5"],
                  LIMITED: ["1.2.410.200004.5.1.1.9", "1.2.410.200004.5.1.1.9.2"],
                  CORPORATE: ["1.2.410.200004.5.1.1.7"]},
    "CrossCert": {GENERAL: ["1.2.410.200004.5.4.1.1"],
                  LIMITED: ["1.2.410.200004.5.4.1.101", "1.2.410.200004.5.4.1.102",
                            "1.2.410.200004.5.4.1.103", "1.2.410.200004.5.4.1.104"],
                  CORPORATE: ["1.2.410.200004.5.4.1.2"]},
    "KTNET": {GENERAL: ["1.2.410.200012.1.1.1"],
              LIMITED: ["1.2.410.200012.1.1.103", "1.2.410.200012.1.1.105"],
              CORPORATE: ["1.2.410.200012.1.1.3"]},
    "INITECH": {GENERAL: ["1.2.410.200004.5.5.1.1"]},
    "GPKI": {GOVERNMENT: ["1.2.410.100001.2.2.1"]},
    "EPKI": {GOVERNMENT: ["1.2.410.100001.5.3.1.3"]},
}
ROWS = [(ca, cls, oid) for ca, classes in EXPECTED.items()
        for cls, oids in classes.items() for oid in oids]


@pytest.fixture(scope="module")
def ca() -> pki.Authority:
    return pki.make_ca("KDCIS Class Test CA", key=pki.cached_key("class-ca"))


@pytest.fixture(scope="module")
def crl(ca) -> bytes:
    return pki.pem(pki.make_crl(ca, []))


def trust_of(ca, crl, **options) -> TrustStore:
    return TrustStore.from_pem_bundle(pki.pem(ca), [crl], **options)


def verify(ca, trust, *, policy_oid, signer="applicant", **kwargs):
    issued = pki.make_user_certificate(ca, common_name=kwargs.pop("cn", "홍길동()0010041200805281234567"),
                                       key=pki.cached_key("class-user"), policy_oid=policy_oid,
                                       **kwargs)
    return verify_signed_challenge(
        certificate=issued.der, challenge=CHALLENGE,
        signature=pki.sign_challenge(issued.key, CHALLENGE), trust=trust, signer=signer)


def test_the_table_names_every_ca_and_class_of_the_issue_and_a_source_for_each():
    for ca_name, cls, oid in ROWS:
        policy = POLICIES[oid]
        assert (policy.ca, policy.cert_class) == (ca_name, cls), oid
        assert "CPS" in policy.source or "정책" in policy.source


@pytest.mark.parametrize(("ca_name", "cert_class", "oid"), ROWS)
def test_every_oid_is_accepted_or_refused_by_its_class_by_default(ca, crl, ca_name,
                                                                  cert_class, oid):
    trust = trust_of(ca, crl)
    if cert_class in (GENERAL, LIMITED):
        result = verify(ca, trust, policy_oid=oid)
        assert (result.cert_class, result.ca, result.kind) == (cert_class, ca_name, "personal")
    elif cert_class == CORPORATE:
        with pytest.raises(CertificateError) as info:
            verify(ca, trust, policy_oid=oid)
        assert info.value.code == "corporate_not_allowed"
    else:  # GPKI/EPKI: applicants no, public servants yes
        with pytest.raises(CertificateError) as info:
            verify(ca, trust, policy_oid=oid)
        assert info.value.code == "government_not_allowed"
        assert "GPKI" in str(info.value)
        assert verify(ca, trust, policy_oid=oid, signer=STAFF).cert_class == GOVERNMENT


def test_the_settings_choose_the_classes(ca, crl):
    only_general = trust_of(ca, crl, accepted_classes=["general"])
    with pytest.raises(CertificateError) as info:
        verify(ca, only_general, policy_oid="1.2.410.200005.1.1.4")
    assert info.value.code == "class_not_accepted"
    assert verify(ca, only_general, policy_oid="1.2.410.200005.1.1.1").cert_class == GENERAL

    corporate = trust_of(ca, crl, accepted_classes=["general", "limited", "corporate"])
    assert verify(ca, corporate, policy_oid="1.2.410.200004.5.4.1.2").kind == "corporate"

    applicants = trust_of(ca, crl, government_for_applicants=True)
    assert verify(ca, applicants, policy_oid="1.2.410.100001.2.2.1").cert_class == GOVERNMENT

    no_staff = trust_of(ca, crl, government_for_staff=False)
    with pytest.raises(CertificateError):
        verify(ca, no_staff, policy_oid="1.2.410.100001.5.3.1.3", signer=STAFF)


def test_the_login_decides_gpki_once_it_knows_the_account(ca, crl):
    trust = trust_of(ca, crl)
    # signer=None: the verifier leaves it to check_signer.
    cert = verify(ca, trust, policy_oid="1.2.410.100001.2.2.1", signer=None)
    trust.check_signer(cert, staff=True)
    with pytest.raises(CertificateError) as info:
        trust.check_signer(cert, staff=False)
    assert info.value.code == "government_not_allowed"


def test_an_unknown_class_in_the_settings_is_a_configuration_error(ca, crl):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        trust_of(ca, crl, accepted_classes=["everyone"])
    with pytest.raises(ImproperlyConfigured):
        trust_of(ca, crl, policy_oids={"1.2.3": "everyone"})
    extended = trust_of(ca, crl, policy_oids={"1.2.410.123.4": "limited"})
    assert verify(ca, extended, policy_oid="1.2.410.123.4").cert_class == LIMITED


# ---------------------------------------------------------------------------------- names


def test_the_name_comes_from_identify_data_when_present(ca, crl):
    trust = trust_of(ca, crl)
    result = verify(ca, trust, policy_oid="1.2.410.200005.1.1.1", cn="HONG GILDONG()0010",
                    real_name="홍길동")
    assert result.name == "홍길동"
    assert result.subject_cn == "HONG GILDONG()0010"
    # Without identifyData, the CN.
    assert verify(ca, trust, policy_oid="1.2.410.200005.1.1.1",
                  cn="김재훈-5101640").name == "김재훈"


def test_identify_data_is_read_with_or_without_its_wrapper():
    value = pki.identify_data("박성용")
    assert real_name_from_identify_data(value) == "박성용"
    assert real_name_from_identify_data(b"\xa0" + bytes([len(value)]) + value) == "박성용"
    for broken in (b"", b"\x30", b"\x30\x03\x02\x01\x05", b"\x04\x02ab", b"\x30\x80"):
        assert real_name_from_identify_data(broken) is None


@pytest.mark.parametrize(
    ("cn", "name"),
    [
        ("홍길동()0010041200805281234567", "홍길동"),
        ("박성용(park sungyong)0004047H000190474", "박성용"),
        ("김재훈-5101640", "김재훈"),
        ("김흥재_0000033643", "김흥재"),
        ("홍길동", "홍길동"),
        ("JEAN-PIERRE DUPONT()0010041200805281234567", "JEAN-PIERRE DUPONT"),
        ("JEAN-PIERRE DUPONT-5101640", "JEAN-PIERRE DUPONT"),
        ("JEAN-PIERRE", "JEAN-PIERRE"),
        ("남궁_민수_0000033643", "남궁_민수"),
    ],
)
def test_the_cn_is_cut_only_at_the_npki_separators(cn, name):
    assert name_from_cn(cn) == name


def test_the_malformed_message_names_the_npki_folder_too():
    message = str(CertificateError("malformed"))
    assert "signCert.der" in message and "signPri.key" in message and ".p12" in message


def test_the_certificate_window_lists_each_class_by_the_table_the_server_verifies_with(
        client, settings):
    """The window's 구분 comes from the page, built from POLICIES and CERT_POLICY_OIDS."""
    import json
    import re

    from accounts.certificates import POLICIES

    settings.CERT_POLICY_OIDS = {"1.2.410.777.1": "limited"}
    page = client.get("/login/").content.decode()
    labels = json.loads(re.search(
        r'<script id="cert-policies" type="application/json">(.*?)</script>', page, re.S
    ).group(1))
    assert set(POLICIES) <= set(labels)
    assert labels["1.2.410.200005.1.1.1"] == "범용(개인)"
    assert labels["1.2.410.200004.5.4.1.101"] == "용도제한용(은행·신용카드·보험)"
    assert labels["1.2.410.200012.1.1.101"] == "법인(기관)"
    assert labels["1.2.410.100001.2.2.1"] == "공무원(GPKI)"
    assert labels["1.2.410.100001.5.3.1.3"] == "교육기관(EPKI)"
    assert labels["1.2.410.777.1"] == "용도제한용(은행·신용카드·보험)"
