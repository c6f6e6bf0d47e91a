"""Test-only environment defaults, loaded as an early pytest plugin (`-p tests.testenv`)
so they are set before pytest-django imports the settings."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("SECURE", "false")
os.environ.setdefault("SMS_BACKEND", "console")
os.environ.setdefault("STATICFILES_STORAGE",
                      "django.contrib.staticfiles.storage.StaticFilesStorage")
os.environ.setdefault("WHITENOISE_USE_FINDERS", "true")
os.environ.setdefault("REQUEST_LOG_LEVEL", "WARNING")
