"""Fixed-window rate limits kept in the database, so every app server shares them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kdcis.models import RateCounter


def _window_start(now: datetime, seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


def hit(key: str, *, limit: int, window_seconds: int, now: datetime | None = None) -> bool:
    """Count one event for `key`; return False when the limit for this window is exceeded."""
    now = now or timezone.now()
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
    now = now or timezone.now()
    row = RateCounter.objects.filter(
        key=key, window_start=_window_start(now, window_seconds)
    ).first()
    return row.count if row else 0


def purge_expired(*, older_than: timedelta = timedelta(days=2)) -> int:
    deleted, _ = RateCounter.objects.filter(window_start__lt=timezone.now() - older_than).delete()
    return deleted


def client_ip(request) -> str:
    """REMOTE_ADDR, or the configured proxy header when the portal runs behind one."""
    header = settings.TRUSTED_PROXY_IP_HEADER
    if header:
        value = request.META.get(header, "")
        if value:
            return value.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "") or "0.0.0.0"
