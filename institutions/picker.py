"""The approving-body picker's <option> list, built in Python.

Some 260 health centers, each with a label and a search text, are too many for a template
loop on every page that offers the choice (every variable of every option resolved one by
one): joined here from plain rows, the list costs about a millisecond.
"""

from __future__ import annotations

from html import escape
from itertools import groupby

from django.db.models import QuerySet
from django.utils.safestring import SafeString, mark_safe

from institutions.models import ApprovingBody

#: What each option needs, as one flat row per body (no model instances).
OPTION_FIELDS = ("pk", "name", "sigungu", "region__name")


def body_option_rows(bodies: QuerySet[ApprovingBody]) -> list[tuple]:
    """The rows `body_options` takes, in region order (one query)."""
    return list(bodies.order_by("region_id", "sigungu", "name").values_list(*OPTION_FIELDS))


def body_options(rows: list[tuple], selected) -> SafeString:
    """<optgroup>s per region of <option>s, `selected` (an id, or its text) marked. Every
    text is escaped here (plain string joins: format_html per option costs ten times more)."""
    selected = str(selected or "")
    parts = []
    for region, group in groupby(rows, key=lambda row: row[3]):
        region = region or ""
        if region:
            parts.append(f'<optgroup label="{escape(region)}">')
        for pk, name, sigungu, _region in group:
            label = f"{name} ({sigungu})" if sigungu and sigungu not in name else name
            mark = " selected" if str(pk) == selected else ""
            parts.append(f'<option value="{pk}"{mark} data-search="'
                         f'{escape(f"{region} {sigungu} {name}")}">{escape(label)}</option>')
        if region:
            parts.append("</optgroup>")
    return mark_safe("".join(parts))  # every text escaped above
