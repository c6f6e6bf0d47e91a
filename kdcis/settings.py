"""Settings for the KDCIS account portal: one module, configured from the environment.

Every variable is listed with its meaning in `.env.example`. DEBUG is off unless set; without
DATABASE_URL the portal runs on a local SQLite file so `make run` works on a bare laptop.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
# Without SECRET_KEY, management commands (makemigrations, check …) still run on a random
# key that lives for one process; serving refuses to start (kdcis/wsgi.py) and
# `check --deploy` reports kdcis.E001, so production can never run on it.
SECRET_KEY_IS_EPHEMERAL = not SECRET_KEY
if SECRET_KEY_IS_EPHEMERAL:
    import secrets

    SECRET_KEY = "insecure-development-key" if DEBUG else secrets.token_urlsafe(50)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "kdcis",
    "institutions",
    "accounts",
    "permissions",
]

MIDDLEWARE = [
    "kdcis.request_log.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "kdcis.input_guard.StripNulCharactersMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "kdcis.request_log.StaffIdleTimeoutMiddleware",
    "institutions.middleware.SupplementaryInfoMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "kdcis.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "kdcis.urls"
WSGI_APPLICATION = "kdcis.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "permissions.context_processors.menus",
            ],
        },
    },
]

# The embedded default: a SQLite file under var/ when no DATABASE_URL is given.
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Take SQLite's write lock when a transaction begins: a read-then-write transaction
    # (a row "locked" by select_for_update, which SQLite ignores) then waits for another
    # writer instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Connections are reused across requests; Django checks a reused one before the
    # request's first query and replaces it when the server dropped it.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind PgBouncer in transaction mode a transaction may run on any server connection,
    # so nothing may outlive one: no server-side cursors (QuerySet.iterator() would open
    # one). Scheduled jobs take leases (kdcis.leases), never session-level locks.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DB_TRANSACTION_POOLER", default=False)

AUTH_USER_MODEL = "accounts.User"
# ModelBackend whose per-request user load brings the institution and officer role along
# (kdcis/auth.py).
AUTHENTICATION_BACKENDS = ["kdcis.auth.PortalBackend"]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", "한국어")]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Third-party browser code comes from npm at setup time, never from a CDN.
    ("vendor/forge", BASE_DIR / "node_modules" / "node-forge" / "dist"),
]
STATICFILES_BACKEND = env.str("STATICFILES_STORAGE", default="") or (
    "django.contrib.staticfiles.storage.StaticFilesStorage"
    if DEBUG
    else "whitenoise.storage.CompressedManifestStaticFilesStorage"
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": STATICFILES_BACKEND},
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=DEBUG)
# Files browsers ask for at the site's root (/favicon.ico).
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
MEDIA_ROOT = env.str("MEDIA_ROOT", default="") or str(BASE_DIR / "var" / "media")
MEDIA_URL = "/media/"

# Sessions live in the database (Django's own backend) so app servers stay stateless; each
# login's session is recorded against its user (accounts.models.UserSession) so a withdrawal
# can delete them all.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_STAFF_IDLE_SECONDS = env.int("SESSION_STAFF_IDLE_SECONDS", default=30 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "kdcis.views.csrf_failure"

# Transport security: on unless explicitly turned off for local HTTP.
SECURE = env.bool("SECURE", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SECURE)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The client's address (rate limits, audit): REMOTE_ADDR with 0; behind N proxies that each
# append to X-Forwarded-For (nginx's $proxy_add_x_forwarded_for), the N-th entry from the
# right (kdcis/ratelimit.py client_ip). Count only proxies you run: one nginx is 1.
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", default=0)
# The setting it replaces trusted the left-most entry, which the client writes; a deployment
# still setting it is refused by `check --deploy` (kdcis/checks.py).
LEGACY_TRUSTED_PROXY_IP_HEADER = env.str("TRUSTED_PROXY_IP_HEADER", default="")
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

# Admins cannot read each other's TOTP secrets in the admin.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
OTP_TOTP_ISSUER = "질병보건통합관리시스템"

# Certificates (see accounts/certificates.py).
CERT_TRUST_ANCHORS = str(
    BASE_DIR / (env.str("CERT_TRUST_ANCHORS", default="") or "var/demo/ca.pem")
)  # relative paths are taken from the project folder
CERT_CRL_PATHS = [str(BASE_DIR / p) for p in env.list("CERT_CRL_PATHS", default=[]) if p]
CERT_ALLOW_CORPORATE = env.bool("CERT_ALLOW_CORPORATE", default=False)
CERT_POLICY_OIDS = env.dict("CERT_POLICY_OIDS", default={})
# Classes of certificate accepted (accounts.certificates.CLASSES): 개인 범용 and 용도제한용 by
# default; 'corporate' here (or CERT_ALLOW_CORPORATE) accepts corporate certificates.
CERT_ACCEPTED_CLASSES = env.list("CERT_ACCEPTED_CLASSES", default=["general", "limited"])
# GPKI/EPKI (public servants): for officers and helpdesk staff, and for applicants if set.
CERT_GOVERNMENT_FOR_STAFF = env.bool("CERT_GOVERNMENT_FOR_STAFF", default=True)
CERT_GOVERNMENT_FOR_APPLICANTS = env.bool("CERT_GOVERNMENT_FOR_APPLICANTS", default=False)
# Revocation: OCSP from each certificate's AIA (short timeout; good answers are kept in the
# database until their nextUpdate), and the CRLs refresh_crls stores in the database, fetched
# from every distribution point seen plus these (comma-separated http://, ldap:// URLs).
CERT_OCSP_ENABLED = env.bool("CERT_OCSP_ENABLED", default=True)
CERT_OCSP_TIMEOUT_SECONDS = env.float("CERT_OCSP_TIMEOUT_SECONDS", default=3.0)
CERT_CRL_URLS = env.list("CERT_CRL_URLS", default=[])
CERT_CRL_FETCH_TIMEOUT_SECONDS = env.float("CERT_CRL_FETCH_TIMEOUT_SECONDS", default=20.0)
CERT_CHALLENGE_TTL_SECONDS = env.int("CERT_CHALLENGE_TTL_SECONDS", default=300)

# SMS: the outbox is always used; the backend delivers it.
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
SMS_SENDER = env.str("SMS_SENDER", default="16441407")
SMS_MAX_ATTEMPTS = env.int("SMS_MAX_ATTEMPTS", default=8)
# Days a delivered or given-up SMS keeps its number and text (delivery questions are asked
# within days); afterwards the row keeps only its status and times.
SMS_RETENTION_DAYS = env.int("SMS_RETENTION_DAYS", default=7)
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=10.0)

# Phone verification and rate limits.
PHONE_CODE_TTL_SECONDS = env.int("PHONE_CODE_TTL_SECONDS", default=180)
PHONE_CODE_MAX_TRIES = env.int("PHONE_CODE_MAX_TRIES", default=5)
PHONE_CODE_RESEND_SECONDS = env.int("PHONE_CODE_RESEND_SECONDS", default=60)
PHONE_CODE_MAX_PER_NUMBER_PER_DAY = env.int("PHONE_CODE_MAX_PER_NUMBER_PER_DAY", default=5)
PHONE_CODE_MAX_PER_IP_PER_HOUR = env.int("PHONE_CODE_MAX_PER_IP_PER_HOUR", default=20)
PHONE_CODE_MAX_PER_SESSION_PER_DAY = env.int("PHONE_CODE_MAX_PER_SESSION_PER_DAY", default=8)
# Failed certificate logins per window: per certificate and per account they stop one
# person's guessing; the per-address ceiling is higher because one health center's NAT
# address hides many staff, whose valid certificates must still sign in.
LOGIN_MAX_FAILURES_PER_CERTIFICATE = env.int("LOGIN_MAX_FAILURES_PER_CERTIFICATE", default=10)
LOGIN_MAX_FAILURES_PER_ACCOUNT = env.int("LOGIN_MAX_FAILURES_PER_ACCOUNT", default=10)
LOGIN_MAX_FAILURES_PER_IP = env.int("LOGIN_MAX_FAILURES_PER_IP", default=100)
# Failed admin logins (password + OTP) per window, per username and per address.
ADMIN_LOGIN_MAX_FAILURES_PER_USER = env.int("ADMIN_LOGIN_MAX_FAILURES_PER_USER", default=5)
ADMIN_LOGIN_MAX_FAILURES_PER_IP = env.int("ADMIN_LOGIN_MAX_FAILURES_PER_IP", default=20)
ID_CHECK_MAX_PER_IP = env.int("ID_CHECK_MAX_PER_IP", default=120)
ID_CHECK_MAX_PER_SESSION = env.int("ID_CHECK_MAX_PER_SESSION", default=30)
ID_CHECK_WINDOW_SECONDS = env.int("ID_CHECK_WINDOW_SECONDS", default=600)
# Helpdesk user searches per agent per hour (masked results still add up to a person).
HELPDESK_SEARCHES_PER_HOUR = env.int("HELPDESK_SEARCHES_PER_HOUR", default=120)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)

# Permissions.
INACTIVITY_REVOCATION_MONTHS = env.int("INACTIVITY_REVOCATION_MONTHS", default=3)
INACTIVITY_WARN_DAYS = env.int("INACTIVITY_WARN_DAYS", default=14)
APPROVAL_DIGEST_OVERDUE_DAYS = env.int("APPROVAL_DIGEST_OVERDUE_DAYS", default=3)
CONSENT_NOTICE_VERSION = "2026-11"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per request; REQUEST_LOG_LEVEL=WARNING silences it (tests, benchmarks).
        "kdcis.requests": {"level": env.str("REQUEST_LOG_LEVEL", default="INFO")},
        # The request line replaces Django's own access warnings for 4xx.
        "django.request": {"level": "ERROR"},
    },
}
