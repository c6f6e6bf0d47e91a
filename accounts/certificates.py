"""Verify a personal certificate and its signature over a one-time server challenge.

The browser (static/js/certificate.js) opens the user's .p12/.pfx with node-forge, signs the
challenge with RSASSA-PKCS1-v1_5 / SHA-256 and posts only the certificate (DER) and the
signature. :func:`verify_signed_challenge` checks, in this order, and raises
:class:`CertificateError` with a short ``code`` at the first failure:

1. the certificate parses (``malformed``) and holds an RSA key of at least 2048 bits
   (``not_rsa``, ``weak_key``);
2. the signature is over exactly the challenge (``bad_signature``);
3. the leaf's validity dates (``expired``, ``not_yet_valid``), then the chain to a trust
   anchor with pyOpenSSL (``untrusted``) and revocation of every certificate of the chain
   against the configured CRLs (``revoked``, ``crl_missing`` for a configured CRL that is
   unusable, ``revocation_unknown`` when a CA of the chain has no CRL at all);
4. key usage allows digitalSignature (``key_usage``);
5. the first certificate policy OID tells personal from corporate (``unknown_policy``,
   ``corporate_not_allowed``).

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from OpenSSL import crypto

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_POLICY_OIDS",
    "CertificateError",
    "CertificateIdentity",
    "TrustStore",
    "TrustStoreNotConfigured",
    "VerifiedCertificate",
    "certificate_identity",
    "decode_base64",
    "issuer_key",
    "name_from_cn",
    "verify_signed_challenge",
]

PERSONAL = "personal"
CORPORATE = "corporate"
MIN_RSA_BITS = 2048
# A posted certificate larger than this is not a personal certificate (those are ~1.5 KB).
MAX_CERTIFICATE_BYTES = 64 * 1024

# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

MESSAGES = {
    "malformed": _("인증서 형식이 올바르지 않습니다. 인증서 파일(.p12 또는 .pfx)을 다시 "
                   "선택해 주세요."),
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
    "revocation_unknown": _("인증서를 발급한 인증기관의 폐지 목록(CRL)이 없어 인증서의 폐지 "
                            "여부를 확인할 수 없습니다. 시스템 관리자에게 문의해 주세요."),
    "key_usage": _("전자서명 용도로 사용할 수 없는 인증서입니다. 전자서명용 개인 인증서로 다시 "
                   "시도해 주세요."),
    "unknown_policy": _("이 시스템에서 사용할 수 없는 종류의 인증서입니다. 개인용 공동인증서로 "
                        "다시 시도해 주세요."),
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

    def __post_init__(self) -> None:
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


_NAME_END = re.compile(r"[(\-_]")


def name_from_cn(cn: str) -> str:
    """The name in a Korean personal-certificate CN: the text before the first '(', '-' or '_'.

    ``홍길동()0010041200805281234567`` → ``홍길동``; ``김재훈-5101640`` → ``김재훈``.
    """
    return _NAME_END.split(cn, maxsplit=1)[0].strip()


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

# The first certificate policy OID of a Korean certificate tells personal from corporate.
# An entry ending in ".*" matches every OID under that arc.
DEFAULT_POLICY_OIDS: dict[str, str] = {
    # yessign (KFTC)
    "1.2.410.200005.1.1.1": PERSONAL,
    "1.2.410.200005.1.1.4": PERSONAL,
    "1.2.410.200005.1.1.5": CORPORATE,
    "1.2.410.200005.1.1.2": CORPORATE,
    "1.2.410.200005.1.1.6.1": CORPORATE,
    # KICA (signGATE)
    "1.2.410.200004.5.2.1.2": PERSONAL,
    "1.2.410.200004.5.2.1.7.*": PERSONAL,
    "1.2.410.200004.5.2.1.1": CORPORATE,
    "1.2.410.200004.5.2.1.5": CORPORATE,
    # SignKorea (Koscom)
    "1.2.410.200004.5.1.1.5": PERSONAL,
    "1.2.410.200004.5.1.1.9": PERSONAL,
    "1.2.410.200004.5.1.1.7": CORPORATE,
    # CrossCert
    "1.2.410.200004.5.4.1.1": PERSONAL,
    "1.2.410.200004.5.4.1.101": PERSONAL,
    "1.2.410.200004.5.4.1.102": PERSONAL,
    "1.2.410.200004.5.4.1.2": CORPORATE,
    # TradeSign
    "1.2.410.200012.1.1.1": PERSONAL,
    "1.2.410.200012.1.1.3": CORPORATE,
    "1.2.410.200012.1.1.101": CORPORATE,
    # Our demo/test CA (accounts/pki.py)
    "1.2.410.999999.1.1": PERSONAL,
    "1.2.410.999999.1.2": CORPORATE,
}


def _merge_policies(extra: Mapping[str, str | None] | None) -> dict[str, str]:
    """The default table with ``extra`` merged over it (a value of None removes an entry)."""
    table = dict(DEFAULT_POLICY_OIDS)
    for oid, kind in (extra or {}).items():
        oid = str(oid).strip()
        if kind is None:
            table.pop(oid, None)
            continue
        kind = str(kind).strip().lower()
        if kind not in (PERSONAL, CORPORATE):
            raise ImproperlyConfigured(
                f"CERT_POLICY_OIDS[{oid!r}] must be 'personal' or 'corporate', not {kind!r}"
            )
        table[oid] = kind
    return table


# ---------------------------------------------------------------------------------------------
# Trust store
# ---------------------------------------------------------------------------------------------

_F = crypto.X509StoreFlags
_CRL_CHAIN = _F.CRL_CHECK | _F.CRL_CHECK_ALL
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
    """Trusted CA certificates, their CRLs, the policy table and ``allow_corporate``.

    Immutable once built; the pyOpenSSL ``X509Store`` objects are built lazily, once per
    CRL flag combination (and per explicit verification time), and shared between threads
    (OpenSSL only reads a store while verifying).

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
    ) -> None:
        self.anchors: tuple[x509.Certificate, ...] = tuple(anchors)
        if not self.anchors:
            raise TrustStoreNotConfigured("The certificate trust anchor bundle holds no "
                                          "certificate.")
        self.policy_oids = _merge_policies(policy_oids)
        self._policy_prefixes = tuple(
            (oid[:-1], kind) for oid, kind in self.policy_oids.items() if oid.endswith(".*")
        )
        self.allow_corporate = bool(allow_corporate)
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
            else:
                logger.error("The CRL of %s has a bad signature; its certificates will be "
                             "refused until a good CRL is installed.",
                             crl.issuer.rfc4514_string())

        self._lock = threading.Lock()
        self._live_stores: dict[int, crypto.X509Store] = {}
        self._timed_stores: OrderedDict[tuple[int, int], crypto.X509Store] = OrderedDict()
        self._flags_by_issuer: dict[str, int] = {}

    # -- constructors ----------------------------------------------------------------------

    @classmethod
    def from_pem_bundle(
        cls,
        anchor_pem: bytes,
        crls: Iterable[bytes] = (),
        policy_oids: Mapping[str, str | None] | None = None,
        allow_corporate: bool = False,
    ) -> TrustStore:
        """From a PEM bundle of CA certificates and CRLs given as bytes (each PEM or DER)."""
        anchors = _load_anchor_bundle(anchor_pem)
        loaded: list[x509.CertificateRevocationList] = []
        for data in crls:
            loaded.extend(_load_crls(data))
        return cls(anchors, loaded, policy_oids=policy_oids, allow_corporate=allow_corporate)

    _settings_cache: tuple[tuple, TrustStore] | None = None
    _settings_lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> TrustStore:
        """From ``CERT_TRUST_ANCHORS`` (PEM bundle path), ``CERT_CRL_PATHS`` (PEM or DER
        files), ``CERT_POLICY_OIDS`` and ``CERT_ALLOW_CORPORATE``.

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

    def kind_of(self, policy_oid: str) -> str | None:
        """'personal', 'corporate' or None for an OID the table does not know."""
        kind = self.policy_oids.get(policy_oid)
        if kind is not None:
            return kind
        for prefix, prefix_kind in self._policy_prefixes:
            if policy_oid.startswith(prefix):
                return prefix_kind
        return None

    def crl_flags_for(self, issuer: x509.Name) -> int | None:
        """The CRL flags for leaves issued by ``issuer``, or None when revocation cannot be
        checked.

        Revocation is checked for the whole chain (``CRL_CHECK | CRL_CHECK_ALL``), so every
        CA from the leaf's issuer up to the self-signed root needs a CRL. When one of them
        has none configured the answer is None and the certificate is refused
        (``revocation_unknown``): a CA added to the bundle before its CRL download is set up
        must not let revoked certificates in. ``check --deploy`` names such CAs
        (kdcis.E006). An issuer that is not in the bundle gets 0: its chain fails as
        ``untrusted`` anyway.
        """
        key = _name_key(issuer)
        if key not in self._by_subject:  # never grow the cache with names posted by users
            return 0
        if key not in self._flags_by_issuer:
            flags = self._compute_crl_flags(key)
            if flags is None:
                logger.warning("No CRL configured for a CA of the chain of %s: its "
                               "certificates are refused.", issuer.rfc4514_string())
            self._flags_by_issuer[key] = flags
        return self._flags_by_issuer[key]

    def _compute_crl_flags(self, issuer_key: str) -> int | None:
        # Walk up every path (a CA may exist in several certificates, e.g. after a re-key).
        pending = [issuer_key]
        seen: set[str] = set()
        while pending:
            key = pending.pop()
            if key in seen:
                continue
            seen.add(key)
            if key not in self._covered:
                return None
            for ca in self._by_subject.get(key, ()):
                if not _is_self_issued(ca):
                    pending.append(_name_key(ca.issuer))
        return _CRL_CHAIN

    def anchors_without_crl(self) -> list[str]:
        """The names of the trusted CAs no configured CRL covers (for the deploy check)."""
        names = {}
        for cert in self.anchors:
            key = _name_key(cert.subject)
            if key not in self._covered:
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
        for flags in {0, _CRL_CHAIN}:
            self._store(flags, None)


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
) -> VerifiedCertificate:
    """Check that ``signature`` is the holder of ``certificate`` signing ``challenge`` and
    that the certificate is a currently valid, trusted, unrevoked personal certificate.

    ``certificate`` is DER (PEM accepted); ``signature`` is the raw RSASSA-PKCS1-v1_5 /
    SHA-256 signature. ``at`` (default: now) is the time for the validity checks; leave it
    None in production (a cached store then uses OpenSSL's clock). Raises
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

    # 4. Validity dates of the leaf (precise messages), then chain and revocation.
    now = _utc(at)
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now > not_after:
        raise CertificateError("expired")
    if now < not_before:
        raise CertificateError("not_yet_valid")
    flags = trust.crl_flags_for(cert.issuer)
    store = trust._store(flags or 0, None if at is None else now)
    try:
        leaf = crypto.load_certificate(crypto.FILETYPE_ASN1, der)
        crypto.X509StoreContext(store, leaf).verify_certificate()
    except crypto.X509StoreContextError as exc:
        raise _chain_error(exc) from None
    except crypto.Error:
        raise CertificateError("malformed") from None
    if flags is None:
        # The chain is good but a CA of it has no CRL: whether the certificate is revoked
        # cannot be known, so it is refused (fail closed).
        raise CertificateError("revocation_unknown")

    # 5. Key usage: digitalSignature when the extension is present.
    try:
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usage = None
    if key_usage is not None and not key_usage.digital_signature:
        raise CertificateError("key_usage")

    # 6. Policy: personal or corporate.
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        policies = None
    if not policies:
        raise CertificateError("unknown_policy")
    policy_oid = policies[0].policy_identifier.dotted_string
    kind = trust.kind_of(policy_oid)
    if kind is None:
        raise CertificateError("unknown_policy")
    if kind == CORPORATE and not trust.allow_corporate:
        raise CertificateError("corporate_not_allowed")

    subject_cn = _first_value(cert.subject, NameOID.COMMON_NAME)
    if not subject_cn:
        raise CertificateError("malformed")
    issuer = _issuer_display(cert)
    return VerifiedCertificate(
        fingerprint=hashlib.sha256(der).hexdigest(),
        subject_cn=subject_cn,
        name=name_from_cn(subject_cn),
        issuer=issuer,
        serial=format(cert.serial_number, "x"),
        not_before=not_before,
        not_after=not_after,
        kind=kind,
        policy_oid=policy_oid,
        der=der,
        issuer_dn=issuer_key(cert.issuer),
    )
