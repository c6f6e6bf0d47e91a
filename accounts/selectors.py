"""Reads about users that depend on who asks (the helpdesk)."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from accounts.models import User


def classify_query(q: str) -> str:
    """What the helpdesk typed: a mobile number, an institution number, an ID or a name."""
    digits = re.sub(r"[\s-]", "", q)
    if digits.isdigit() and digits.startswith("01") and len(digits) >= 10:
        return "mobile"
    if digits.isdigit():
        return "institution_number"
    if re.fullmatch(r"[a-z][a-z0-9]{1,19}", q):
        return "username"
    return "name"


def helpdesk_search(q: str) -> tuple[str, QuerySet[User]]:
    """Index-backed lookups: exact or prefix matches, never a scan of every user."""
    q = " ".join((q or "").split())[:60]
    base = User.objects.exclude(status=User.Status.WITHDRAWN).select_related(
        "institution", "institution__type")
    if not q:
        return "", base.none()
    kind = classify_query(q)
    digits = re.sub(r"[\s-]", "", q)
    if kind == "mobile":
        qs = base.filter(mobile=digits)
    elif kind == "institution_number":
        qs = base.filter(institution__number=digits)
    elif kind == "username":
        qs = base.filter(Q(username__startswith=q) | Q(name__startswith=q)
                         | Q(institution__name__startswith=q))
    else:
        qs = base.filter(Q(name__startswith=q) | Q(institution__name__startswith=q))
    return kind, qs.order_by("name", "id")
