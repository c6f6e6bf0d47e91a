"""The NPKI fixtures (accounts/npki.py) and both SEED implementations against RFC 4269.

Python's SEED (OpenSSL, through ``cryptography``) writes the keys the browser tests open;
static/js/seed.js is ours. Both are held to the RFC 4269 appendix B vectors here, and the
JavaScript one also to ciphertext OpenSSL wrote (``node --test`` run from this file).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import SEED
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.serialization import load_der_private_key

from accounts import npki, pki

ROOT = Path(__file__).resolve().parents[2]

# RFC 4269 appendix B: (key, plaintext, ciphertext).
RFC_4269_VECTORS = [
    ("00000000000000000000000000000000", "000102030405060708090a0b0c0d0e0f",
     "5ebac6e0054e166819aff1cc6d346cdb"),
    ("000102030405060708090a0b0c0d0e0f", "00000000000000000000000000000000",
     "c11f22f20140505084483597e4370f43"),
    ("4706480851e61be85d74bfb3fd956185", "83a2f8a288641fb9a4e9a5cc2f131c7d",
     "ee54d13ebcae706d226bc3142cd40d4a"),
    ("28dbc3bc49ffd87dcfa509b11d422be7", "b41e6be2eba84a148e2eed84593c5ec7",
     "9b9b7bfcd1813cb95d0b3618f40f5122"),
]


def _seed_ecb(key: bytes, block: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(SEED(key), modes.ECB())
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(block) + op.finalize()


def _seed_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    op = Cipher(SEED(key), modes.CBC(iv)).decryptor()
    plain = op.update(data) + op.finalize()
    assert 1 <= plain[-1] <= 16 and plain.endswith(bytes([plain[-1]]) * plain[-1])
    return plain[: -plain[-1]]


def _tlv(data: bytes, at: int = 0) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER element at ``at``."""
    tag, length = data[at], data[at + 1]
    start = at + 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[start:start + size], "big")
        start += size
    return tag, start, start + length


def _children(data: bytes, at: int = 0) -> list[tuple[int, int, int, int]]:
    """(tag, offset, start, end) of each element inside the constructed element at ``at``."""
    _tag, start, end = _tlv(data, at)
    out = []
    while start < end:
        tag, s, e = _tlv(data, start)
        out.append((tag, start, s, e))
        start = e
    return out


# ------------------------------------------------------------------------------------ SEED


@pytest.mark.parametrize(("key", "plain", "cipher"), RFC_4269_VECTORS)
def test_pythons_seed_matches_the_rfc_4269_vectors(key, plain, cipher):
    assert _seed_ecb(bytes.fromhex(key), bytes.fromhex(plain)).hex() == cipher
    assert _seed_ecb(bytes.fromhex(key), bytes.fromhex(cipher), decrypt=True).hex() == plain


def test_our_javascript_seed_matches_the_rfc_vectors_and_decrypts_what_openssl_encrypted():
    node = shutil.which("node")
    assert node, "node is needed (make setup installs the npm packages with it)"
    key, iv = os.urandom(16), os.urandom(16)
    plaintext = os.urandom(77)
    pad = 16 - len(plaintext) % 16
    op = Cipher(SEED(key), modes.CBC(iv)).encryptor()
    ciphertext = op.update(plaintext + bytes([pad]) * pad) + op.finalize()
    case = {"key": key.hex(), "iv": iv.hex(), "plaintext": plaintext.hex(),
            "ciphertext": ciphertext.hex()}
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", str(ROOT / "tests" / "js")],
        env={**os.environ, "KDCIS_SEED_CBC_CASE": json.dumps(case)},
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
    assert "# skipped 0" in result.stdout, result.stdout
    assert "# pass 4" in result.stdout, result.stdout


# ------------------------------------------------------------------------------ signPri.key


@pytest.fixture(scope="module")
def authority():
    return pki.make_ca("NPKI Test CA", key=pki.cached_key("npki-ca"), organization="yessign")


@pytest.fixture(scope="module")
def issued(authority):
    return pki.make_user_certificate(authority, common_name="홍길동()0010041200805281234567",
                                     key=pki.cached_key("npki-user"))


def test_a_pbes1_seed_key_decrypts_with_pbkdf1_sha1_and_the_sha1_derived_iv(issued):
    der = npki.encrypt_private_key(issued.key, "비밀번호-2026", scheme="pbes1",
                                   iterations=2048, salt=b"12345678")
    (_t, alg_at, _s, _e), (_t2, _o, data_start, data_end) = _children(der)
    (oid_tag, oid_at, oid_start, oid_end), (_pt, params_at, _ps, _pe) = _children(der, alg_at)
    assert der[oid_at:oid_end] == bytes.fromhex("06082a831a8c9a44010f")  # 1.2.410.200004.1.15
    salt_el, iterations_el = _children(der, params_at)
    salt = der[salt_el[2]:salt_el[3]]
    iterations = int.from_bytes(der[iterations_el[2]:iterations_el[3]], "big")
    assert (salt, iterations) == (b"12345678", 2048)

    # RFC 8018 PBKDF1 written out again here; the password is its UTF-8 bytes.
    dk = "비밀번호-2026".encode() + salt
    for _ in range(iterations):
        dk = hashlib.sha1(dk).digest()
    iv = hashlib.sha1(dk[16:20]).digest()[:16]
    plain = _seed_cbc_decrypt(dk[:16], iv, der[data_start:data_end])
    key = load_der_private_key(plain, None)
    assert key.private_numbers() == issued.key.private_numbers()
    # KISA's randomNum rides in the PrivateKeyInfo's attributes.
    assert bytes.fromhex("060a2a831a8c9a440a010103") in plain


def test_a_pbes2_seed_key_decrypts_with_pbkdf2_and_the_iv_of_its_parameters(issued):
    der = npki.encrypt_private_key(issued.key, "pass-word-1", scheme="pbes2", iterations=1000)
    (_t, alg_at, _s, _e), (_t2, _o, data_start, data_end) = _children(der)
    (_ot, _oa, _os, oid_end), (_pt, params_at, _ps, _pe) = _children(der, alg_at)
    assert der[alg_at + 2:oid_end].endswith(bytes.fromhex("2a864886f70d01050d"))  # PBES2
    (_kt, kdf_at, _ks, _ke), (_st, scheme_at, _ss, _se) = _children(der, params_at)
    (_a, _b, _c, _d), (_pt2, kdf_params_at, _x, _y) = _children(der, kdf_at)
    salt_el, count_el = _children(der, kdf_params_at)
    (_sot, _soa, so_start, so_end), (_ivt, _iva, iv_start, iv_end) = _children(der, scheme_at)
    assert der[so_start:so_end] == bytes.fromhex("2a831a8c9a440104")  # seedCBC
    salt = der[salt_el[2]:salt_el[3]]
    count = int.from_bytes(der[count_el[2]:count_el[3]], "big")
    assert count == 1000
    key = hashlib.pbkdf2_hmac("sha1", b"pass-word-1", salt, count, 16)
    plain = _seed_cbc_decrypt(key, der[iv_start:iv_end], der[data_start:data_end])
    assert load_der_private_key(plain, None).private_numbers() == issued.key.private_numbers()


def test_an_npki_folder_is_laid_out_as_npki_software_writes_it(tmp_path, issued):
    folder = npki.write_npki_folder(tmp_path, issued, "pw", ca_folder="yessign")
    assert folder.parent == tmp_path / "NPKI" / "yessign" / "USER"
    assert folder.name == "cn=홍길동()0010041200805281234567,ou=personal4IB,o=yessign,c=KR"
    assert (folder / "signCert.der").read_bytes() == issued.der
    assert {p.name for p in folder.iterdir()} == {
        "signCert.der", "signPri.key", "kmCert.der", "kmPri.key"}


def test_openssl_reads_the_seed_p12_mac_key_bag_and_certificates(tmp_path, issued, authority):
    """OpenSSL's own PKCS#12 reader (the command line tool; the legacy provider has SEED)."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed (apt-get install openssl; CI does)"
    for scheme, encrypt_certificates in (("pbes1", False), ("pbes2", False),
                                         ("pbes2", True)):
        path = tmp_path / f"{scheme}-{encrypt_certificates}.p12"
        path.write_bytes(npki.to_seed_p12(issued, "p12-pass", ca=authority, scheme=scheme,
                                          encrypt_certificates=encrypt_certificates))
        wrong = subprocess.run(
            [openssl, "pkcs12", "-in", str(path), "-noout", "-passin", "pass:wrong"],
            capture_output=True, text=True, errors="replace")
        assert wrong.returncode != 0 and "mac verify" in wrong.stderr.lower()
        if scheme == "pbes1":
            continue  # OpenSSL knows seedCBC, not KISA's pbeWithSHA1AndSeed-CBC
        result = subprocess.run(
            [openssl, "pkcs12", "-in", str(path), "-nodes", "-passin", "pass:p12-pass",
             "-provider", "legacy", "-provider", "default"],
            capture_output=True, text=True, errors="replace")
        assert result.returncode == 0, result.stderr
        assert "BEGIN PRIVATE KEY" in result.stdout
        assert result.stdout.count("BEGIN CERTIFICATE") == 2
