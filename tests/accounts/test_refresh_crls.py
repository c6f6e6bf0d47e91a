"""`manage.py refresh_crls` against real servers the tests start: an OpenLDAP slapd holding a
partitioned CRL (as Korean CAs publish them) and an HTTP server; the stored copies decide
every app server's verifications; two refreshes at once end consistent."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts import pki
from accounts.certificates import (
    CertificateError,
    TrustStore,
    issuer_key,
    verify_signed_challenge,
)
from accounts.models import StoredCrl
from accounts.revocation import DatabaseRevocationSources
from accounts.services import crl_points_register
from kdcis.models import AuditEvent
from tests.accounts import pki_servers
from tests.accounts.pki_servers import CrlFiles, der, ldap_url

ROOT = Path(__file__).resolve().parents[2]
CHALLENGE = b"refresh-crls-challenge"
CN = "홍길동()0010041200805281234567"


@pytest.fixture(scope="module")
def ca() -> pki.Authority:
    return pki.make_ca("KDCIS CRL Test CA", key=pki.cached_key("crl-ca"),
                       organization="KDCIS Test")


@pytest.fixture
def anchors(ca, tmp_path, settings):
    path = tmp_path / "anchors.pem"
    path.write_bytes(pki.pem(ca))
    settings.CERT_TRUST_ANCHORS = str(path)
    settings.CERT_CRL_PATHS = []
    settings.CERT_CRL_URLS = []
    settings.CERT_OCSP_ENABLED = False
    return path


def issue(ca, serial: int, url: str) -> pki.Issued:
    return pki.make_user_certificate(ca, common_name=CN, key=pki.cached_key("crl-user"),
                                     serial=serial, crl_urls=[url])


def verify(issued):
    return verify_signed_challenge(
        certificate=issued.der, challenge=CHALLENGE,
        signature=pki.sign_challenge(issued.key, CHALLENGE), trust=TrustStore.from_settings(),
        revocation=DatabaseRevocationSources(ocsp_enabled=False))


def refused(code, issued) -> None:
    with pytest.raises(CertificateError) as info:
        verify(issued)
    assert info.value.code == code


def refresh(*args) -> tuple[str, str]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("refresh_crls", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_partitioned_crls_over_ldap_and_http(ca, anchors, tmp_path):
    ldap_port = pki_servers.free_port()
    p1 = f"cn=dp1p1,ou=dp1,{pki_servers.SUFFIX}"
    p2 = f"cn=dp1p2,ou=dp1,{pki_servers.SUFFIX}"
    p1_url, p2_url = ldap_url(ldap_port, p1), ldap_url(ldap_port, p2)
    files = CrlFiles()
    with pki_servers.http_server(files) as base:
        p3_url = f"{base}/crl/p3.crl"
        in_p1, in_p2, in_p3 = issue(ca, 0x101, p1_url), issue(ca, 0x201, p2_url), \
            issue(ca, 0x301, p3_url)
        # Same serial as the one revoked in partition 1, but in partition 2.
        twin_in_p2 = issue(ca, 0x101, p2_url)
        # Partition 1 revokes 0x101; partition 2 and 3 revoke nothing of ours.
        ldap_crls = {p1: der(pki.make_crl(ca, [0x101], distribution_point=p1_url)),
                     p2: der(pki.make_crl(ca, [0x999], distribution_point=p2_url))}
        files["/crl/p3.crl"] = der(pki.make_crl(ca, [], distribution_point=p3_url))
        with pki_servers.slapd(tmp_path / "ldap", ldap_port, ldap_crls):
            # Before any refresh: nothing covers the CA; presenting them records their points.
            for issued in (in_p1, in_p2, in_p3):
                refused("revocation_unknown", issued)
            assert set(StoredCrl.objects.values_list("url", flat=True)) == {
                p1_url, p2_url, p3_url}
            assert set(StoredCrl.objects.values_list("expected_issuer", flat=True)) == {
                issuer_key(ca.cert.subject)}

            out, _err = refresh()
            assert "3 replaced" in out and "0 failed" in out and "0 stale" in out

            refused("revoked", in_p1)
            assert verify(in_p2).serial == "201"
            assert verify(in_p3).serial == "301"
            # Partition 1's list does not speak for partition 2's certificates.
            assert verify(twin_in_p2).serial == "101"

            # A new CRL of partition 3 replaces the stored one (one audit row per change).
            files["/crl/p3.crl"] = der(pki.make_crl(ca, [0x301], crl_number=2,
                                                    distribution_point=p3_url))
            out, _err = refresh()
            assert "1 replaced, 2 unchanged" in out
            refused("revoked", in_p3)
            # An older copy served again (a lagging mirror) never replaces a newer one.
            files["/crl/p3.crl"] = der(pki.make_crl(ca, [], crl_number=1,
                                                    distribution_point=p3_url))
            out, _err = refresh()
            assert "1 older" in out
            refused("revoked", in_p3)
            assert AuditEvent.objects.filter(action="crl.replace").count() == 4


@pytest.mark.django_db
def test_bad_crls_are_refused_and_the_command_fails(ca, anchors):
    impostor = pki.Authority(cert=ca.cert, key=pki.cached_key("crl-impostor"))
    files = CrlFiles()
    with pki_servers.http_server(files) as base:
        urls = {name: f"{base}/{name}.crl" for name in
                ("forged", "other-partition", "missing", "not-a-crl", "good")}
        files["/forged.crl"] = der(pki.make_crl(impostor, [], distribution_point=urls["forged"]))
        files["/other-partition.crl"] = der(pki.make_crl(ca, [],
                                                         distribution_point=urls["good"]))
        files["/not-a-crl.crl"] = b"<html>maintenance</html>"
        files["/good.crl"] = der(pki.make_crl(ca, [], distribution_point=urls["good"]))
        crl_points_register(urls_by_issuer={issuer_key(ca.cert.subject): list(urls.values())},
                            origin=StoredCrl.Origin.CERTIFICATE)
        with pytest.raises(CommandError) as info:
            refresh()
        assert "4 distribution point(s) failed" in str(info.value)
        rows = {row.url: row for row in StoredCrl.objects.all()}
        assert rows[urls["good"]].der is not None
        for name, reason in (("forged", "bad signature"), ("other-partition", "partition of"),
                             ("missing", "404"), ("not-a-crl", "not a CRL")):
            assert rows[urls[name]].der is None
            assert reason in rows[urls[name]].last_error, (name, rows[urls[name]].last_error)

        # A certificate of the forged point's partition stays refused: fail closed.
        refused("revocation_unknown", issue(ca, 0x55, urls["forged"]))
        assert verify(issue(ca, 0x56, urls["good"])).serial == "56"


@pytest.mark.django_db
def test_stale_crls_are_reported(ca, anchors, settings):
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    files = CrlFiles()
    with pki_servers.http_server(files) as base:
        url = f"{base}/old.crl"
        files["/old.crl"] = der(pki.make_crl(ca, [], last_update=now - dt.timedelta(days=9),
                                             next_update=now - dt.timedelta(days=2)))
        settings.CERT_CRL_URLS = [url]
        with pytest.raises(CommandError):
            refresh()
    row = StoredCrl.objects.get(url=url)
    assert row.der is not None and row.origin == StoredCrl.Origin.SETTINGS
    # The stale copy is stored but covers nobody: its certificates are refused.
    refused("crl_missing", issue(ca, 0x77, url))


@pytest.mark.django_db
def test_a_ca_without_a_crl_source_refuses_and_the_deploy_check_names_it(ca, anchors,
                                                                         settings):
    from accounts.checks import certificate_trust_configured

    settings.DEBUG = False
    issued = issue(ca, 0x88, "http://127.0.0.1:9/nowhere.crl")
    errors = certificate_trust_configured(None)
    assert [e.id for e in errors] == ["kdcis.E006"]
    assert "KDCIS CRL Test CA" in errors[0].msg
    refused("revocation_unknown", issued)
    # The refused certificate named its distribution point: now the CA has a source.
    assert certificate_trust_configured(None) == []


# ------------------------------------------------------------------------------------ race


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_end_consistent(ca, anchors):
    files = CrlFiles()
    with pki_servers.http_server(files) as base:
        urls = [f"{base}/p{i}.crl" for i in range(20)]
        for i, url in enumerate(urls):
            files[f"/p{i}.crl"] = der(pki.make_crl(ca, [i + 1], distribution_point=url,
                                                   crl_number=7))
        crl_points_register(urls_by_issuer={issuer_key(ca.cert.subject): urls},
                            origin=StoredCrl.Origin.CERTIFICATE)
        db = connection.settings_dict
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="kdcis.settings", PYTHONPATH=str(ROOT),
                   DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
                                f"{db['PORT'] or 5432}/{db['NAME']}",
                   SECRET_KEY="refresh-race-test-secret-key-0123456789abcdefghijklmnop",
                   CERT_TRUST_ANCHORS=str(anchors), CERT_CRL_PATHS="", DB_CONN_MAX_AGE="0")
        procs = [subprocess.Popen([sys.executable, "manage.py", "refresh_crls"], cwd=ROOT,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
        results = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
    # Each point was replaced exactly once (the other run found it unchanged under the
    # row's lock); every stored copy is whole and matches its hash.
    assert AuditEvent.objects.filter(action="crl.replace").count() == 20
    assert StoredCrl.objects.count() == 20
    for row in StoredCrl.objects.all():
        assert hashlib.sha256(bytes(row.der)).hexdigest() == row.sha256
        assert row.crl_number == 7 and row.last_error == ""
    summaries = b" ".join(out for out, _err in results).decode()
    assert summaries.count("replaced") == 2
