"""Deploy checks of the certificate trust (`manage.py check --deploy`): the trust anchors are
real CAs, not the demo PKI, and every one has a CRL source."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, register

#: The organisation of every CA made by accounts/pki.py (the demo and test PKI).
DEMO_PKI_ORGANIZATION = "KDCIS Demo PKI"


def _is_demo_anchor_path(path: Path) -> bool:
    demo = (Path(settings.BASE_DIR) / "var" / "demo").resolve()
    try:
        return path.resolve().is_relative_to(demo)
    except OSError:
        return False


@register(Tags.security, deploy=True)
def certificate_trust_configured(app_configs, **kwargs):
    """The trust anchors are real CAs (not the demo PKI) and every one has a CRL."""
    if settings.DEBUG:
        return []
    from accounts.certificates import TrustStore, TrustStoreNotConfigured

    path = Path(settings.CERT_TRUST_ANCHORS)
    if _is_demo_anchor_path(path):
        return [Error(f"CERT_TRUST_ANCHORS is the demo CA ({path}): anyone holding the demo "
                      "CA's key (written next to it by load_demo_data) can sign in as anyone.",
                      hint="Point CERT_TRUST_ANCHORS at the PEM bundle of the licensed Korean "
                           "CAs and their root (see .env.example).",
                      id="kdcis.E004")]
    try:
        store = TrustStore.from_settings()
    except TrustStoreNotConfigured as exc:
        return [Error(f"The certificate trust store cannot be loaded: {exc}",
                      hint="Check CERT_TRUST_ANCHORS and CERT_CRL_PATHS.", id="kdcis.E005")]
    errors = []
    from cryptography.x509.oid import NameOID

    for cert in store.anchors:
        organizations = [a.value for a in
                         cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if DEMO_PKI_ORGANIZATION in organizations:
            errors.append(Error(
                f"CERT_TRUST_ANCHORS holds a CA of the demo PKI ({cert.subject.rfc4514_string()}).",
                hint="Only the licensed Korean CAs and their root belong in the bundle.",
                id="kdcis.E004"))
    # The database is asked only when the files leave a CA without a source.
    missing = store.anchors_without_crl()
    if missing:
        missing = store.anchors_without_crl(_crl_store_issuers())
    for name in missing:
        errors.append(Error(
            f"The CA {name} has no CRL source: no CRL file, no distribution point known to the "
            "CRL store: every certificate it issued that no OCSP responder vouches for is "
            "refused (revocation_unknown).",
            hint="Add its distribution point to CERT_CRL_URLS and run refresh_crls (or add a "
                 "CRL file to CERT_CRL_PATHS).",
            id="kdcis.E006"))
    return errors


def _crl_store_issuers() -> set[str]:
    """The CAs the CRL store (refresh_crls) has a CRL or a distribution point of; empty when
    the database is not reachable or not migrated yet (the check then relies on files)."""
    from django.db import DatabaseError

    from accounts.models import StoredCrl

    try:
        rows = list(StoredCrl.objects.values_list("issuer_key", "expected_issuer"))
    except DatabaseError:
        return set()
    return {key for pair in rows for key in pair if key}
