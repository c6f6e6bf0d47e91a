"""System checks of our own settings.

The deploy checks (`manage.py check --deploy`, run by `make check-deploy` and CI) refuse the
settings that are only safe on a developer's machine: a random SECRET_KEY, SMS codes written
to the server log and the old client-address header setting. The certificate trust checks
(the demo CA as anchor, a CA without a CRL source) are the accounts app's (accounts/checks.py):
this package imports no app.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register


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
