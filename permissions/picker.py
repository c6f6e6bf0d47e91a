"""The approving-body picker's <option> list, rendered once and reused.

Some 260 health centers in a <select> cost a query and a few milliseconds of template work
on every signup and 권한 부가정보 page; the list changes only when an admin edits a body, so
each process keeps the rendered options for a short while.
"""

from __future__ import annotations

import time
from itertools import groupby

from django.db.models import Count, Max
from django.db.models.signals import post_delete, post_save
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from institutions.models import ApprovingBody
from permissions.models import PermissionType
from permissions.selectors import bodies_for

TTL_SECONDS = 300
_cache: dict[str, tuple[float, str]] = {}


def _render(permission_type: PermissionType) -> str:
    bodies = bodies_for(permission_type).order_by("region_id", "sigungu", "name")
    parts = []
    for region, group in groupby(bodies, key=lambda b: b.region):
        options = format_html_join("", '<option value="{}" data-search="{} {} {}">{}{}</option>', (
            (b.pk, region.name if region else "", b.sigungu, b.name, b.name,
             f" ({b.sigungu})" if b.sigungu and b.sigungu not in b.name else "")
            for b in group
        ))
        parts.append(format_html('<optgroup label="{}">{}</optgroup>', region.name, options)
                     if region else options)
    return "".join(parts)


def body_options(permission_type: PermissionType, selected: int | None) -> SafeString:
    """The options with `selected` marked. One cheap aggregate query checks that the cached
    list still matches the table (a body added or removed); edits expire with the TTL and
    are dropped at once in the process that saves them (signals below)."""
    now = time.monotonic()
    shape = bodies_for(permission_type).aggregate(n=Count("id"), top=Max("id"))
    key = f"{permission_type.code}:{shape['n']}:{shape['top']}"
    hit = _cache.get(key)
    if hit is None or hit[0] < now:
        hit = (now + TTL_SECONDS, _render(permission_type))
        for stale in [k for k in _cache if k.startswith(f"{permission_type.code}:")]:
            del _cache[stale]
        _cache[key] = hit
    html = hit[1]
    if selected:
        marker = f'<option value="{int(selected)}" '
        html = html.replace(marker, f'{marker}selected ', 1)
    return mark_safe(html)  # built from escaped parts above


def clear_cache(**_kwargs) -> None:
    _cache.clear()


post_save.connect(clear_cache, sender=ApprovingBody, dispatch_uid="picker-clear-save")
post_delete.connect(clear_cache, sender=ApprovingBody, dispatch_uid="picker-clear-delete")
