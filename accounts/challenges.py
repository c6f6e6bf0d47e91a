"""One-time challenges bound to the session, for the browser to sign with the certificate.

``issue_challenge`` puts a fresh random text in the session under a key per purpose
(``login``, ``signup``, ``rebind``...); ``consume_challenge`` takes it out again (so it works
once) and returns the exact bytes the signature must cover.

A few challenges per purpose are kept (the newest :data:`MAX_PENDING`) so that two tabs of
the same session, each showing its own challenge, both work; each one is still single-use
and expires after ``CERT_CHALLENGE_TTL_SECONDS`` (default 300).

The session only holds JSON-friendly values: ``[[value, issued_at_timestamp], ...]``.

The login page is different: every visitor without a cookie sees it, and a challenge in the
session would store a session row per visit. ``issue_login_challenge`` hands out a signed,
expiring token instead (nothing is stored); ``consume_login_challenge`` checks its signature
and age and records its one use in the database (``UsedLoginChallenge``), so a replayed
token is refused. The token itself is what the browser signs.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import MutableMapping
from typing import Any

from django.utils import timezone

from accounts.certificates import CertificateError

__all__ = ["DEFAULT_TTL_SECONDS", "consume_challenge", "consume_login_challenge",
           "issue_challenge", "issue_login_challenge"]

DEFAULT_TTL_SECONDS = 300
MAX_PENDING = 5
CHALLENGE_BYTES = 32  # 256 random bits
SESSION_KEY_PREFIX = "cert_challenge:"
# A challenge "issued" further in the future than this (clock trouble) is not accepted.
_CLOCK_SKEW_SECONDS = 5


def _ttl_seconds() -> int:
    from django.conf import settings

    if not settings.configured:
        return DEFAULT_TTL_SECONDS
    return int(getattr(settings, "CERT_CHALLENGE_TTL_SECONDS", DEFAULT_TTL_SECONDS))


def _session_key(purpose: str) -> str:
    if not purpose or not isinstance(purpose, str):
        raise ValueError("a challenge needs a purpose, e.g. 'login'")
    return SESSION_KEY_PREFIX + purpose


def _pending(session: MutableMapping[str, Any], key: str) -> list[list]:
    entries = session.get(key)
    if not isinstance(entries, list):
        return []
    return [
        entry for entry in entries
        if isinstance(entry, list | tuple) and len(entry) == 2
        and isinstance(entry[0], str) and isinstance(entry[1], int | float)
    ]


def issue_challenge(session: MutableMapping[str, Any], purpose: str) -> str:
    """A fresh challenge (URL-safe base64 text of 256 random bits) stored in ``session`` for
    ``purpose``. Put it in the page; the browser signs its UTF-8 bytes."""
    key = _session_key(purpose)
    now = timezone.now().timestamp()
    ttl = _ttl_seconds()
    value = secrets.token_urlsafe(CHALLENGE_BYTES)
    entries = [entry for entry in _pending(session, key) if now - entry[1] <= ttl]
    entries.append([value, now])
    # Assigning a new list (rather than mutating the stored one) marks a Django session as
    # modified.
    session[key] = entries[-MAX_PENDING:]
    return value


def consume_challenge(session: MutableMapping[str, Any], purpose: str, value: str) -> bytes:
    """Take the challenge ``value`` of ``purpose`` out of the session and return the bytes
    that must have been signed (``value.encode()``).

    Raises :class:`CertificateError` ``challenge_invalid`` when it was never issued for this
    purpose in this session or was already used, ``challenge_expired`` when it is older than
    ``CERT_CHALLENGE_TTL_SECONDS``.
    """
    key = _session_key(purpose)
    if not isinstance(value, str) or not value:
        raise CertificateError("challenge_invalid")
    entries = _pending(session, key)
    candidate = value.encode("utf-8")
    found = None
    for entry in entries:
        # Constant-time comparison; compare every entry so timing does not tell which matched.
        if hmac.compare_digest(entry[0].encode("utf-8"), candidate):
            found = entry
    if found is None:
        raise CertificateError("challenge_invalid")

    remaining = [entry for entry in entries if entry is not found]
    if remaining:
        session[key] = remaining
    else:
        session.pop(key, None)

    age = timezone.now().timestamp() - found[1]
    if age > _ttl_seconds():
        raise CertificateError("challenge_expired")
    if age < -_CLOCK_SKEW_SECONDS:
        raise CertificateError("challenge_invalid")
    return found[0].encode("utf-8")


LOGIN_SALT = "kdcis.accounts.login-challenge"
_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")


def issue_login_challenge() -> str:
    """A login challenge that needs no session: a signed token (256 random bits and the time
    it was issued). Put it in the page; the browser signs its UTF-8 bytes."""
    from django.core import signing

    return signing.dumps(secrets.token_urlsafe(CHALLENGE_BYTES), salt=LOGIN_SALT)


def consume_login_challenge(value: str) -> bytes:
    """Check a posted login token and record its use; returns the bytes that must have been
    signed. Raises :class:`CertificateError` ``challenge_invalid`` for a token this server
    did not sign or one used before, ``challenge_expired`` for one older than
    ``CERT_CHALLENGE_TTL_SECONDS``."""
    from django.core import signing

    from accounts.services import login_challenge_use

    if not isinstance(value, str) or not value:
        raise CertificateError("challenge_invalid")
    try:
        nonce = signing.loads(value, salt=LOGIN_SALT, max_age=_ttl_seconds())
    except signing.SignatureExpired:
        raise CertificateError("challenge_expired") from None
    except signing.BadSignature:
        raise CertificateError("challenge_invalid") from None
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise CertificateError("challenge_invalid")
    if not login_challenge_use(nonce=nonce):
        raise CertificateError("challenge_invalid")
    return value.encode("utf-8")
