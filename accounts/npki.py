"""Write certificates the way Korean users hold them: NPKI folders and SEED-keyed PKCS#12.

For the tests and the demo only (the portal itself never sees a private key). Pure: no
database, no settings. Certificates come from :mod:`accounts.pki`; this module encrypts
their keys with SEED through ``cryptography`` (OpenSSL), so the browser's own SEED
(static/js/seed.js) and OpenSSL's meet in every browser test.

- ``signPri.key`` is a PKCS#8 EncryptedPrivateKeyInfo in one of the two forms NPKI software
  writes: ``pbeWithSHA1AndSeed-CBC`` (KISA, :data:`PBE_SHA1_SEED_OID`: PBKDF1-SHA1 gives 20
  bytes, the SEED key is the first 16, the IV the first 16 bytes of SHA-1 of the last 4) or
  PBES2 with PBKDF2-HMAC-SHA1 and ``seedCBC`` (:data:`SEED_CBC_OID`, IV in the parameters).
  The PrivateKeyInfo inside carries KISA's ``randomNum`` attribute, as real ones do.
- The password is taken as its UTF-8 bytes, as NPKI software takes the typed password.
- A folder is ``NPKI/<CA>/USER/<subject DN>/signCert.der`` + ``signPri.key``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.hazmat.decrepit.ciphers.algorithms import SEED
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.x509.oid import NameOID

from accounts import pki

__all__ = [
    "PBE_SHA1_SEED_OID",
    "PBES2_OID",
    "RANDOM_NUM_OID",
    "SEED_CBC_OID",
    "encrypt_private_key",
    "seed_encrypt",
    "subject_folder_name",
    "to_seed_p12",
    "write_gpki_folder",
    "write_npki_folder",
]

PBE_SHA1_SEED_OID = "1.2.410.200004.1.15"
SEED_CBC_OID = "1.2.410.200004.1.4"
PBES2_OID = "1.2.840.113549.1.5.13"
PBKDF2_OID = "1.2.840.113549.1.5.12"
RANDOM_NUM_OID = "1.2.410.200004.10.1.1.3"

_DATA_OID = "1.2.840.113549.1.7.1"
_ENCRYPTED_DATA_OID = "1.2.840.113549.1.7.6"
_SHROUDED_KEY_BAG_OID = "1.2.840.113549.1.12.10.1.2"
_CERT_BAG_OID = "1.2.840.113549.1.12.10.1.3"
_X509_CERT_OID = "1.2.840.113549.1.9.22.1"
_FRIENDLY_NAME_OID = "1.2.840.113549.1.9.20"
_LOCAL_KEY_ID_OID = "1.2.840.113549.1.9.21"
_SHA1_OID = "1.3.14.3.2.26"

SCHEMES = ("pbes1", "pbes2")


# ------------------------------------------------------------------------------ DER, small


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _set(*items: bytes) -> bytes:
    return _tlv(0x31, b"".join(sorted(items)))


def _int(n: int) -> bytes:
    body = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big")
    return _tlv(0x02, body)


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _explicit(number: int, body: bytes) -> bytes:
    return _tlv(0xA0 | number, body)


def _unwrap(der: bytes) -> bytes:
    """The contents of one TLV (the PrivateKeyInfo's SEQUENCE)."""
    length = der[1]
    if length < 0x80:
        return der[2:2 + length]
    size = length & 0x7F
    n = int.from_bytes(der[2:2 + size], "big")
    return der[2 + size:2 + size + n]


# ------------------------------------------------------------------------- key encryption


def _seed_cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    pad = 16 - len(data) % 16
    encryptor = Cipher(SEED(key), modes.CBC(iv)).encryptor()
    return encryptor.update(data + bytes([pad]) * pad) + encryptor.finalize()


def pbkdf1_sha1(password: bytes, salt: bytes, iterations: int) -> bytes:
    """PBKDF1 with SHA-1 (RFC 8018 section 5.1): 20 bytes."""
    block = password + salt
    for _ in range(iterations):
        block = hashlib.sha1(block).digest()
    return block


def private_key_info(key: pki.PrivateKey, *, random_num: bytes | None) -> bytes:
    """The key's PKCS#8 PrivateKeyInfo, with KISA's randomNum attribute when given."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    if random_num is None:
        return der
    # attributes [0] IMPLICIT SET OF Attribute; randomNum's value is a BIT STRING.
    attribute = _seq(_oid(RANDOM_NUM_OID), _set(_tlv(0x03, b"\x00" + random_num)))
    return _seq(_unwrap(der), _tlv(0xA0, attribute))


def seed_encrypt(data: bytes, password: str, *, scheme: str = "pbes1", iterations: int = 2048,
                 salt: bytes | None = None) -> tuple[bytes, bytes]:
    """(AlgorithmIdentifier, ciphertext) of ``data`` under a SEED password scheme:
    ``pbes1`` (pbeWithSHA1AndSeed-CBC) or ``pbes2`` (PBKDF2-HMAC-SHA1 + seedCBC)."""
    secret = password.encode("utf-8")  # NPKI software takes the typed password's UTF-8 bytes
    salt = salt if salt is not None else os.urandom(8)
    if scheme == "pbes1":
        dk = pbkdf1_sha1(secret, salt, iterations)
        iv = hashlib.sha1(dk[16:20]).digest()[:16]
        algorithm = _seq(_oid(PBE_SHA1_SEED_OID), _seq(_octets(salt), _int(iterations)))
        return algorithm, _seed_cbc(dk[:16], iv, data)
    if scheme == "pbes2":
        iv = os.urandom(16)
        dk = hashlib.pbkdf2_hmac("sha1", secret, salt, iterations, 16)
        # The PRF is left out: hmacWithSHA1 is its DEFAULT, which DER does not encode.
        kdf = _seq(_oid(PBKDF2_OID), _seq(_octets(salt), _int(iterations)))
        algorithm = _seq(_oid(PBES2_OID), _seq(kdf, _seq(_oid(SEED_CBC_OID), _octets(iv))))
        return algorithm, _seed_cbc(dk, iv, data)
    raise ValueError(f"unknown scheme {scheme!r} (expected one of {SCHEMES})")


def encrypt_private_key(key: pki.PrivateKey, password: str, *, scheme: str = "pbes1",
                        iterations: int = 2048, salt: bytes | None = None,
                        random_num: bytes | None = b"") -> bytes:
    """``signPri.key``: the key as an EncryptedPrivateKeyInfo under SEED (DER).

    ``scheme`` as in :func:`seed_encrypt`. ``random_num=b""`` adds a random 20-byte
    randomNum attribute; ``None`` leaves it out.
    """
    if random_num == b"":
        random_num = os.urandom(20)
    plain = private_key_info(key, random_num=random_num)
    algorithm, ciphertext = seed_encrypt(plain, password, scheme=scheme,
                                         iterations=iterations, salt=salt)
    return _seq(algorithm, _octets(ciphertext))


# ---------------------------------------------------------------------------- NPKI folders


def subject_folder_name(issued: pki.Issued) -> str:
    """The folder NPKI software names after the subject: ``cn=…,ou=…,o=…,c=kr``."""
    short = {NameOID.COMMON_NAME: "cn", NameOID.ORGANIZATIONAL_UNIT_NAME: "ou",
             NameOID.ORGANIZATION_NAME: "o", NameOID.COUNTRY_NAME: "c"}
    parts = [f"{short.get(a.oid, a.oid.dotted_string)}={a.value}"
             for a in reversed(list(issued.cert.subject))]
    return ",".join(parts).replace("/", "_").replace("\\", "_")


def write_npki_folder(root: Path, issued: pki.Issued, password: str, *, ca_folder: str,
                      scheme: str = "pbes1", iterations: int = 2048) -> Path:
    """Write ``root/NPKI/<ca_folder>/USER/<subject DN>/`` with signCert.der and
    signPri.key (and the key-management pair beside them, as real folders have); returns
    the certificate's folder. ``root`` is the folder that holds ``NPKI``."""
    folder = Path(root) / "NPKI" / ca_folder / "USER" / subject_folder_name(issued)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "signCert.der").write_bytes(issued.der)
    (folder / "signPri.key").write_bytes(
        encrypt_private_key(issued.key, password, scheme=scheme, iterations=iterations))
    # kmCert/kmPri: the key-management pair, never used for signing (the same certificate
    # stands in for it here; the dialog must ignore both files).
    (folder / "kmCert.der").write_bytes(issued.der)
    (folder / "kmPri.key").write_bytes(
        encrypt_private_key(issued.key, password + "-km", scheme=scheme, iterations=iterations))
    return folder


def write_gpki_folder(root: Path, issued: pki.Issued, password: str, *, stem: str,
                      scheme: str = "pbes1", folder: str = "class2") -> Path:
    """A public servant's GPKI pair as GPKI software keeps it on a PC:
    ``root/GPKI/Certificate/<folder>/<stem>_sig.cer`` + ``<stem>_sig.key`` (and the
    encryption pair ``_env.*`` beside it, never used for signing); returns the folder."""
    target = Path(root) / "GPKI" / "Certificate" / folder
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{stem}_sig.cer").write_bytes(issued.der)
    (target / f"{stem}_sig.key").write_bytes(
        encrypt_private_key(issued.key, password, scheme=scheme))
    (target / f"{stem}_env.cer").write_bytes(issued.der)
    (target / f"{stem}_env.key").write_bytes(
        encrypt_private_key(issued.key, password + "-env", scheme=scheme))
    return target


# ----------------------------------------------------------------------- SEED-keyed PKCS#12


def _bmp_password(password: str) -> bytes:
    return password.encode("utf-16-be") + b"\x00\x00"


def _pkcs12_kdf(password: bytes, salt: bytes, iterations: int, purpose: int,
                size: int) -> bytes:
    """RFC 7292 appendix B.2 with SHA-1 (u = 20, v = 64), for the MAC key (purpose 3)."""
    v = 64  # SHA-1 block size; its output (u) is 20 bytes

    def stretch(data: bytes) -> bytes:
        if not data:
            return b""
        n = v * ((len(data) + v - 1) // v)
        return (data * (n // len(data) + 1))[:n]

    d = bytes([purpose]) * v
    i = bytearray(stretch(salt) + stretch(password))
    out = b""
    while len(out) < size:
        a = d + bytes(i)
        for _ in range(iterations):
            a = hashlib.sha1(a).digest()
        out += a
        b = int.from_bytes(stretch(a), "big") + 1
        for j in range(0, len(i), v):
            chunk = (int.from_bytes(i[j:j + v], "big") + b) % (1 << (8 * v))
            i[j:j + v] = chunk.to_bytes(v, "big")
    return out[:size]


def to_seed_p12(issued: pki.Issued, password: str, *, ca: pki.Authority | None = None,
                scheme: str = "pbes2", iterations: int = 2048,
                encrypt_certificates: bool = False) -> bytes:
    """A .p12 whose key bag is SEED-encrypted (``scheme`` as in :func:`seed_encrypt`), as
    Korean certificate programs export; the certificates sit in a plain SafeContents, or with
    ``encrypt_certificates`` in an EncryptedData under the same scheme. The file has the
    usual HMAC-SHA1 MAC over the BMPString password."""
    local_key_id = hashlib.sha1(issued.der).digest()
    common_names = issued.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    friendly = str(common_names[0].value) if common_names else "certificate"
    attributes = _set(
        _seq(_oid(_FRIENDLY_NAME_OID), _set(_tlv(0x1E, friendly.encode("utf-16-be")))),
        _seq(_oid(_LOCAL_KEY_ID_OID), _set(_octets(local_key_id))),
    )
    key_bag = _seq(_oid(_SHROUDED_KEY_BAG_OID),
                   _explicit(0, encrypt_private_key(issued.key, password, scheme=scheme,
                                                    iterations=iterations)),
                   attributes)
    cert_bags = [_seq(_oid(_CERT_BAG_OID),
                      _explicit(0, _seq(_oid(_X509_CERT_OID), _explicit(0, _octets(issued.der)))),
                      attributes)]
    if ca is not None:
        cert_bags.append(_seq(_oid(_CERT_BAG_OID),
                              _explicit(0, _seq(_oid(_X509_CERT_OID),
                                                _explicit(0, _octets(ca.der))))))

    def data(content: bytes) -> bytes:
        return _seq(_oid(_DATA_OID), _explicit(0, _octets(content)))

    certificates = data(_seq(*cert_bags))
    if encrypt_certificates:
        algorithm, ciphertext = seed_encrypt(_seq(*cert_bags), password, scheme=scheme,
                                             iterations=iterations)
        # EncryptedData { version 0, EncryptedContentInfo { data, algorithm,
        # [0] IMPLICIT encryptedContent } }
        certificates = _seq(_oid(_ENCRYPTED_DATA_OID), _explicit(0, _seq(
            _int(0), _seq(_oid(_DATA_OID), algorithm, _tlv(0x80, ciphertext)))))
    authenticated_safe = _seq(certificates, data(_seq(key_bag)))
    salt = os.urandom(8)
    mac_key = _pkcs12_kdf(_bmp_password(password), salt, iterations, 3, 20)
    digest = hmac.new(mac_key, authenticated_safe, hashlib.sha1).digest()
    mac_data = _seq(_seq(_seq(_oid(_SHA1_OID), b"\x05\x00"), _octets(digest)),
                    _octets(salt), _int(iterations))
    return _seq(_int(3), data(authenticated_safe), mac_data)
