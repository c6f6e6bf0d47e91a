"""load_demo_data: what `make run` promises in the README, and that a second run changes
nothing."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import pki
from accounts.management.commands import load_demo_data
from accounts.models import CertificateBinding, User
from institutions.models import Institution
from kdcis.models import AuditEvent, LibraryFile, Notice
from permissions.models import Grant, Officer
from tests.accounts.helpers import post_certificate

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_dir(tmp_path, monkeypatch, settings, reference_data):
    """The command writing into a temporary var/demo/ (and media root), with one RSA key for
    every certificate so the test does not spend its time generating keys."""
    directory = tmp_path / "demo"
    monkeypatch.setattr(load_demo_data, "DEMO_DIR", directory)
    settings.MEDIA_ROOT = str(tmp_path / "media")
    key = pki.cached_key("demo-data")
    monkeypatch.setattr(pki, "make_key", lambda *args, **kwargs: key)
    return directory


def _run() -> None:
    call_command("load_demo_data", stdout=open("/dev/null", "w"))


def _load(directory, name: str, password: str) -> pki.Issued:
    key, cert, _extra = pkcs12.load_key_and_certificates(
        (directory / f"{name}.p12").read_bytes(), password.encode())
    return pki.Issued(cert=cert, key=key)


def _cn(issued: pki.Issued) -> str:
    return issued.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def _files(directory) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _rows() -> dict[str, list]:
    return {
        "users": list(User.objects.order_by("pk").values_list("pk", "username", "status")),
        "bindings": list(CertificateBinding.objects.order_by("pk").values_list(
            "pk", "fingerprint")),
        "grants": list(Grant.objects.order_by("pk").values_list("pk", "status")),
        "officers": list(Officer.objects.order_by("pk").values_list("pk", "body_id")),
        "audit": list(AuditEvent.objects.order_by("pk").values_list("pk", "action")),
        "notices": list(Notice.objects.order_by("pk").values_list("pk", "kind")),
        "files": list(LibraryFile.objects.order_by("pk").values_list("pk", "file")),
        "devices": list(TOTPDevice.objects.order_by("pk").values_list("pk", "key")),
    }


def test_it_ships_ten_fresh_applicants_none_of_them_signed_up(demo_dir):
    _run()
    fresh = [name for name, _cn, _pw, kind in load_demo_data.UNREGISTERED if kind == "valid"]
    assert len(fresh) == 10
    bound = set(CertificateBinding.objects.values_list("subject_cn", flat=True))
    names = set()
    for name, cn, password, _kind in load_demo_data.UNREGISTERED[:10]:
        issued = _load(demo_dir, name, password)
        assert _cn(issued) == cn and cn not in bound
        names.add(cn.split("(")[0])
    assert len(names) == 10  # ten different people
    summary = (demo_dir / "README.txt").read_text(encoding="utf-8")
    for name in fresh:
        assert f"  {name}.p12  password " in summary


def test_there_is_an_officer_for_every_demo_institutions_health_center(demo_dir):
    _run()
    jurisdictions = set(Institution.objects.exclude(jurisdiction=None)
                        .values_list("jurisdiction__code", flat=True))
    assert len(jurisdictions) >= 12
    staffed = set(Officer.objects.values_list("body__code", flat=True))
    assert jurisdictions <= staffed, sorted(jurisdictions - staffed)
    summary = (demo_dir / "README.txt").read_text(encoding="utf-8")
    assert "(officer of 경기도 평택시 송탄보건소)" in summary
    assert "(officer of 부산광역시 해운대구보건소)" in summary
    assert "(applicant of 종로연세의원, approved)" in summary


def test_the_renewed_certificate_offers_a_rebind_of_its_persona(demo_dir, client, settings):
    _run()
    settings.CERT_TRUST_ANCHORS = str(demo_dir / "ca.pem")
    settings.CERT_CRL_PATHS = [str(demo_dir / "crl.pem")]
    (name, password, persona), = load_demo_data.RENEWED
    renewed = _load(demo_dir, name, password)
    user = User.objects.get(username=persona)
    assert _cn(renewed) == user.certificate.subject_cn
    assert hashlib.sha256(renewed.der).hexdigest() != user.certificate.fingerprint
    response = post_certificate(client, "/login/", renewed)
    assert response.status_code == 302 and response.url == reverse("rebind")
    assert client.session["rebind"]["user_id"] == user.pk
    assert "clinic01-renewed.p12" in (demo_dir / "README.txt").read_text(encoding="utf-8")


def test_the_signed_up_personas_still_log_in(demo_dir, client, settings):
    _run()
    settings.CERT_TRUST_ANCHORS = str(demo_dir / "ca.pem")
    settings.CERT_CRL_PATHS = [str(demo_dir / "crl.pem")]
    response = post_certificate(client, "/login/", _load(demo_dir, "mapo01", "demo-officer-4"))
    assert response.status_code == 302 and response.url == "/"
    assert client.session["_auth_user_id"] == str(User.objects.get(username="mapo01").pk)


def test_a_second_run_changes_nothing(demo_dir):
    _run()
    files, rows = _files(demo_dir), _rows()
    assert "crl.pem" in files and "clinic01-renewed.p12" in files
    _run()
    assert _files(demo_dir) == files
    assert _rows() == rows


def test_it_writes_npki_folders_with_seed_keys_beside_the_p12_files(demo_dir):
    from accounts import npki

    _run()
    passwords = {name: pw for name, _cn, pw, *_rest in
                 load_demo_data.PERSONAS + load_demo_data.UNREGISTERED}
    schemes = set()
    for name, ca_folder, scheme in load_demo_data.NPKI_FOLDERS:
        issued = _load(demo_dir, name, passwords[name])
        folder = demo_dir / "NPKI" / ca_folder / "USER" / npki.subject_folder_name(issued)
        assert (folder / "signCert.der").read_bytes() == issued.der
        oid = {"pbes1": "06082a831a8c9a44010f", "pbes2": "06092a864886f70d01050d"}[scheme]
        assert bytes.fromhex(oid) in (folder / "signPri.key").read_bytes()[:32]
        schemes.add(scheme)
    assert schemes == {"pbes1", "pbes2"}
    assert (demo_dir / "new-applicant-4-seed.p12").exists()
    summary = (demo_dir / "README.txt").read_text(encoding="utf-8")
    assert "NPKI/yessign/USER/cn=강하나()0010041200805281000011" in summary
    assert "new-applicant-4-seed.p12  password demo-new-4" in summary
