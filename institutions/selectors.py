"""Reads of institutions and approving bodies."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from institutions.models import ApprovingBody, Institution


def search_institutions(*, query: str, type_id: int | None = None) -> QuerySet[Institution]:
    """By name (contains) or institution number (prefix), optionally of one type."""
    qs = Institution.objects.select_related("type", "region", "jurisdiction")
    if type_id:
        qs = qs.filter(type_id=type_id)
    query = query.strip()
    if query.isdigit():
        qs = qs.filter(Q(number__startswith=query) | Q(name__icontains=query))
    elif query:
        qs = qs.filter(name__icontains=query)
    else:
        return qs.none()
    return qs.order_by("name", "number")


def central_body() -> ApprovingBody | None:
    return ApprovingBody.objects.filter(kind=ApprovingBody.Kind.CENTRAL, is_active=True).first()
