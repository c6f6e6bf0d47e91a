"""Fixed-window rate limits kept in the database, so every app server shares them.

A limit's key names what is counted, often a person's value (an address, a certificate, a
phone number): the table keeps only the key's namespace and a keyed digest of the key
(`stored_key`), so a withdrawal leaves nothing behind in it and the table names no one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kdcis.models import RateCounter


def _window_start(now: datetime, seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


def _now() -> datetime:
    """The clock of every limit here (tests pin it instead of waiting)."""
    return timezone.now()


def stored_key(key: str) -> str:
    """What the table stores for `key`: 'namespace:' and an HMAC-SHA-256 of the whole key."""
    namespace = key.split(":", 1)[0][:60]
    digest = hmac.new(settings.SECRET_KEY.encode(), b"ratelimit\x1e" + key.encode(),
                      hashlib.sha256).hexdigest()[:40]
    return f"{namespace}:{digest}"


def hit(key: str, *, limit: int, window_seconds: int, now: datetime | None = None) -> bool:
    """Count one event for `key`; return False when the limit for this window is exceeded."""
    now = now or _now()
    key = stored_key(key)
    start = _window_start(now, window_seconds)
    with transaction.atomic():
        updated = RateCounter.objects.filter(key=key, window_start=start).update(
            count=F("count") + 1
        )
        if not updated:
            try:
                with transaction.atomic():
                    RateCounter.objects.create(key=key, window_start=start, count=1)
            except IntegrityError:
                RateCounter.objects.filter(key=key, window_start=start).update(
                    count=F("count") + 1
                )
        count = RateCounter.objects.get(key=key, window_start=start).count
    return count <= limit


def count(key: str, *, window_seconds: int, now: datetime | None = None) -> int:
    now = now or _now()
    row = RateCounter.objects.filter(
        key=stored_key(key), window_start=_window_start(now, window_seconds)
    ).first()
    return row.count if row else 0


def over_limit(limits: list[tuple[str, int]], *, window_seconds: int,
               now: datetime | None = None) -> bool:
    """Whether any (key, limit) pair has reached its limit in this window (a check only)."""
    now = now or _now()
    return any(count(key, window_seconds=window_seconds, now=now) >= limit
               for key, limit in limits)


def record(keys: list[str], *, window_seconds: int, now: datetime | None = None) -> None:
    """Count one event for each key (failures counted against several limits at once)."""
    now = now or _now()
    for key in keys:
        hit(key, limit=10**9, window_seconds=window_seconds, now=now)


def purge_expired(*, older_than: timedelta = timedelta(days=2)) -> int:
    deleted, _ = RateCounter.objects.filter(window_start__lt=timezone.now() - older_than).delete()
    return deleted


def _valid_ip(value: str) -> str | None:
    """`value` as a normalised IP address, or None when it is not one."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_HOPS proxies the address
    the outermost trusted proxy appended to X-Forwarded-For.

    The header is a list the client starts and each proxy appends to, so only entries counted
    from the right are trustworthy: with N proxies in front of the portal the N-th entry from
    the right is the client as the first proxy saw it. Anything the client wrote further left
    is ignored. A header with fewer entries than hops (a request that did not come through
    every proxy) or an entry that is not an IP address falls back to REMOTE_ADDR; the result
    is always a valid address, so it can go into a GenericIPAddressField.
    """
    remote = _valid_ip(request.META.get("REMOTE_ADDR", "") or "") or "0.0.0.0"
    hops = settings.TRUSTED_PROXY_HOPS
    if hops <= 0:
        return remote
    entries = [e for e in (request.META.get("HTTP_X_FORWARDED_FOR", "") or "").split(",")]
    entries = [e.strip() for e in entries if e.strip()]
    if len(entries) < hops:
        return remote
    return _valid_ip(entries[-hops]) or remote
