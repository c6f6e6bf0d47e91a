"""Build a small test/demo PKI with ``cryptography``: CAs, user certificates, CRLs, PKCS#12.

Used by the demo data command, the tests and the benchmarks. Pure: no database, no settings.
The certificates mimic Korean personal certificates (C=KR, a ``이름()serial`` CN, a critical
key usage of digitalSignature + nonRepudiation and a certificate policy OID that tells
personal from corporate certificates).

RSA key generation is the slow part (~50-100 ms for 2048 bits); :func:`cached_key` hands out
keys that are generated once per process, so tests can reuse them.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

__all__ = [
    "DEMO_CORPORATE_POLICY_OID",
    "DEMO_PERSONAL_POLICY_OID",
    "Authority",
    "Issued",
    "cached_key",
    "identify_data",
    "make_ca",
    "make_crl",
    "make_ocsp_responder",
    "make_key",
    "make_user_certificate",
    "pem",
    "sign_challenge",
    "to_p12",
]

DEMO_PERSONAL_POLICY_OID = "1.2.410.999999.1.1"
DEMO_CORPORATE_POLICY_OID = "1.2.410.999999.1.2"
DEMO_LIMITED_POLICY_OID = "1.2.410.999999.1.3"
DEMO_GOVERNMENT_POLICY_OID = "1.2.410.999999.1.4"
#: KISA identifyData in subjectAltName (otherName).
IDENTIFY_DATA_OID = "1.2.410.200004.10.1.1"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Authority:
    """A certification authority: its certificate and its private key."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class Issued:
    """A user (end-entity) certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def make_key(key_type: str = "rsa", key_size: int = 2048) -> PrivateKey:
    """A fresh private key: RSA (``key_size`` bits) or EC P-256 (``key_type='ec'``)."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key type {key_type!r} (expected 'rsa' or 'ec')")


@functools.cache
def cached_key(slot: str, key_type: str = "rsa", key_size: int = 2048) -> PrivateKey:
    """A key generated once per process for ``slot``: the same slot gives the same key.

    For tests and benchmarks only (keys are never written anywhere and live in memory).
    """
    return make_key(key_type, key_size)


def _name(common_name: str, *, organization: str, unit: str | None = None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "KR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
    ]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def make_ca(
    common_name: str,
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_size: int = 2048,
    key: rsa.RSAPrivateKey | None = None,
    issuer: Authority | None = None,
    organization: str = "KDCIS Demo PKI",
    ocsp_url: str | None = None,
    crl_urls: list[str] | tuple[str, ...] = (),
) -> Authority:
    """A CA certificate: self-signed (root) or, with ``issuer``, an intermediate CA.

    Valid from 30 days ago for 10 years unless ``not_before``/``not_after`` say otherwise.
    ``ocsp_url`` and ``crl_urls`` (an intermediate's: where its issuer answers for it) go to
    the AIA and CRL distribution points extensions.
    """
    now = _now()
    not_before = not_before or now - dt.timedelta(days=30)
    not_after = not_after or now + dt.timedelta(days=3650)
    key = key or make_key("rsa", key_size)
    subject = _name(common_name, organization=organization)
    signer_name = issuer.cert.subject if issuer else subject
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0),
                       critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    builder = _add_revocation_pointers(builder, ocsp_url, crl_urls)
    return Authority(cert=builder.sign(signer_key, hashes.SHA256()), key=key)


def make_user_certificate(
    ca: Authority,
    *,
    common_name: str,
    policy_oid: str | None = DEMO_PERSONAL_POLICY_OID,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_usage_digital_signature: bool | None = True,
    serial: int | None = None,
    key: PrivateKey | None = None,
    key_type: str = "rsa",
    unit: str = "personal4IB",
    ocsp_url: str | None = None,
    crl_urls: list[str] | tuple[str, ...] = (),
    real_name: str | None = None,
    extended_key_usage: list[x509.ObjectIdentifier] | None = None,
) -> Issued:
    """A user certificate issued by ``ca``, valid from yesterday for one year by default.

    ``policy_oid=None`` leaves out the certificate policies extension.
    ``key_usage_digital_signature``: True gives digitalSignature + nonRepudiation (as Korean
    personal certificates have), False nonRepudiation only, None no key usage extension.
    ``key_type='ec'`` makes an EC P-256 key (browsers' forge cannot sign with it).
    ``ocsp_url``: the responder in Authority Information Access; ``crl_urls``: the CRL
    distribution points (http:// or ldap://, one partition each as Korean CAs do);
    ``real_name``: a subjectAltName with KISA identifyData carrying it (:func:`identify_data`).
    """
    now = _now()
    not_before = not_before or now - dt.timedelta(days=1)
    not_after = not_after or now + dt.timedelta(days=365)
    key = key or make_key(key_type)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization=_organization_of(ca), unit=unit))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                       critical=False)
    )
    if key_usage_digital_signature is not None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=key_usage_digital_signature, content_commitment=True,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    if policy_oid is not None:
        builder = builder.add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(policy_oid), None)]
            ),
            critical=True,
        )
    if real_name is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.OtherName(
            x509.ObjectIdentifier(IDENTIFY_DATA_OID), identify_data(real_name))]),
            critical=False)
    if extended_key_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_key_usage),
                                        critical=False)
    builder = _add_revocation_pointers(builder, ocsp_url, crl_urls)
    return Issued(cert=builder.sign(ca.key, hashes.SHA256()), key=key)


def _add_revocation_pointers(builder, ocsp_url: str | None, crl_urls) -> Any:
    if ocsp_url:
        builder = builder.add_extension(x509.AuthorityInformationAccess([
            x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
    if crl_urls:
        builder = builder.add_extension(x509.CRLDistributionPoints([
            x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(url)],
                                   relative_name=None, reasons=None, crl_issuer=None)
            for url in crl_urls]), critical=False)
    return builder


def _der(tag: int, contents: bytes) -> bytes:
    length = len(contents)
    if length < 0x80:
        return bytes([tag, length]) + contents
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + contents


def identify_data(real_name: str, *, virtual_id: bytes | None = None) -> bytes:
    """KISA IdentifyData as the otherName value: ``SEQUENCE { realName UTF8String,
    userInfo SEQUENCE OF VID }``, VID = ``SEQUENCE { hashAlg [0] EXPLICIT
    AlgorithmIdentifier (SHA-256), virtualID [1] EXPLICIT OCTET STRING }``. The virtual ID
    here is random (a CA computes it from the resident number and the key's randomNum)."""
    import os

    virtual_id = virtual_id if virtual_id is not None else os.urandom(32)
    sha256 = _der(0x30, bytes.fromhex("0609608648016503040201") + b"\x05\x00")
    vid = _der(0x30, _der(0xA0, sha256) + _der(0xA1, _der(0x04, virtual_id)))
    return _der(0x30, _der(0x0C, real_name.encode("utf-8")) + _der(0x30, vid))


def make_ocsp_responder(ca: Authority, *, common_name: str | None = None,
                        key: PrivateKey | None = None) -> Issued:
    """A delegated OCSP responder certificate of ``ca`` (extendedKeyUsage OCSPSigning and
    id-pkix-ocsp-nocheck, as RFC 6960 §4.2.2.2 describes)."""
    now = _now()
    key = key or make_key("rsa")
    name = common_name or f"{_common_name_of(ca)} OCSP Responder"
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name, organization=_organization_of(ca)))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING]),
                       critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                       critical=False)
    )
    return Issued(cert=builder.sign(ca.key, hashes.SHA256()), key=key)


def _common_name_of(ca: Authority) -> str:
    values = ca.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else "CA"


def _organization_of(ca: Authority) -> str:
    values = ca.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else "KDCIS Demo PKI"


def make_crl(
    ca: Authority,
    revoked_serials: list[int] | tuple[int, ...] | set[int],
    *,
    last_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
    crl_number: int = 1,
    distribution_point: str | None = None,
) -> x509.CertificateRevocationList:
    """A CRL signed by ``ca`` revoking ``revoked_serials`` (revoked an hour before
    ``last_update``). Issued an hour ago and valid for 7 days by default.

    ``distribution_point``: a partitioned CRL, with a critical issuingDistributionPoint
    naming that URL (the partition of the certificates whose CRL distribution point it is).
    """
    last_update = last_update or _now() - dt.timedelta(hours=1)
    next_update = next_update or last_update + dt.timedelta(days=7)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(last_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                       critical=False)
    )
    if distribution_point is not None:
        builder = builder.add_extension(x509.IssuingDistributionPoint(
            full_name=[x509.UniformResourceIdentifier(distribution_point)], relative_name=None,
            only_contains_user_certs=False, only_contains_ca_certs=False,
            only_some_reasons=None, indirect_crl=False,
            only_contains_attribute_certs=False), critical=True)
    revoked_at = last_update - dt.timedelta(hours=1)
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(revoked_at)
            .build()
        )
    return builder.sign(ca.key, hashes.SHA256())


def to_p12(issued: Issued, password: str, *, ca: Authority | None = None,
           legacy: bool = False) -> bytes:
    """The certificate and key as a PKCS#12 (.p12/.pfx) file protected by ``password``.

    Modern (default): AES-256-CBC + PBKDF2 with an HMAC-SHA256 MAC, as OpenSSL 3 writes.
    ``legacy=True``: PBES1 SHA1 + 3DES with an HMAC-SHA1 MAC, as older tools write.
    ``ca`` adds the CA certificate to the file (as most exported files have).
    """
    password_bytes = password.encode("utf-8")
    if legacy:
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(2048)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())
            .build(password_bytes)
        )
    else:
        encryption = serialization.BestAvailableEncryption(password_bytes)
    common_names = issued.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    friendly_name = str(common_names[0].value).encode("utf-8") if common_names else None
    return pkcs12.serialize_key_and_certificates(
        name=friendly_name,
        key=issued.key,
        cert=issued.cert,
        cas=[ca.cert] if ca is not None else None,
        encryption_algorithm=encryption,
    )


def pem(obj: Any) -> bytes:
    """PEM text of a certificate, CRL, private key (unencrypted PKCS#8), public key,
    :class:`Authority`/:class:`Issued` (their certificate) or a list of those (concatenated)."""
    if isinstance(obj, list | tuple):
        return b"".join(pem(item) for item in obj)
    if isinstance(obj, Authority | Issued):
        obj = obj.cert
    if isinstance(obj, x509.Certificate | x509.CertificateRevocationList):
        return obj.public_bytes(serialization.Encoding.PEM)
    if isinstance(obj, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return obj.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    if isinstance(obj, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return obj.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    raise TypeError(f"cannot write {type(obj).__name__} as PEM")


def sign_challenge(key: rsa.RSAPrivateKey, challenge: bytes) -> bytes:
    """What the browser does: RSASSA-PKCS1-v1_5 with SHA-256 over ``challenge``."""
    return key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
