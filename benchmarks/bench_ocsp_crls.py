"""Revocation costs: a verification with its OCSP answer cached vs asked of the responder,
``refresh_crls`` on 100 partitions over HTTP and LDAP, and what reading a stored CRL costs a
verification by the CRL's size (each verification parses and checks the CRLs it needs: there is
no per-process memory of them).

    python benchmarks/bench_ocsp_crls.py [--rounds 5] [--per-round 40] [--partitions 100]

Creates and drops its own PostgreSQL database on the server of $DATABASE_URL. Starts a real
OCSP responder (``openssl ocsp``), an HTTP server and OpenLDAP's slapd (the same helpers the
tests use). The three kinds of verification (OCSP asked, OCSP cached, CRL only) run side by
side in alternating rounds and the ratios are the medians of the per-round ratios, so a
machine shared with other work moves all of them alike.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import setup_django, throwaway_database  # noqa: E402

CHALLENGE = b"bench-ocsp-challenge"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=40)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--revoked-per-partition", type=int, default=200)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kdcis-bench-ocsp-"))
    with throwaway_database("kdcis_bench_ocsp") as url:
        anchors = work / "anchors.pem"
        anchors.write_bytes(b"")
        setup_django(url, CERT_TRUST_ANCHORS=str(anchors), CERT_CRL_PATHS="",
                     CERT_OCSP_ENABLED="true")
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from django.db import connections

        from accounts import pki

        ca = pki.make_ca("KDCIS Bench CA", organization="KDCIS Test")
        anchors.write_bytes(pki.pem(ca))
        _verification(args, ca, work)
        _refresh(args, ca, work)
        _crl_sizes(ca)
        connections.close_all()
    return 0


def _verification(args, ca, work: Path) -> None:
    from accounts import pki
    from accounts.certificates import TrustStore, verify_signed_challenge
    from accounts.revocation import DatabaseRevocationSources
    from tests.accounts import pki_servers

    class Uncached(DatabaseRevocationSources):
        def ocsp_cached(self, key, at):
            return None

    port = pki_servers.free_port()
    key = pki.cached_key("bench-ocsp-user")
    users = [pki.make_user_certificate(ca, common_name=f"사용자{i}()0010", key=key,
                                       serial=i + 1, ocsp_url=f"http://127.0.0.1:{port}/")
             for i in range(args.per_round)]
    signature = pki.sign_challenge(key, CHALLENGE)
    no_crl = TrustStore.from_pem_bundle(pki.pem(ca))
    with_crl = TrustStore.from_pem_bundle(pki.pem(ca), [pki.pem(pki.make_crl(ca, [10**9]))])
    kinds = {
        "OCSP asked (no cache)": (no_crl, Uncached(ocsp_enabled=True, timeout=5)),
        "OCSP cached (database)": (no_crl, DatabaseRevocationSources(ocsp_enabled=True,
                                                                     timeout=5)),
        "CRL only (no OCSP)": (with_crl, DatabaseRevocationSources(ocsp_enabled=False)),
    }

    def run(kind: str) -> float:
        trust, sources = kinds[kind]
        start = time.perf_counter()
        for issued in users:
            verify_signed_challenge(certificate=issued.der, challenge=CHALLENGE,
                                    signature=signature, trust=trust, revocation=sources)
        return (time.perf_counter() - start) / len(users) * 1000

    with pki_servers.ocsp_responder(work / "ocsp", ca, pki.make_ocsp_responder(ca),
                                    pki_servers.ocsp_index(good=users), port=port):
        for kind in kinds:  # warm up; fills the OCSP cache
            run(kind)
        times = {kind: [] for kind in kinds}
        order = list(kinds)
        for _round in range(args.rounds):
            for kind in order:
                times[kind].append(run(kind))
            order.reverse()
    cached = times["OCSP cached (database)"]
    print(f"Verification (signature + chain + revocation), {args.per_round} certificates "
          f"x {args.rounds} alternating rounds, PostgreSQL, local openssl ocsp responder:")
    for kind, values in times.items():
        ratio = statistics.median(v / c for v, c in zip(values, cached, strict=True))
        print(f"  {kind:24s} median {statistics.median(values):7.2f} ms/verification "
              f"(fastest round {min(values):.2f}), {ratio:5.2f}x the cached one")


def _crl_sizes(ca) -> None:
    """Parse + signature check + serial lookup of one CRL, as a verification does it, by the
    number of serials: a Korean CA's partition holds a few hundred; a whole CRL of a CA that
    does not partition can hold a hundred thousand."""
    from cryptography.hazmat.primitives import serialization

    from accounts import certificates, pki

    print("\nReading one stored CRL per verification (parse, signature, serial lookup)")
    for serials in (200, 10_000, 100_000):
        der = pki.make_crl(ca, list(range(1000, 1000 + serials))).public_bytes(
            serialization.Encoding.DER)
        times = []
        for _ in range(15):
            started = time.perf_counter()
            crl = x509.load_der_x509_crl(der)
            assert certificates.crl_signed_by(crl, ca.cert)
            crl.get_revoked_certificate_by_serial_number(5)
            times.append((time.perf_counter() - started) * 1000)
        print(f"  {serials:>7,} serials ({len(der) // 1024:>5,} KB)  median "
              f"{statistics.median(times):8.2f} ms")


def _refresh(args, ca, work: Path) -> None:
    from django.core.management import call_command

    from accounts import pki
    from accounts.certificates import issuer_key
    from accounts.models import StoredCrl
    from accounts.services import crl_points_register
    from tests.accounts import pki_servers
    from tests.accounts.pki_servers import CrlFiles, der, ldap_url

    revoked = list(range(1, args.revoked_per_partition + 1))
    ldap_port = pki_servers.free_port()
    dns = [f"cn=dp1p{i},ou=dp1,{pki_servers.SUFFIX}" for i in range(args.partitions)]
    ldap_urls = [ldap_url(ldap_port, dn) for dn in dns]
    ldap_crls = {dn: der(pki.make_crl(ca, revoked, distribution_point=u))
                 for dn, u in zip(dns, ldap_urls, strict=True)}
    files = CrlFiles()

    def refresh(urls) -> float:
        start = time.perf_counter()
        call_command("refresh_crls", *[a for u in urls for a in ("--url", u)],
                     stdout=io.StringIO(), stderr=io.StringIO())
        return time.perf_counter() - start

    with pki_servers.http_server(files) as base, \
            pki_servers.slapd(work / "ldap", ldap_port, ldap_crls):
        http_urls = [f"{base}/p{i}.crl" for i in range(args.partitions)]

        def publish(number: int) -> None:
            for i, u in enumerate(http_urls):
                files[f"/p{i}.crl"] = der(pki.make_crl(ca, revoked, distribution_point=u,
                                                       crl_number=number))

        crl_points_register(urls_by_issuer={issuer_key(ca.cert.subject):
                                            http_urls + ldap_urls},
                            origin=StoredCrl.Origin.CERTIFICATE)
        publish(1)
        first_ldap = refresh(ldap_urls)
        refresh(http_urls)
        rows = {"HTTP, all replaced": [], "HTTP, unchanged": [], "LDAP, unchanged": []}
        for number in range(2, 2 + args.rounds):
            publish(number)
            rows["HTTP, all replaced"].append(refresh(http_urls))
            rows["HTTP, unchanged"].append(refresh(http_urls))
            rows["LDAP, unchanged"].append(refresh(ldap_urls))
    base_times = rows["HTTP, unchanged"]
    size = len(ldap_crls[dns[0]])
    print(f"\nrefresh_crls on {args.partitions} partitions ({args.revoked_per_partition} "
          f"revoked serials, {size:,} bytes each), {args.rounds} alternating rounds:")
    print(f"  LDAP, first fetch (all stored) {first_ldap:7.2f} s "
          f"({first_ldap / args.partitions * 1000:.1f} ms/partition, one run)")
    for kind, values in rows.items():
        ratio = statistics.median(v / b for v, b in zip(values, base_times, strict=True))
        print(f"  {kind:30s} median {statistics.median(values):7.2f} s "
              f"({statistics.median(values) / args.partitions * 1000:.1f} ms/partition), "
              f"{ratio:5.2f}x HTTP unchanged")


if __name__ == "__main__":
    sys.exit(main())
