"""Revocation sources over the database, and the CRL fetchers of ``refresh_crls``.

:class:`DatabaseRevocationSources` gives :func:`accounts.certificates.verify_signed_challenge`
what every app server must share: the CRLs ``refresh_crls`` stored (``StoredCrl``) and the good
OCSP answers already received (``OcspResponse``), both in PostgreSQL. Each verification reads
the rows that apply; the only thing kept in a process is the parsed form of a CRL, keyed by the
SHA-256 the row names, so a replaced CRL is used by the next verification on every server.

:func:`fetch_crl` reads a distribution point over HTTP(S) or LDAP (ldap3).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence

from cryptography import x509
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts import certificates
from accounts.models import OcspResponse, StoredCrl

logger = logging.getLogger(__name__)

#: A CRL larger than this is refused (Korean CAs partition theirs into small ones).
MAX_CRL_BYTES = 32 * 1024 * 1024

def _parse_crl(der) -> x509.CertificateRevocationList | None:
    """A stored CRL, parsed per verification: no per-process memory of them. A partition of
    a Korean CA's CRL (a few hundred serials) parses and checks in well under a millisecond
    (`benchmarks/bench_ocsp_crls.py` prints the cost by size)."""
    try:
        return x509.load_der_x509_crl(bytes(der))
    except ValueError:
        logger.error("A stored CRL does not parse")
        return None


class DatabaseRevocationSources:
    """:class:`accounts.certificates.RevocationSources` over ``StoredCrl`` and
    ``OcspResponse``; OCSP over HTTP with ``CERT_OCSP_TIMEOUT_SECONDS``."""

    def __init__(self, *, ocsp_enabled: bool | None = None, timeout: float | None = None,
                 now=timezone.now) -> None:
        self.ocsp_enabled = (settings.CERT_OCSP_ENABLED if ocsp_enabled is None
                             else ocsp_enabled)
        self.timeout = settings.CERT_OCSP_TIMEOUT_SECONDS if timeout is None else timeout
        self._now = now

    def stored_crls(self, issuer_keys: Sequence[str], *,
                    seen: Mapping[str, Sequence[str]]) -> list[x509.CertificateRevocationList]:
        rows = list(StoredCrl.objects.filter(
            Q(issuer_key__in=issuer_keys) | Q(expected_issuer__in=issuer_keys)
        ).values_list("url", "der"))
        known = {url for url, _der in rows}
        missing = {issuer: [u for u in urls if u not in known] for issuer, urls in seen.items()}
        if any(missing.values()):
            from accounts.services import crl_points_register

            crl_points_register(urls_by_issuer=missing, origin=StoredCrl.Origin.CERTIFICATE)
        parsed = (_parse_crl(der) for _url, der in rows if der)
        return [crl for crl in parsed if crl is not None]

    def ocsp_cached(self, key: str, at: dt.datetime) -> bytes | None:
        der = OcspResponse.objects.filter(key=key, next_update__gte=at,
                                          this_update__lte=at + dt.timedelta(minutes=5)
                                          ).values_list("der", flat=True).first()
        return None if der is None else bytes(der)

    def ocsp_store(self, key: str, response: bytes, *, this_update: dt.datetime,
                   next_update: dt.datetime) -> None:
        from accounts.services import ocsp_response_store

        ocsp_response_store(key=key, der=response, this_update=this_update,
                            next_update=next_update, now=self._now())

    def ocsp_fetch(self, url: str, request: bytes) -> bytes:
        return certificates.ocsp_post(url, request, timeout=self.timeout)


def revocation_sources() -> DatabaseRevocationSources:
    return DatabaseRevocationSources()


# ------------------------------------------------------------------------------- fetching


class CrlFetchError(Exception):
    """A distribution point gave no CRL (unreachable, not found, not a CRL)."""


class CrlFetcher:
    """Fetches CRLs over HTTP(S) and LDAP; one LDAP connection per server is reused for
    all of its partitions. Use as a context manager."""

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._ldap: dict[tuple[str, str, int], object] = {}

    def __enter__(self) -> CrlFetcher:
        return self

    def __exit__(self, *exc) -> None:
        for connection in self._ldap.values():
            try:
                connection.unbind()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass
        self._ldap.clear()

    def fetch(self, url: str) -> bytes:
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme in ("http", "https"):
            return self._http(url)
        if scheme in ("ldap", "ldaps"):
            return self._ldap_fetch(url)
        raise CrlFetchError(f"unsupported scheme {scheme!r}")

    def _http(self, url: str) -> bytes:
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310
                data = response.read(MAX_CRL_BYTES + 1)
        except (OSError, ValueError) as exc:
            raise CrlFetchError(f"HTTP: {exc}") from None
        if len(data) > MAX_CRL_BYTES:
            raise CrlFetchError("larger than the CRL size limit")
        return data

    def _ldap_fetch(self, url: str) -> bytes:
        import ldap3
        from ldap3.core.exceptions import LDAPException

        parts = urllib.parse.urlsplit(url)
        secure = parts.scheme.lower() == "ldaps"
        host = parts.hostname or ""
        port = parts.port or (636 if secure else 389)
        dn = urllib.parse.unquote(parts.path.lstrip("/"))
        attribute = urllib.parse.unquote(parts.query.split("?", 1)[0]) \
            or "certificateRevocationList"
        wanted = attribute.split(";", 1)[0].casefold()
        key = (parts.scheme.lower(), host, port)
        seconds = max(1, math.ceil(self.timeout))  # ldap3 sets socket options: whole seconds
        try:
            connection = self._ldap.get(key)
            if connection is None:
                server = ldap3.Server(host, port=port, use_ssl=secure,
                                      connect_timeout=seconds, get_info=ldap3.NONE)
                connection = ldap3.Connection(server, auto_bind=True, read_only=True,
                                              receive_timeout=seconds)
                self._ldap[key] = connection
            connection.search(dn, "(objectClass=*)", search_scope=ldap3.BASE,
                              attributes=[attribute])
        except LDAPException as exc:
            self._ldap.pop(key, None)
            raise CrlFetchError(f"LDAP: {exc}") from None
        for entry in connection.response or ():
            for name, values in (entry.get("raw_attributes") or {}).items():
                if name.split(";", 1)[0].casefold() == wanted and values:
                    if len(values[0]) > MAX_CRL_BYTES:
                        raise CrlFetchError("larger than the CRL size limit")
                    return bytes(values[0])
        raise CrlFetchError(f"LDAP: no {attribute} at {dn!r} ({connection.result})")
