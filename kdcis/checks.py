"""System checks of our own settings."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def secret_key_configured(app_configs, **kwargs):
    if getattr(settings, "SECRET_KEY_IS_EPHEMERAL", False):
        return [Error("SECRET_KEY is not set: the process runs on a random key of its own.",
                      hint="Set SECRET_KEY in the environment (see .env.example).",
                      id="kdcis.E001")]
    return []
