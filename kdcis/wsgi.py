import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kdcis.settings")
application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (after setup, on purpose)

if settings.SECRET_KEY_IS_EPHEMERAL and not settings.DEBUG:
    # Fail loudly: app servers on per-process keys would reject each other's sessions.
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for local development).")
