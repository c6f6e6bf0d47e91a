"""Verify a personal certificate and its signature over a one-time server challenge.

The browser (static/js/certificate.js) opens the user's certificate (an NPKI folder's
signCert.der + signPri.key, SEED or PBES2 keys decrypted by static/js/seed.js, or a .p12/.pfx
with node-forge), signs the challenge with RSASSA-PKCS1-v1_5 / SHA-256 and posts only the
certificate (DER) and the signature. :func:`verify_signed_challenge` checks, in this order, and raises
:class:`CertificateError` with a short ``code`` at the first failure:

1. the certificate parses (``malformed``) and holds an RSA key of at least 2048 bits
   (``not_rsa``, ``weak_key``);
2. the signature is over exactly the challenge (``bad_signature``);
3. the leaf's validity dates (``expired``, ``not_yet_valid``), then the chain to a trust
   anchor with pyOpenSSL (``untrusted``), then revocation of every certificate of the chain
   but the root (:func:`check_revocation`): a good OCSP answer from the responder in the
   certificate's AIA (cached until its nextUpdate by the caller's sources) or a current CRL
   of the issuer covering it (its partition), from the configured files or the store
   ``refresh_crls`` fills (``revoked``, ``crl_missing`` for a CRL that is out of date or
   badly signed, ``revocation_unknown`` when nothing covers a CA of the chain);
4. key usage allows digitalSignature (``key_usage``);
5. the first certificate policy OID names the CA and the class (:data:`POLICIES`):
   ``unknown_policy``, ``corporate_not_allowed``, ``class_not_accepted``, and GPKI/EPKI
   only for whom the settings allow (``government_not_allowed``).

The name is the identifyData ``realName`` of the subjectAltName when present, else the CN
cut at the NPKI separators (:func:`name_from_cn`).

Pure module: no database and no models; Django settings are read only by
:meth:`TrustStore.from_settings`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from OpenSSL import crypto

logger = logging.getLogger(__name__)

__all__ = [
    "APPLICANT",
    "CLASSES",
    "DEFAULT_POLICY_OIDS",
    "POLICIES",
    "policy_display_labels",
    "STAFF",
    "CertificateError",
    "CertificateIdentity",
    "OcspAnswer",
    "OcspInvalid",
    "Policy",
    "RevocationSources",
    "TrustStore",
    "TrustStoreNotConfigured",
    "VerifiedCertificate",
    "certificate_identity",
    "certificate_real_name",
    "check_fetched_crl",
    "check_ocsp_response",
    "check_revocation",
    "crl_covers",
    "crl_urls",
    "decode_base64",
    "issuer_key",
    "name_from_cn",
    "ocsp_urls",
    "verify_signed_challenge",
]

PERSONAL = "personal"
CORPORATE = "corporate"
#: ``signer`` of :func:`verify_signed_challenge`: who presents the certificate.
APPLICANT = "applicant"
STAFF = "staff"
MIN_RSA_BITS = 2048
# A posted certificate larger than this is not a personal certificate (those are ~1.5 KB).
MAX_CERTIFICATE_BYTES = 64 * 1024

# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

MESSAGES = {
    "malformed": _("인증서를 읽을 수 없습니다. 인증서 폴더(signCert.der와 signPri.key가 있는 "
                   "NPKI 폴더)나 인증서 파일(.p12 또는 .pfx)을 다시 선택해 주세요."),
    "not_rsa": _("지원하지 않는 인증서입니다. RSA 방식의 공동인증서로 다시 시도해 주세요."),
    "weak_key": _("보안 강도가 낮은 인증서입니다. 인증서를 갱신(재발급)한 뒤 다시 시도해 주세요."),
    "bad_signature": _("인증서 전자서명을 확인하지 못했습니다. 페이지를 새로고침한 뒤 다시 "
                       "시도해 주세요."),
    "expired": _("유효기간이 만료된 인증서입니다. 갱신된 인증서로 다시 시도해 주세요."),
    "not_yet_valid": _("아직 사용 기간이 시작되지 않은 인증서입니다. 유효기간 시작일 이후에 "
                       "다시 시도하거나 컴퓨터의 날짜와 시간을 확인해 주세요."),
    "untrusted": _("신뢰할 수 있는 인증기관에서 발급한 인증서가 아닙니다. 공인된 인증기관의 "
                   "개인용 인증서로 다시 시도해 주세요."),
    "ca_untrusted": _("인증서를 발급한 인증기관의 인증서가 유효하지 않아 확인할 수 없습니다. "
                      "발급받은 인증기관이나 시스템 관리자에게 문의해 주세요."),
    "revoked": _("폐지되었거나 효력이 정지된 인증서입니다. 인증서를 재발급받은 뒤 다시 시도해 "
                 "주세요."),
    "crl_missing": _("인증서의 폐지 여부를 지금 확인할 수 없습니다. 잠시 후 다시 시도하고, "
                     "계속되면 시스템 관리자에게 문의해 주세요."),
    "revocation_unknown": _("인증기관의 폐지 목록(CRL)이나 실시간 확인(OCSP)으로 인증서의 폐지 "
                            "여부를 확인할 수 없습니다. 잠시 후 다시 시도하고, 계속되면 "
                            "시스템 관리자에게 문의해 주세요."),
    "key_usage": _("전자서명 용도로 사용할 수 없는 인증서입니다. 전자서명용 개인 인증서로 다시 "
                   "시도해 주세요."),
    "unknown_policy": _("이 시스템에서 사용할 수 없는 종류의 인증서입니다. 개인용 공동인증서로 "
                        "다시 시도해 주세요."),
    "class_not_accepted": _("이 시스템에서 사용할 수 없는 용도의 인증서입니다. 개인 범용 또는 "
                            "용도제한용 공동인증서로 다시 시도해 주세요."),
    "government_not_allowed": _("행정전자서명(GPKI)·교육기관(EPKI) 인증서는 보건소 담당자와 "
                                "헬프데스크 직원만 사용할 수 있습니다. 개인 공동인증서(범용 "
                                "또는 용도제한용)로 다시 시도해 주세요."),
    "corporate_not_allowed": _("기관(법인) 공용 인증서로는 이용할 수 없습니다. 본인 명의의 개인 "
                               "인증서로 다시 시도해 주세요."),
    "challenge_expired": _("인증 요청 시간이 지났습니다. 페이지를 새로고침한 뒤 다시 시도해 "
                           "주세요."),
    "challenge_invalid": _("인증 요청이 올바르지 않거나 이미 사용되었습니다. 페이지를 새로고침한 "
                           "뒤 다시 시도해 주세요."),
}
GENERIC_MESSAGE = _("인증서를 확인하지 못했습니다. 다시 시도해 주세요.")


class CertificateError(Exception):
    """A certificate or signature was refused.

    ``code`` is a short English slug for code and logs (``expired``, ``revoked``, ...);
    ``message`` is a Korean sentence for the user (lazy, translated when rendered).
    """

    def __init__(self, code: str, message=None) -> None:
        # Only the code goes to Exception.args: logging the error then never needs the
        # translation machinery, and the code is what logs should show anyway.
        super().__init__(code)
        self.code = code
        self.message = message if message is not None else MESSAGES.get(code, GENERIC_MESSAGE)

    def __str__(self) -> str:
        return str(self.message)

    def __repr__(self) -> str:
        return f"CertificateError({self.code!r})"


class TrustStoreNotConfigured(ImproperlyConfigured):
    """The trust anchors (or a CRL file) are missing: an operator has to fix the settings."""


# ---------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedCertificate:
    fingerprint: str  # lowercase hex SHA-256 of the DER
    subject_cn: str
    name: str  # the person's name parsed from the CN
    issuer: str  # issuer CN, or the RFC 4514 string when the issuer has no CN
    serial: str  # lowercase hex
    not_before: dt.datetime  # aware, UTC
    not_after: dt.datetime  # aware, UTC
    kind: str  # 'personal' | 'corporate'
    policy_oid: str
    der: bytes = field(repr=False)
    # The issuer's whole name, normalised: with `serial` the certificate's identity (the
    # account binding's key). The fingerprint is not one: under an ECDSA CA the same
    # certificate has two valid encodings (s and n - s), so two fingerprints.
    issuer_dn: str = ""
    # The class of the policy OID (general, limited, corporate, government) and its CA.
    cert_class: str = ""
    ca: str = ""

    def __post_init__(self) -> None:
        if not self.cert_class:
            object.__setattr__(self, "cert_class",
                               CORPORATE if self.kind == CORPORATE else GENERAL)
        if not self.issuer_dn:
            object.__setattr__(self, "issuer_dn", certificate_identity(self.der).issuer_dn)


@dataclass(frozen=True)
class CertificateIdentity:
    """What a posted certificate claims to be, read without verifying anything (for rate
    limits and lookups before the signature is checked)."""

    fingerprint: str
    issuer_dn: str
    serial: str
    issuer: str  # as VerifiedCertificate.issuer (the CN)


# Longer issuer names are stored by their hash so the binding's key fits its column.
_MAX_ISSUER_DN = 500


def issuer_key(name: x509.Name) -> str:
    """The issuer name as the binding stores it: RFC 4514, case and spaces folded."""
    key = _name_key(name)
    if len(key) > _MAX_ISSUER_DN:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def certificate_identity(certificate: bytes) -> CertificateIdentity:
    """Fingerprint, issuer and serial of a posted certificate (DER or PEM), unverified.

    Raises :class:`CertificateError` ``malformed`` when it does not parse."""
    cert, der = _parse_certificate(certificate)
    return CertificateIdentity(fingerprint=hashlib.sha256(der).hexdigest(),
                               issuer_dn=issuer_key(cert.issuer),
                               serial=format(cert.serial_number, "x"),
                               issuer=_issuer_display(cert))


def _issuer_display(cert: x509.Certificate) -> str:
    return _first_value(cert.issuer, NameOID.COMMON_NAME) or cert.issuer.rfc4514_string()


# The NPKI separators that follow the name in a personal certificate's CN: '(' (with an
# optional romanised name inside), or '-' / '_' followed by the CA's serial (digits, maybe a
# letter or two). A '-' inside the name itself (JEAN-PIERRE) is not followed by the serial.
_CN_SERIAL_TAIL = re.compile(r"[-_][0-9][0-9A-Za-z]*$")


def name_from_cn(cn: str) -> str:
    """The name in a Korean personal-certificate CN, cut only at the NPKI separators.

    ``홍길동()0010041200805281234567`` → ``홍길동``; ``박성용(park sungyong)0004…`` → ``박성용``;
    ``김재훈-5101640`` → ``김재훈``; ``김흥재_0000033643`` → ``김흥재``;
    ``JEAN-PIERRE DUPONT()0010…`` → ``JEAN-PIERRE DUPONT``; ``홍길동`` stays.
    """
    name = cn.split("(", 1)[0]
    name = _CN_SERIAL_TAIL.sub("", name.strip())
    return name.strip()


#: subjectAltName otherName of KISA's identifyData (realName, then the VID).
IDENTIFY_DATA_OID = x509.ObjectIdentifier("1.2.410.200004.10.1.1")


def _der_read(data: bytes, position: int) -> tuple[int, bytes, int]:
    """One DER TLV at ``position``: (tag, contents, next position). Raises ValueError."""
    if position + 2 > len(data):
        raise ValueError("truncated")
    tag = data[position]
    length = data[position + 1]
    position += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or position + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[position:position + count], "big")
        position += count
    end = position + length
    if end > len(data):
        raise ValueError("truncated")
    return tag, data[position:end], end


def real_name_from_identify_data(value: bytes) -> str | None:
    """``realName`` of a KISA IdentifyData (``SEQUENCE { realName UTF8String, userInfo
    SEQUENCE OF VID }``), given as the otherName's DER value (with or without its [0]
    wrapper); None when it is not that shape."""
    try:
        tag, contents, _ = _der_read(value, 0)
        if tag == 0xA0:  # the otherName's [0] EXPLICIT wrapper
            tag, contents, _ = _der_read(contents, 0)
        if tag != 0x30:
            return None
        tag, name, _ = _der_read(contents, 0)
        if tag != 0x0C:  # UTF8String
            return None
        text = name.decode("utf-8").strip()
    except (ValueError, UnicodeDecodeError):
        return None
    return text or None


def certificate_real_name(cert: x509.Certificate) -> str | None:
    """The verified real name of the subjectAltName's identifyData, if any."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for other in names.get_values_for_type(x509.OtherName):
        if other.type_id == IDENTIFY_DATA_OID:
            name = real_name_from_identify_data(other.value)
            if name:
                return name
    return None


def decode_base64(value: str | bytes, *, code: str = "malformed") -> bytes:
    """Strict base64 (standard alphabet, whitespace tolerated) as posted by the browser;
    raises :class:`CertificateError` with ``code`` when it is not base64."""
    if isinstance(value, str):
        try:
            value = value.encode("ascii")
        except UnicodeEncodeError:
            raise CertificateError(code) from None
    value = b"".join(value.split())
    if not value:
        raise CertificateError(code)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CertificateError(code) from None


# ---------------------------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------------------------

# Certificate classes. The first certificate policy OID of a Korean certificate names its CA
# and its class; the class decides who may use it here (TrustStore.accepted_classes).
GENERAL = "general"  # 개인 범용: the personal certificate for every use
LIMITED = "limited"  # 개인 용도제한용: banking, card, insurance, securities ... (free of charge)
GOVERNMENT = "government"  # GPKI (공무원) and EPKI (교육): public servants
CLASSES = (GENERAL, LIMITED, CORPORATE, GOVERNMENT)
CLASS_LABELS = {
    GENERAL: _("개인 범용"),
    LIMITED: _("개인 용도제한용"),
    CORPORATE: _("법인(기관)"),
    GOVERNMENT: _("행정·교육 전자서명(GPKI·EPKI)"),
}
#: Classes accepted when the settings say nothing: personal certificates only.
DEFAULT_ACCEPTED_CLASSES = frozenset({GENERAL, LIMITED})


@dataclass(frozen=True)
class Policy:
    """One certificate policy OID: which CA issues it, its class and where we read it."""

    ca: str
    cert_class: str
    source: str

    @property
    def kind(self) -> str:
        """'corporate' for corporate certificates, 'personal' for every other class."""
        return CORPORATE if self.cert_class == CORPORATE else PERSONAL


# Where each OID comes from. None of the CAs' CPS documents could be fetched from the machine
# this table was written on (no access to the CAs' sites), so no entry is marked as checked
# against a CPS; each names the document an operator should check it against and the
# second-hand sources that agree with it:
#   ISSUE  = the OID table of issue #15 (gathered by the team from the CAs' CPSs);
#   VEST   = the class table of a Korean web-signing library (vestsign policies.js, group 1
#            personal 범용, 16 corporate, 256 용도제한용, GPKI), read in public source;
#   PREV   = the table this project shipped before issue #15 (docs/pitfalls.md).
_ISSUE = "issue #15 table"
_VEST = "vestsign policies.js"
_PREV = "previous project table"
_CPS = {
    "yessign": "yessign (금융결제원) 인증업무준칙(CPS)",
    "KICA": "KICA signGATE (한국정보인증) 인증업무준칙(CPS)",
    "SignKorea": "SignKorea (코스콤) 인증업무준칙(CPS)",
    "CrossCert": "CrossCert (한국전자인증) 인증업무준칙(CPS)",
    "KTNET": "KTNET TradeSign (한국무역정보통신) 인증업무준칙(CPS)",
    "INITECH": "INITECH (이니텍) 인증업무준칙(CPS)",
    "GPKI": "행정전자서명 인증관리센터 인증서 정책(GPKI)",
    "EPKI": "교육기관 전자서명 인증관리센터 인증서 정책(EPKI)",
}


def _policy(ca: str, cert_class: str, *seen_in: str) -> Policy:
    return Policy(ca=ca, cert_class=cert_class,
                  source=f"check against: {_CPS[ca]}; agrees: {', '.join(seen_in)}")


POLICIES: dict[str, Policy] = {
    # yessign (금융결제원, KFTC)
    "1.2.410.200005.1.1.1": _policy("yessign", GENERAL, _ISSUE, _VEST, _PREV),
    "1.2.410.200005.1.1.4": _policy("yessign", LIMITED, _ISSUE),
    "1.2.410.200005.1.1.6.2": _policy("yessign", LIMITED, _ISSUE),
    "1.2.410.200005.1.1.5": _policy("yessign", CORPORATE, _ISSUE, _VEST, _PREV),
    "1.2.410.200005.1.1.2": _policy("yessign", CORPORATE, _ISSUE, _PREV),
    "1.2.410.200005.1.1.6.1": _policy("yessign", CORPORATE, _ISSUE, _PREV),
    # KICA signGATE (한국정보인증)
    "1.2.410.200004.5.2.1.2": _policy("KICA", GENERAL, _ISSUE, _VEST, _PREV),
    "1.2.410.200004.5.2.1.7.1": _policy("KICA", LIMITED, _ISSUE),
    "1.2.410.200004.5.2.1.7.2": _policy("KICA", LIMITED, _ISSUE, _VEST),
    "1.2.410.200004.5.2.1.7.3": _policy("KICA", LIMITED, _ISSUE),
    "1.2.410.200004.5.2.1.1": _policy("KICA", CORPORATE, _ISSUE, _VEST, _PREV),
    "1.2.410.200004.5.2.1.5": _policy("KICA", CORPORATE, _PREV),
    # SignKorea (코스콤)
    "1.2.410.200004.5.1.1.5": _policy("SignKorea", GENERAL, _ISSUE, _VEST, _PREV),
    "1.2.410.200004.5.1.1.9": _policy("SignKorea", LIMITED, _ISSUE, _VEST),
    "1.2.410.200004.5.1.1.9.2": _policy("SignKorea", LIMITED, _ISSUE),
    "1.2.410.200004.5.1.1.7": _policy("SignKorea", CORPORATE, _ISSUE, _VEST, _PREV),
    # CrossCert (한국전자인증)
    "1.2.410.200004.5.4.1.1": _policy("CrossCert", GENERAL, _ISSUE, _VEST, _PREV),
    "1.2.410.200004.5.4.1.101": _policy("CrossCert", LIMITED, _ISSUE),
    "1.2.410.200004.5.4.1.102": _policy("CrossCert", LIMITED, _ISSUE, _VEST),
    "1.2.410.200004.5.4.1.103": _policy("CrossCert", LIMITED, _ISSUE),
    "1.2.410.200004.5.4.1.104": _policy("CrossCert", LIMITED, _ISSUE),
    "1.2.410.200004.5.4.1.2": _policy("CrossCert", CORPORATE, _ISSUE, _VEST, _PREV),
    # KTNET TradeSign (한국무역정보통신)
    "1.2.410.200012.1.1.1": _policy("KTNET", GENERAL, _ISSUE, _VEST, _PREV),
    "1.2.410.200012.1.1.103": _policy("KTNET", LIMITED, _ISSUE, _VEST),
    "1.2.410.200012.1.1.105": _policy("KTNET", LIMITED, _ISSUE),
    "1.2.410.200012.1.1.3": _policy("KTNET", CORPORATE, _ISSUE, _VEST, _PREV),
    "1.2.410.200012.1.1.101": _policy("KTNET", CORPORATE, _PREV),
    # INITECH (이니텍)
    "1.2.410.200004.5.5.1.1": _policy("INITECH", GENERAL, _ISSUE, _VEST),
    # Government: GPKI (행정안전부, 공무원) and EPKI (교육부, 교육기관)
    "1.2.410.100001.2.2.1": _policy("GPKI", GOVERNMENT, _ISSUE, _VEST),
    "1.2.410.100001.5.3.1.3": _policy("EPKI", GOVERNMENT, _ISSUE),
}

#: Our demo/test CA (accounts/pki.py): one OID per class.
DEMO_POLICIES: dict[str, Policy] = {
    "1.2.410.999999.1.1": Policy("KDCIS Demo", GENERAL, "accounts/pki.py"),
    "1.2.410.999999.1.2": Policy("KDCIS Demo", CORPORATE, "accounts/pki.py"),
    "1.2.410.999999.1.3": Policy("KDCIS Demo", LIMITED, "accounts/pki.py"),
    "1.2.410.999999.1.4": Policy("KDCIS Demo", GOVERNMENT, "accounts/pki.py"),
}

# OID -> 'personal' | 'corporate', as before (kept for callers that only need the kind).
DEFAULT_POLICY_OIDS: dict[str, str] = {
    oid: policy.kind for oid, policy in {**POLICIES, **DEMO_POLICIES}.items()
}

# What CERT_POLICY_OIDS may say of an OID ('personal' is the 범용 class, as before).
_CLASS_ALIASES = {PERSONAL: GENERAL, **{c: c for c in CLASSES}}


def _merge_policies(extra: Mapping[str, str | None] | None) -> dict[str, Policy]:
    """The default table with ``extra`` merged over it (a value of None removes an entry).

    ``extra`` maps an OID (an entry ending in ".*" covers the whole arc) to a class:
    'personal' (범용), 'general', 'limited', 'corporate' or 'government'."""
    table = {**POLICIES, **DEMO_POLICIES}
    for oid, value in (extra or {}).items():
        oid = str(oid).strip()
        if value is None:
            table.pop(oid, None)
            continue
        cert_class = _CLASS_ALIASES.get(str(value).strip().lower())
        if cert_class is None:
            raise ImproperlyConfigured(
                f"CERT_POLICY_OIDS[{oid!r}] must be one of personal, general, limited, "
                f"corporate, government, not {value!r}"
            )
        table[oid] = Policy(ca="settings", cert_class=cert_class, source="CERT_POLICY_OIDS")
    return table


#: 구분 as the certificate window lists it (the labels Korean CA software shows).
_DISPLAY_LABELS = {
    GENERAL: _("범용(개인)"),
    LIMITED: _("용도제한용(은행·신용카드·보험)"),
    CORPORATE: _("법인(기관)"),
}
_GOVERNMENT_LABELS = {"GPKI": _("공무원(GPKI)"), "EPKI": _("교육기관(EPKI)")}


def policy_display_labels(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """OID -> 구분 for the certificate window's list (static/js/certificate.js reads it from
    the page), from the same table the verification applies; display only."""
    labels = {}
    for oid, policy in _merge_policies(extra).items():
        if oid.endswith(".*"):
            continue
        if policy.cert_class == GOVERNMENT:
            label = _GOVERNMENT_LABELS.get(policy.ca, CLASS_LABELS[GOVERNMENT])
        else:
            label = _DISPLAY_LABELS[policy.cert_class]
        labels[oid] = str(label)
    return labels


# ---------------------------------------------------------------------------------------------
# Trust store
# ---------------------------------------------------------------------------------------------

# Stores with an explicit verification time are kept for a few distinct times only; the
# store used with ``at=None`` has no fixed time (OpenSSL then uses the current time).
_TIMED_STORES_KEPT = 16


def _split_pem(data: bytes, label: bytes) -> list[bytes]:
    begin = b"-----BEGIN " + label + b"-----"
    end = b"-----END " + label + b"-----"
    blocks = []
    position = 0
    while (start := data.find(begin, position)) != -1:
        stop = data.find(end, start)
        if stop == -1:
            break
        position = stop + len(end)
        blocks.append(data[start:position] + b"\n")
    return blocks


def _load_anchor_bundle(data: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data) if b"CERTIFICATE-----" in data else []
    return [x509.load_der_x509_certificate(data)] if data.strip() else []


def _load_crls(data: bytes) -> list[x509.CertificateRevocationList]:
    """All CRLs in ``data``: one DER CRL, or any number of PEM ``X509 CRL`` blocks."""
    if b"-----BEGIN" in data:
        crls = [x509.load_pem_x509_crl(block) for block in _split_pem(data, b"X509 CRL")]
        if not crls:
            # e.g. a certificate file listed as a CRL: do not silently check nothing.
            raise ValueError("no 'X509 CRL' PEM block in a CRL file")
        return crls
    return [x509.load_der_x509_crl(data)]


def _name_key(name: x509.Name) -> str:
    """A name compared as OpenSSL does, roughly: case and runs of spaces do not matter."""
    return " ".join(name.rfc4514_string().split()).casefold()


def _is_self_issued(cert: x509.Certificate) -> bool:
    return _name_key(cert.subject) == _name_key(cert.issuer)


class TrustStore:
    """Trusted CA certificates, their CRL files, the policy table and the accepted classes.

    Immutable once built; the pyOpenSSL ``X509Store`` objects (chain building only: revocation
    is :func:`check_revocation`'s) are built lazily, once (and per explicit verification
    time), and shared between threads (OpenSSL only reads a store while verifying).

    Every certificate of the bundle is trusted, intermediates included, but a chain must end
    at a self-signed root in the bundle (no partial chains): put the root CA (e.g. KISA's) and
    the licensed CAs' certificates in the bundle.
    """

    def __init__(
        self,
        anchors: Iterable[x509.Certificate],
        crls: Iterable[x509.CertificateRevocationList] = (),
        policy_oids: Mapping[str, str | None] | None = None,
        allow_corporate: bool = False,
        *,
        accepted_classes: Iterable[str] | None = None,
        government_for_applicants: bool = False,
        government_for_staff: bool = True,
    ) -> None:
        self.anchors: tuple[x509.Certificate, ...] = tuple(anchors)
        if not self.anchors:
            raise TrustStoreNotConfigured("The certificate trust anchor bundle holds no "
                                          "certificate.")
        self.policies = _merge_policies(policy_oids)
        self.policy_oids = {oid: policy.kind for oid, policy in self.policies.items()}
        self._policy_prefixes = tuple(
            (oid[:-1], policy) for oid, policy in self.policies.items() if oid.endswith(".*")
        )
        classes = set(DEFAULT_ACCEPTED_CLASSES if accepted_classes is None
                      else (str(c).strip().lower() for c in accepted_classes if str(c).strip()))
        unknown = classes - set(CLASSES)
        if unknown:
            raise ImproperlyConfigured(
                f"CERT_ACCEPTED_CLASSES: unknown class {sorted(unknown)!r} (expected "
                f"{', '.join(CLASSES)})")
        if allow_corporate:
            classes.add(CORPORATE)
        # GPKI/EPKI are decided by who signs (see check_signer), not by this set.
        classes.discard(GOVERNMENT)
        self.accepted_classes = frozenset(classes)
        self.allow_corporate = CORPORATE in self.accepted_classes
        self.government_for_applicants = bool(government_for_applicants)
        self.government_for_staff = bool(government_for_staff)
        self._openssl_anchors = [crypto.X509.from_cryptography(c) for c in self.anchors]

        # Keyed by _name_key(subject).
        self._by_subject: dict[str, list[x509.Certificate]] = {}
        for cert in self.anchors:
            self._by_subject.setdefault(_name_key(cert.subject), []).append(cert)

        # CA names for which a CRL is configured ("covered") and the CRLs whose signature
        # checks out with that CA's key. A CRL with a bad signature leaves its CA covered but
        # without a usable CRL, so its users get ``crl_missing`` (fail closed) instead of their
        # revocation silently not being checked.
        self.crls: list[x509.CertificateRevocationList] = []
        self._crls_by_issuer: dict[str, list[x509.CertificateRevocationList]] = {}
        self._covered: set[str] = set()
        for crl in crls:
            issuers = self._by_subject.get(_name_key(crl.issuer))
            if not issuers:
                logger.warning("Ignoring a CRL of an issuer that is not a trust anchor: %s",
                               crl.issuer.rfc4514_string())
                continue
            self._covered.add(_name_key(crl.issuer))
            if any(crl.is_signature_valid(ca.public_key()) for ca in issuers):
                self.crls.append(crl)
                self._crls_by_issuer.setdefault(_name_key(crl.issuer), []).append(crl)
            else:
                logger.error("The CRL of %s has a bad signature; its certificates will be "
                             "refused until a good CRL is installed.",
                             crl.issuer.rfc4514_string())

        self._lock = threading.Lock()
        self._live_stores: dict[int, crypto.X509Store] = {}
        self._timed_stores: OrderedDict[tuple[int, int], crypto.X509Store] = OrderedDict()

    # -- constructors ----------------------------------------------------------------------

    @classmethod
    def from_pem_bundle(
        cls,
        anchor_pem: bytes,
        crls: Iterable[bytes] = (),
        policy_oids: Mapping[str, str | None] | None = None,
        allow_corporate: bool = False,
        **options,
    ) -> TrustStore:
        """From a PEM bundle of CA certificates and CRLs given as bytes (each PEM or DER).
        ``options`` are the keyword-only arguments of the constructor."""
        anchors = _load_anchor_bundle(anchor_pem)
        loaded: list[x509.CertificateRevocationList] = []
        for data in crls:
            loaded.extend(_load_crls(data))
        return cls(anchors, loaded, policy_oids=policy_oids, allow_corporate=allow_corporate,
                   **options)

    _settings_cache: tuple[tuple, TrustStore] | None = None
    _settings_lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> TrustStore:
        """From ``CERT_TRUST_ANCHORS`` (PEM bundle path), ``CERT_CRL_PATHS`` (PEM or DER
        files), ``CERT_POLICY_OIDS``, ``CERT_ACCEPTED_CLASSES``, ``CERT_ALLOW_CORPORATE``,
        ``CERT_GOVERNMENT_FOR_APPLICANTS`` and ``CERT_GOVERNMENT_FOR_STAFF``.

        The CRLs that ``refresh_crls`` stores in the database are not part of the store: they
        come with each verification through its ``revocation`` sources.

        Cached on the file paths, sizes and modification times (and the other settings): a
        call costs a few ``stat``s, and a replaced CRL file is read again on the next call.
        Raises :class:`TrustStoreNotConfigured` when the anchors are not configured or a
        file is missing.
        """
        from django.conf import settings

        anchor_path = getattr(settings, "CERT_TRUST_ANCHORS", None)
        if not anchor_path:
            raise TrustStoreNotConfigured(
                "CERT_TRUST_ANCHORS is not set: it must name a PEM file with the trusted CA "
                "certificates."
            )
        crl_paths = [p for p in (getattr(settings, "CERT_CRL_PATHS", None) or []) if p]
        policy_oids = dict(getattr(settings, "CERT_POLICY_OIDS", None) or {})
        allow_corporate = bool(getattr(settings, "CERT_ALLOW_CORPORATE", False))
        classes = getattr(settings, "CERT_ACCEPTED_CLASSES", None)
        options = {
            "accepted_classes": None if classes is None else tuple(classes),
            "government_for_applicants": bool(
                getattr(settings, "CERT_GOVERNMENT_FOR_APPLICANTS", False)),
            "government_for_staff": bool(getattr(settings, "CERT_GOVERNMENT_FOR_STAFF", True)),
        }

        def file_key(path: str | os.PathLike, what: str) -> tuple:
            try:
                info = os.stat(path)
            except OSError as exc:
                raise TrustStoreNotConfigured(f"{what} {os.fspath(path)!r}: {exc}") from exc
            return (os.fspath(path), info.st_mtime_ns, info.st_size, info.st_ino)

        key = (
            file_key(anchor_path, "CERT_TRUST_ANCHORS"),
            tuple(file_key(p, "CERT_CRL_PATHS") for p in crl_paths),
            tuple(sorted((str(k), str(v)) for k, v in policy_oids.items())),
            allow_corporate,
            tuple(sorted(options.items(), key=lambda item: item[0])),
        )
        cached = cls._settings_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        with cls._settings_lock:
            cached = cls._settings_cache
            if cached is not None and cached[0] == key:
                return cached[1]
            try:
                store = cls.from_pem_bundle(
                    Path(anchor_path).read_bytes(),
                    [Path(p).read_bytes() for p in crl_paths],
                    policy_oids=policy_oids,
                    allow_corporate=allow_corporate,
                    **options,
                )
            except OSError as exc:
                raise TrustStoreNotConfigured(f"Cannot read a certificate file: {exc}") from exc
            except ValueError as exc:
                raise TrustStoreNotConfigured(
                    f"Cannot parse the trust anchors or a CRL: {exc}"
                ) from exc
            cls._settings_cache = (key, store)
            return store

    # -- lookups ---------------------------------------------------------------------------

    def policy_of(self, policy_oid: str) -> Policy | None:
        """The table's entry for an OID (CA and class), or None when it is not known."""
        policy = self.policies.get(policy_oid)
        if policy is not None:
            return policy
        for prefix, prefix_policy in self._policy_prefixes:
            if policy_oid.startswith(prefix):
                return prefix_policy
        return None

    def kind_of(self, policy_oid: str) -> str | None:
        """'personal', 'corporate' or None for an OID the table does not know."""
        policy = self.policy_of(policy_oid)
        return None if policy is None else policy.kind

    def crls_of(self, issuer: x509.Name) -> list[x509.CertificateRevocationList]:
        """The configured (file) CRLs of ``issuer`` whose signature checked out."""
        return self._crls_by_issuer.get(_name_key(issuer), [])

    def has_crl_file(self, issuer: x509.Name) -> bool:
        """Whether a CRL file names ``issuer`` (even one with a bad signature)."""
        return _name_key(issuer) in self._covered

    def check_signer(self, certificate: VerifiedCertificate, *, staff: bool) -> None:
        """Refuse a GPKI/EPKI certificate unless its holder may use one here.

        Public servants' certificates are accepted for officers and helpdesk staff
        (``government_for_staff``) and, when the settings say so, for applicants
        (``government_for_applicants``). Raises ``government_not_allowed``."""
        if certificate.cert_class != GOVERNMENT:
            return
        allowed = self.government_for_staff if staff else self.government_for_applicants
        if not allowed:
            raise CertificateError("government_not_allowed")

    def anchors_without_crl(self, sourced: Iterable[str] = ()) -> list[str]:
        """The names of the trusted CAs that have no CRL source (for the deploy check): no
        configured CRL file, no distribution point named for them by another trusted CA's
        certificate, and none in ``sourced`` (the :func:`issuer_key` of the CAs the CRL store
        knows a distribution point or a CRL of)."""
        sourced = set(sourced)
        for cert in self.anchors:
            if crl_urls(cert):
                sourced.add(issuer_key(cert.issuer))
        names = {}
        for cert in self.anchors:
            key = _name_key(cert.subject)
            if key not in self._covered and issuer_key(cert.subject) not in sourced:
                names.setdefault(key, cert.subject.rfc4514_string())
        return sorted(names.values())

    def _store(self, flags: int, at: dt.datetime | None) -> crypto.X509Store:
        # pyOpenSSL's X509Store.set_time() cannot move a time that is already set, and a
        # shared store must not change under a concurrent verification anyway: so one store
        # per flags without a time (OpenSSL uses the current time), and a few per
        # (flags, explicit time), built on demand.
        if at is None:
            store = self._live_stores.get(flags)
            if store is None:
                with self._lock:
                    store = self._live_stores.get(flags)
                    if store is None:
                        store = self._live_stores[flags] = self._new_store(flags, None)
            return store
        key = (flags, int(at.timestamp()))
        with self._lock:
            store = self._timed_stores.get(key)
            if store is not None:
                self._timed_stores.move_to_end(key)
                return store
            store = self._timed_stores[key] = self._new_store(flags, at)
            while len(self._timed_stores) > _TIMED_STORES_KEPT:
                self._timed_stores.popitem(last=False)
            return store

    def _new_store(self, flags: int, at: dt.datetime | None) -> crypto.X509Store:
        store = crypto.X509Store()
        for cert in self._openssl_anchors:
            store.add_cert(cert)
        if flags:
            for crl in self.crls:
                store.add_crl(crl)
            store.set_flags(flags)
        if at is not None:
            # pyOpenSSL reads the time with timegm(timetuple()): it must be in UTC.
            store.set_time(at.astimezone(dt.UTC))
        return store

    def warm_up(self) -> None:
        """Build the live stores now (optional: they are otherwise built on first use)."""
        self._store(0, None)


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------

# X509_V_ERR_* codes of OpenSSL's x509_vfy.h that we map to our own codes.
_V_UNABLE_TO_GET_CRL = 3
_V_UNABLE_TO_DECRYPT_CRL_SIGNATURE = 5
_V_CRL_SIGNATURE_FAILURE = 8
_V_CERT_NOT_YET_VALID = 9
_V_CERT_HAS_EXPIRED = 10
_V_CRL_NOT_YET_VALID = 11
_V_CRL_HAS_EXPIRED = 12
_V_ERROR_IN_CRL_LAST_UPDATE_FIELD = 15
_V_ERROR_IN_CRL_NEXT_UPDATE_FIELD = 16
_V_CERT_REVOKED = 23
_V_KEYUSAGE_NO_CRL_SIGN = 35
_V_UNHANDLED_CRITICAL_CRL_EXTENSION = 36
_V_DIFFERENT_CRL_SCOPE = 44
_V_CRL_PATH_VALIDATION_ERROR = 54

_CRL_PROBLEMS = frozenset({
    _V_UNABLE_TO_GET_CRL, _V_UNABLE_TO_DECRYPT_CRL_SIGNATURE, _V_CRL_SIGNATURE_FAILURE,
    _V_CRL_NOT_YET_VALID, _V_CRL_HAS_EXPIRED, _V_ERROR_IN_CRL_LAST_UPDATE_FIELD,
    _V_ERROR_IN_CRL_NEXT_UPDATE_FIELD, _V_KEYUSAGE_NO_CRL_SIGN,
    _V_UNHANDLED_CRITICAL_CRL_EXTENSION, _V_DIFFERENT_CRL_SCOPE, _V_CRL_PATH_VALIDATION_ERROR,
})


def _chain_error(error: crypto.X509StoreContextError) -> CertificateError:
    try:
        number, depth = int(error.errors[0]), int(error.errors[1])
    except (AttributeError, IndexError, TypeError, ValueError):
        number, depth = -1, -1
    detail = error.errors[2] if len(getattr(error, "errors", ())) > 2 else str(error)
    logger.info("Certificate chain refused: OpenSSL error %s at depth %s (%s)",
                number, depth, detail)
    if number in _CRL_PROBLEMS:
        return CertificateError("crl_missing")
    if depth == 0:
        if number == _V_CERT_REVOKED:
            return CertificateError("revoked")
        if number == _V_CERT_HAS_EXPIRED:
            return CertificateError("expired")
        if number == _V_CERT_NOT_YET_VALID:
            return CertificateError("not_yet_valid")
    elif number in (_V_CERT_REVOKED, _V_CERT_HAS_EXPIRED, _V_CERT_NOT_YET_VALID):
        # A CA certificate of the chain: nothing the user can fix with another certificate.
        return CertificateError("untrusted", MESSAGES["ca_untrusted"])
    # Unable to get the issuer, a bad CA signature, a self-signed leaf, an invalid CA...
    return CertificateError("untrusted")


def _parse_certificate(certificate: bytes) -> tuple[x509.Certificate, bytes]:
    if not isinstance(certificate, bytes | bytearray | memoryview):
        raise CertificateError("malformed")
    data = bytes(certificate)
    if not data or len(data) > MAX_CERTIFICATE_BYTES:
        raise CertificateError("malformed")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(data)
            data = cert.public_bytes(serialization.Encoding.DER)
        else:
            cert = x509.load_der_x509_certificate(data)
        # Parse the extensions now, so that a broken one is reported as malformed.
        cert.extensions  # noqa: B018
    except (ValueError, TypeError):
        raise CertificateError("malformed") from None
    # Anything outside the certificate's own DER (trailing bytes) is refused: the
    # fingerprint must identify exactly one encoding.
    if cert.public_bytes(serialization.Encoding.DER) != data:
        raise CertificateError("malformed")
    return cert, data


def _first_value(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _utc(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        return at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC)


def verify_signed_challenge(
    *,
    certificate: bytes,
    challenge: bytes,
    signature: bytes,
    trust: TrustStore,
    at: dt.datetime | None = None,
    revocation: RevocationSources | None = None,
    signer: str | None = APPLICANT,
) -> VerifiedCertificate:
    """Check that ``signature`` is the holder of ``certificate`` signing ``challenge`` and
    that the certificate is a currently valid, trusted, unrevoked personal certificate.

    ``certificate`` is DER (PEM accepted); ``signature`` is the raw RSASSA-PKCS1-v1_5 /
    SHA-256 signature. ``at`` (default: now) is the time for the validity checks; leave it
    None in production (a cached store then uses OpenSSL's clock). ``revocation`` adds the
    stored CRLs and OCSP (see :class:`RevocationSources`); without it only the trust
    store's CRL files are consulted. ``signer`` is who presents the certificate
    (:data:`APPLICANT` or :data:`STAFF`, for GPKI/EPKI); None leaves that to the caller's
    :meth:`TrustStore.check_signer` once it knows (the login). Raises
    :class:`CertificateError`.
    """
    # 1. Parse.
    cert, der = _parse_certificate(certificate)

    # 2. RSA key (Korean KCDSA or other keys cryptography does not know are "not RSA" too).
    try:
        public_key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        raise CertificateError("not_rsa") from None
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CertificateError("not_rsa")
    if public_key.key_size < MIN_RSA_BITS:
        raise CertificateError("weak_key")

    # 3. Signature over exactly the challenge.
    if not isinstance(signature, bytes | bytearray | memoryview) or not signature:
        raise CertificateError("bad_signature")
    if isinstance(challenge, str):
        challenge = challenge.encode("utf-8")
    try:
        public_key.verify(bytes(signature), bytes(challenge), padding.PKCS1v15(),
                          hashes.SHA256())
    except InvalidSignature:
        raise CertificateError("bad_signature") from None

    # 4. Validity dates of the leaf (precise messages), then the chain, then revocation.
    now = _utc(at)
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now > not_after:
        raise CertificateError("expired")
    if now < not_before:
        raise CertificateError("not_yet_valid")
    store = trust._store(0, None if at is None else now)
    try:
        leaf = crypto.load_certificate(crypto.FILETYPE_ASN1, der)
        chain = [c.to_cryptography() for c in
                 crypto.X509StoreContext(store, leaf).get_verified_chain()]
    except crypto.X509StoreContextError as exc:
        raise _chain_error(exc) from None
    except crypto.Error:
        raise CertificateError("malformed") from None
    check_revocation(chain, trust=trust, sources=revocation, at=now)

    # 5. Key usage: digitalSignature when the extension is present.
    try:
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usage = None
    if key_usage is not None and not key_usage.digital_signature:
        raise CertificateError("key_usage")

    # 6. Policy: the CA and class of the first policy OID.
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        policies = None
    if not policies:
        raise CertificateError("unknown_policy")
    policy_oid = policies[0].policy_identifier.dotted_string
    policy = trust.policy_of(policy_oid)
    if policy is None:
        raise CertificateError("unknown_policy")
    if policy.cert_class == CORPORATE and not trust.allow_corporate:
        raise CertificateError("corporate_not_allowed")
    if policy.cert_class not in trust.accepted_classes and policy.cert_class != GOVERNMENT:
        raise CertificateError("class_not_accepted")

    subject_cn = _first_value(cert.subject, NameOID.COMMON_NAME)
    if not subject_cn:
        raise CertificateError("malformed")
    issuer = _issuer_display(cert)
    verified = VerifiedCertificate(
        fingerprint=hashlib.sha256(der).hexdigest(),
        subject_cn=subject_cn,
        name=certificate_real_name(cert) or name_from_cn(subject_cn),
        issuer=issuer,
        serial=format(cert.serial_number, "x"),
        not_before=not_before,
        not_after=not_after,
        kind=policy.kind,
        policy_oid=policy_oid,
        der=der,
        issuer_dn=issuer_key(cert.issuer),
        cert_class=policy.cert_class,
        ca=policy.ca,
    )
    if signer is not None:
        trust.check_signer(verified, staff=signer == STAFF)
    return verified


# ---------------------------------------------------------------------------------------------
# Revocation: OCSP and CRLs
# ---------------------------------------------------------------------------------------------

# Clock skew tolerated on OCSP and CRL times (a responder's clock a little ahead of ours).
_SKEW = dt.timedelta(minutes=5)
# OCSP answers and posted requests are small; anything larger is not an OCSP response.
MAX_OCSP_RESPONSE_BYTES = 64 * 1024


class RevocationSources(Protocol):
    """What a verification may ask about revocation beyond the trust store's CRL files.

    Implemented over the database by ``accounts.revocation`` (shared by every app server);
    tests and benchmarks may pass their own. Every method must be safe to call from several
    threads."""

    #: Whether to ask OCSP responders (the certificates' AIA) at all.
    ocsp_enabled: bool

    def stored_crls(self, issuer_keys: Sequence[str], *,
                    seen: Mapping[str, Sequence[str]]) -> list[x509.CertificateRevocationList]:
        """The stored CRLs of these issuers (by :func:`issuer_key`); ``seen`` maps an
        issuer key to the CRL distribution points of a certificate just presented, for
        ``refresh_crls`` to fetch."""

    def ocsp_cached(self, key: str, at: dt.datetime) -> bytes | None:
        """A stored good OCSP response for ``key`` still valid at ``at``, or None."""

    def ocsp_store(self, key: str, response: bytes, *, this_update: dt.datetime,
                   next_update: dt.datetime) -> None:
        """Keep a verified good response until its ``next_update``."""

    def ocsp_fetch(self, url: str, request: bytes) -> bytes:
        """POST an OCSP request; raise OSError (or ValueError) when there is no answer."""


@dataclass(frozen=True)
class OcspAnswer:
    status: str  # 'good' | 'revoked' | 'unknown'
    this_update: dt.datetime
    next_update: dt.datetime | None


class OcspInvalid(ValueError):
    """An OCSP response that does not answer for the certificate or is not trustworthy."""


def ocsp_post(url: str, request: bytes, *, timeout: float) -> bytes:
    """The HTTP POST of RFC 6960 appendix A (``application/ocsp-request``)."""
    import urllib.request

    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP OCSP URL: {url!r}")
    http_request = urllib.request.Request(
        url, data=request, method="POST",
        headers={"Content-Type": "application/ocsp-request",
                 "Accept": "application/ocsp-response"})
    with urllib.request.urlopen(http_request, timeout=timeout) as response:  # noqa: S310
        body = response.read(MAX_OCSP_RESPONSE_BYTES + 1)
    if len(body) > MAX_OCSP_RESPONSE_BYTES:
        raise ValueError("OCSP response too large")
    return body


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """The OCSP responders named in the certificate's Authority Information Access."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [d.access_location.value for d in aia
            if d.access_method == x509.oid.AuthorityInformationAccessOID.OCSP
            and isinstance(d.access_location, x509.UniformResourceIdentifier)]


def crl_urls(cert: x509.Certificate) -> list[str]:
    """The URIs of the certificate's CRL distribution points (full names only)."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    urls = []
    for point in points:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier):
                urls.append(name.value)
    return urls


def ocsp_cache_key(cert: x509.Certificate, issuer: x509.Certificate) -> str:
    """The cache key of a certificate's OCSP status: its issuer's key hash and its serial."""
    key_hash = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
    return f"{key_hash.hex()}:{cert.serial_number:x}"


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """A DER OCSP request for one certificate (SHA-1 CertID, as responders expect)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    return builder.build().public_bytes(serialization.Encoding.DER)


def _verify_signed(public_key, signature: bytes, data: bytes, algorithm) -> None:
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(algorithm))
    else:
        raise InvalidSignature("unsupported responder key")


def _responder_of(response, issuer: x509.Certificate, at: dt.datetime) -> x509.Certificate:
    """The certificate that signed ``response``: the issuing CA itself, or a responder it
    delegated (issued by it, extendedKeyUsage id-kp-OCSPSigning, valid at ``at``)."""
    def names(candidate: x509.Certificate) -> bool:
        if response.responder_key_hash is not None:
            return x509.SubjectKeyIdentifier.from_public_key(
                candidate.public_key()).digest == response.responder_key_hash
        return _name_key(candidate.subject) == _name_key(response.responder_name)

    if names(issuer):
        return issuer
    for candidate in response.certificates:
        if not names(candidate):
            continue
        if _name_key(candidate.issuer) != _name_key(issuer.subject):
            continue
        try:
            _verify_signed(issuer.public_key(), candidate.signature,
                           candidate.tbs_certificate_bytes, candidate.signature_hash_algorithm)
            usage = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (InvalidSignature, x509.ExtensionNotFound, UnsupportedAlgorithm, TypeError):
            continue
        if x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            continue
        if not candidate.not_valid_before_utc <= at <= candidate.not_valid_after_utc:
            continue
        return candidate
    raise OcspInvalid("the response is signed by neither the CA nor a responder it delegated")


def check_ocsp_response(data: bytes, cert: x509.Certificate, issuer: x509.Certificate,
                        at: dt.datetime) -> OcspAnswer:
    """Parse and verify an OCSP response about ``cert`` (RFC 6960 §3.2): successful, signed
    by the CA or its delegated responder, naming this certificate, current at ``at``.
    Raises :class:`OcspInvalid`."""
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError as exc:
        raise OcspInvalid(f"not an OCSP response: {exc}") from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspInvalid(f"responder status {response.response_status.name}")
    signer = _responder_of(response, issuer, at)
    try:
        _verify_signed(signer.public_key(), response.signature, response.tbs_response_bytes,
                       response.signature_hash_algorithm)
    except (InvalidSignature, UnsupportedAlgorithm, TypeError):
        raise OcspInvalid("bad signature on the OCSP response") from None
    issuer_name_der = issuer.subject.public_bytes()
    issuer_key_hash = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
    for single in response.responses:
        if single.serial_number != cert.serial_number:
            continue
        algorithm = single.hash_algorithm
        if isinstance(algorithm, hashes.SHA1):
            key_hash = issuer_key_hash
        else:
            # The key hash is over the subjectPublicKey BIT STRING's value, as SHA-1 above.
            digest = hashes.Hash(algorithm)
            digest.update(_subject_public_key_bits(issuer))
            key_hash = digest.finalize()
        name_digest = hashes.Hash(algorithm)
        name_digest.update(issuer_name_der)
        if single.issuer_key_hash != key_hash or single.issuer_name_hash != \
                name_digest.finalize():
            continue
        this_update = single.this_update_utc
        next_update = single.next_update_utc
        if this_update > at + _SKEW:
            raise OcspInvalid("the OCSP answer is from the future")
        if next_update is not None and next_update < at:
            raise OcspInvalid("the OCSP answer is out of date")
        if next_update is None and at - this_update > _SKEW:
            raise OcspInvalid("an OCSP answer without nextUpdate that is not fresh")
        status = {ocsp.OCSPCertStatus.GOOD: "good", ocsp.OCSPCertStatus.REVOKED: "revoked"}.get(
            single.certificate_status, "unknown")
        return OcspAnswer(status=status, this_update=this_update, next_update=next_update)
    raise OcspInvalid("the OCSP response does not answer for this certificate")


def _subject_public_key_bits(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    _tag, contents, _ = _der_read(spki, 0)
    _tag, _algorithm, position = _der_read(contents, 0)
    _tag, bits, _ = _der_read(contents, position)
    return bits[1:]  # the BIT STRING's unused-bits octet


def _ocsp_status(cert: x509.Certificate, issuer: x509.Certificate, urls: list[str],
                 sources: RevocationSources, at: dt.datetime) -> str | None:
    """'good' or 'revoked' from a cached or fresh OCSP answer; None when OCSP does not tell
    (no answer, 'unknown', a response we cannot trust)."""
    key = ocsp_cache_key(cert, issuer)
    cached = sources.ocsp_cached(key, at)
    if cached is not None:
        try:
            if check_ocsp_response(cached, cert, issuer, at).status == "good":
                return "good"
        except OcspInvalid:
            pass
    request = ocsp_request(cert, issuer)
    for url in urls[:2]:
        try:
            data = sources.ocsp_fetch(url, request)
            answer = check_ocsp_response(data, cert, issuer, at)
        except (OSError, ValueError) as exc:  # OcspInvalid is a ValueError
            logger.warning("OCSP responder %s gave no usable answer for serial %x of %s: %s",
                           url, cert.serial_number, issuer.subject.rfc4514_string(), exc)
            continue
        if answer.status == "good" and answer.next_update is not None:
            sources.ocsp_store(key, data, this_update=answer.this_update,
                               next_update=answer.next_update)
        if answer.status in ("good", "revoked"):
            return answer.status
        logger.warning("OCSP responder %s does not know serial %x of %s", url,
                       cert.serial_number, issuer.subject.rfc4514_string())
        return None
    return None


def crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` signed ``crl``."""
    if _name_key(crl.issuer) != _name_key(issuer.subject):
        return False
    try:
        return crl.is_signature_valid(issuer.public_key())
    except (TypeError, UnsupportedAlgorithm):
        return False


def crl_scope_urls(crl: x509.CertificateRevocationList) -> list[str] | None:
    """The URIs of a partitioned CRL's issuingDistributionPoint; None for a full CRL."""
    try:
        point = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None
    return [n.value for n in point.full_name or ()
            if isinstance(n, x509.UniformResourceIdentifier)]


def crl_covers(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> bool:
    """Whether ``crl`` (of ``cert``'s issuer) speaks for ``cert``: a complete CRL for all
    reasons, or the partition of ``cert``'s distribution point (RFC 5280 §6.3.3 b)."""
    try:
        crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
        return False  # a delta CRL alone is never complete
    except x509.ExtensionNotFound:
        pass
    try:
        point = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return True
    if point.indirect_crl or point.only_some_reasons or point.only_contains_attribute_certs:
        return False
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if point.only_contains_user_certs and is_ca:
        return False
    if point.only_contains_ca_certs and not is_ca:
        return False
    if point.full_name:
        scope = {n.value for n in point.full_name if isinstance(n, x509.UniformResourceIdentifier)}
        return bool(scope & set(crl_urls(cert)))
    return point.relative_name is None


def _crl_current(crl: x509.CertificateRevocationList, at: dt.datetime) -> bool:
    next_update = crl.next_update_utc
    return (crl.last_update_utc <= at + _SKEW and next_update is not None
            and at <= next_update)


def check_revocation(chain: Sequence[x509.Certificate], *, trust: TrustStore,
                     sources: RevocationSources | None, at: dt.datetime) -> None:
    """Refuse the chain (leaf first, root last) unless every certificate but the root is
    known not to be revoked: by a good OCSP answer (cached or fresh) or by a current CRL of
    its issuer that covers it (its partition). A revoked leaf is ``revoked``, a revoked CA
    ``untrusted``; a CA whose CRL is configured but out of date or badly signed gives
    ``crl_missing``; nothing at all, ``revocation_unknown`` (fail closed)."""
    pairs = [(chain[i], chain[i + 1]) for i in range(len(chain) - 1)]
    stored: list[x509.CertificateRevocationList] = []
    if sources is not None and pairs:
        seen: dict[str, list[str]] = {}
        for cert, issuer in pairs:
            urls = crl_urls(cert)
            if urls:
                seen.setdefault(issuer_key(issuer.subject), []).extend(urls)
        stored = sources.stored_crls(
            sorted({issuer_key(issuer.subject) for _cert, issuer in pairs}), seen=seen)
    problems = []
    for depth, (cert, issuer) in enumerate(pairs):
        status = _status_of(cert, issuer, trust=trust, sources=sources, stored=stored, at=at)
        if status == "revoked":
            if depth == 0:
                raise CertificateError("revoked")
            raise CertificateError("untrusted", MESSAGES["ca_untrusted"])
        if status != "good":
            problems.append((status, cert, issuer))
    if problems:
        status, cert, issuer = problems[0]
        logger.error(
            "Certificate refused (%s): revocation of serial %x issued by %s is not covered by "
            "a good OCSP answer nor a current CRL. Run refresh_crls and check the CA's CRL "
            "distribution points and OCSP responder.",
            "crl_missing" if status == "stale" else "revocation_unknown",
            cert.serial_number, issuer.subject.rfc4514_string())
        raise CertificateError("crl_missing" if status == "stale" else "revocation_unknown")


def _status_of(cert, issuer, *, trust, sources, stored, at) -> str:
    candidates = list(trust.crls_of(issuer.subject))
    name = _name_key(issuer.subject)
    stale = trust.has_crl_file(issuer.subject)
    for crl in stored:
        if _name_key(crl.issuer) == name:
            if crl_signed_by(crl, issuer):
                candidates.append(crl)
            elif crl_covers(crl, cert):
                stale = True
    covered = False
    for crl in candidates:
        if not crl_covers(crl, cert):
            continue
        if not _crl_current(crl, at):
            stale = True
            continue
        if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            return "revoked"
        covered = True
    if sources is not None and sources.ocsp_enabled:
        urls = ocsp_urls(cert)
        if urls:
            answer = _ocsp_status(cert, issuer, urls, sources, at)
            if answer is not None:
                return answer
    if covered:
        return "good"
    return "stale" if stale else "unknown"


def check_fetched_crl(data: bytes, *, url: str, trust: TrustStore,
                      expected_issuer: str = "") -> x509.CertificateRevocationList:
    """A CRL just fetched from distribution point ``url``, checked before it is stored:
    one CRL (DER or PEM), signed by a CA of the trust store (of ``expected_issuer``, an
    :func:`issuer_key`, when the point came from that CA's certificate), not a delta CRL,
    with a nextUpdate, and when partitioned (issuingDistributionPoint) the partition of
    ``url``. Raises ValueError saying what is wrong."""
    try:
        crls = _load_crls(data)
    except ValueError as exc:
        raise ValueError(f"not a CRL: {exc}") from None
    if len(crls) != 1:
        raise ValueError(f"{len(crls)} CRLs where one was expected")
    crl = crls[0]
    if expected_issuer and issuer_key(crl.issuer) != expected_issuer:
        raise ValueError(f"issued by {crl.issuer.rfc4514_string()}, not by the CA that "
                         "named this distribution point")
    issuers = trust._by_subject.get(_name_key(crl.issuer), [])
    if not issuers:
        raise ValueError(f"issued by {crl.issuer.rfc4514_string()}, not a trusted CA")
    if not any(crl_signed_by(crl, ca) for ca in issuers):
        raise ValueError(f"bad signature (issuer {crl.issuer.rfc4514_string()})")
    try:
        crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
        raise ValueError("a delta CRL")
    except x509.ExtensionNotFound:
        pass
    if crl.next_update_utc is None:
        raise ValueError("no nextUpdate")
    if crl.next_update_utc <= crl.last_update_utc:
        raise ValueError("nextUpdate is not after thisUpdate")
    scope = crl_scope_urls(crl)
    if scope and url not in scope:
        raise ValueError(f"the partition of {', '.join(scope)}, not of this point")
    return crl


def crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None
