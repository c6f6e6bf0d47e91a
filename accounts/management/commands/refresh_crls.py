"""Fetch every CRL distribution point and replace the stored copies (nightly and hourly)."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts import certificates
from accounts.certificates import TrustStore, TrustStoreNotConfigured, issuer_key
from accounts.models import StoredCrl
from accounts.revocation import CrlFetcher, CrlFetchError
from accounts.services import CrlCopy, crl_fetch_failed, crl_points_register, crl_replace


class Command(BaseCommand):
    help = (
        "Fetches the CRL of every known distribution point (the trusted CAs' certificates, "
        "CERT_CRL_URLS and every certificate presented at signup or login) over HTTP or "
        "LDAP, checks each CRL's signature against its trusted issuer (and a partitioned "
        "CRL's issuingDistributionPoint against the point), and replaces the StoredCrl row of "
        "the point in one transaction when the CRL is newer. Lists the points whose stored "
        "CRL is past its nextUpdate (stale) or was never fetched; exits non-zero when a fetch "
        "failed or a point is stale. Safe to run twice at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=None,
                            help="seconds per fetch (default CERT_CRL_FETCH_TIMEOUT_SECONDS)")
        parser.add_argument("--url", action="append", default=[],
                            help="only this distribution point (repeatable)")

    def handle(self, *args, timeout=None, url=(), **options):
        verbosity = options.get("verbosity", 1)
        try:
            trust = TrustStore.from_settings()
        except TrustStoreNotConfigured as exc:
            raise CommandError(f"trust store: {exc}") from None
        self._register_configured_points(trust)
        timeout = settings.CERT_CRL_FETCH_TIMEOUT_SECONDS if timeout is None else timeout
        points = StoredCrl.objects.order_by("url").values_list("url", "expected_issuer")
        if url:
            points = points.filter(url__in=url)
        counts = {"replaced": 0, "unchanged": 0, "older": 0, "failed": 0}
        with CrlFetcher(timeout=timeout) as fetcher:
            for point, expected in points:
                now = timezone.now()
                try:
                    data = fetcher.fetch(point)
                    crl = certificates.check_fetched_crl(data, url=point, trust=trust,
                                                         expected_issuer=expected)
                except (CrlFetchError, ValueError) as exc:
                    counts["failed"] += 1
                    crl_fetch_failed(url=point, error=str(exc), now=now)
                    self.stderr.write(f"FAILED {point}: {exc}")
                    continue
                der = crl.public_bytes(serialization.Encoding.DER)
                outcome = crl_replace(url=point, now=now, copy=CrlCopy(
                    der=der, sha256=hashlib.sha256(der).hexdigest(),
                    issuer_key=issuer_key(crl.issuer), crl_number=certificates.crl_number(crl),
                    this_update=crl.last_update_utc, next_update=crl.next_update_utc))
                counts[outcome] += 1
                if verbosity >= 2:
                    self.stdout.write(f"{outcome} {point}")
        stale = self._stale(url)
        for point, next_update in stale:
            when = f"next update was {next_update.isoformat()}" if next_update else \
                "never fetched"
            self.stderr.write(f"STALE {point} ({when})")
        self.stdout.write(
            f"CRLs: {counts['replaced']} replaced, {counts['unchanged']} unchanged, "
            f"{counts['older']} older than the stored copy, {counts['failed']} failed; "
            f"{len(stale)} stale.")
        if counts["failed"] or stale:
            raise CommandError(f"{counts['failed']} distribution point(s) failed, "
                               f"{len(stale)} stale")

    def _register_configured_points(self, trust: TrustStore) -> None:
        by_issuer: dict[str, list[str]] = {}
        for anchor in trust.anchors:
            urls = certificates.crl_urls(anchor)
            if urls:
                by_issuer.setdefault(issuer_key(anchor.issuer), []).extend(urls)
        crl_points_register(urls_by_issuer=by_issuer, origin=StoredCrl.Origin.ANCHOR)
        configured = [u for u in getattr(settings, "CERT_CRL_URLS", []) or [] if u]
        crl_points_register(urls_by_issuer={"": configured}, origin=StoredCrl.Origin.SETTINGS)

    def _stale(self, only) -> list:
        now = timezone.now()
        rows = StoredCrl.objects.filter(der__isnull=True) | StoredCrl.objects.filter(
            next_update__lt=now)
        if only:
            rows = rows.filter(url__in=only)
        return list(rows.order_by("url").values_list("url", "next_update"))
