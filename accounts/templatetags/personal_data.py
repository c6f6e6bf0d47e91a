"""Filters of the 내 정보 열람 page, whose data is the JSON file's (ISO 8601 strings)."""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

register = template.Library()


@register.filter
def isotime(value: str | None) -> str:
    """'2026-12-02T14:03:11.5+09:00' → '2026-12-02 14:03' (Seoul); a date stays a date."""
    if not value:
        return "-"
    day = parse_date(value) if len(value) == 10 else None
    if day is not None:
        return day.isoformat()
    moment = parse_datetime(value)
    if moment is None or timezone.is_naive(moment):
        return value
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
