"""System checks of our own settings.

The deploy checks (`manage.py check --deploy`, run by `make check-deploy` and CI) refuse the
settings that are only safe on a developer's machine: a random SECRET_KEY, SMS codes written
to the server log, the demo certificate authority as the trust anchor, a CA without a CRL
(every certificate it issued would be refused) and the old client-address header setting.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, register

#: The organisation of every CA made by accounts/pki.py (the demo and test PKI).
DEMO_PKI_ORGANIZATION = "KDCIS Demo PKI"


@register(Tags.security, deploy=True)
def secret_key_configured(app_configs, **kwargs):
    if getattr(settings, "SECRET_KEY_IS_EPHEMERAL", False):
        return [Error("SECRET_KEY is not set: the process runs on a random key of its own.",
                      hint="Set SECRET_KEY in the environment (see .env.example).",
                      id="kdcis.E001")]
    return []


@register(Tags.security, deploy=True)
def sms_backend_configured(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    backend = settings.SMS_BACKEND
    if backend == "console":
        return [Error("SMS_BACKEND is 'console': live verification codes are written to the "
                      "server log instead of being sent.",
                      hint="Set SMS_BACKEND=twilio and the TWILIO_* variables.",
                      id="kdcis.E002")]
    if backend == "twilio":
        missing = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
                   if not getattr(settings, name, "")]
        if not (settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID):
            missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        if missing:
            return [Error(f"SMS_BACKEND is 'twilio' but {', '.join(missing)} is not set.",
                          hint="See .env.example.", id="kdcis.E003")]
    return []


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


@register(Tags.security, deploy=True)
def client_address_configured(app_configs, **kwargs):
    errors = []
    if getattr(settings, "LEGACY_TRUSTED_PROXY_IP_HEADER", ""):
        errors.append(Error(
            "TRUSTED_PROXY_IP_HEADER is no longer read: it trusted the left-most "
            "X-Forwarded-For entry, which the client writes.",
            hint="Remove it and set TRUSTED_PROXY_HOPS to the number of your proxies that "
                 "append to X-Forwarded-For (1 behind one nginx).",
            id="kdcis.E007"))
    if settings.TRUSTED_PROXY_HOPS < 0:
        errors.append(Error("TRUSTED_PROXY_HOPS cannot be negative.", id="kdcis.E008"))
    return errors
