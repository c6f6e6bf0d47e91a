"""Reads of institutions and approving bodies."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from institutions.models import Institution, SupplementaryInfo


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


# ------------------------------------------------------------- 의료기관 부가정보


def supplementary_info_of(institution: Institution) -> SupplementaryInfo | None:
    """The institution's record with what the form shows, or None before the first save."""
    return (
        SupplementaryInfo.objects.select_related(
            "category", "jurisdiction", "jurisdiction__region", "information_system"
        )
        .filter(institution=institution)
        .first()
    )


def supplementary_complete(institution: Institution) -> bool:
    """True once the institution's supplementary info holds every required value."""
    return SupplementaryInfo.objects.filter(
        SupplementaryInfo.COMPLETE, institution=institution
    ).exists()


def needs_supplementary_info(user) -> bool:
    """A user of a medical institution whose supplementary info is missing or incomplete.

    One query (none for users without an institution): the institution's type and its
    record are checked together.
    """
    if not getattr(user, "is_authenticated", False) or not user.institution_id:
        return False
    complete = SupplementaryInfo.objects.filter(SupplementaryInfo.COMPLETE).values(
        "institution_id"
    )
    return (
        Institution.objects.filter(pk=user.institution_id, type__is_medical=True)
        .exclude(pk__in=complete)
        .exists()
    )


def institution_of(user) -> Institution | None:
    """The user's own institution with what the 부가정보 page shows (one query)."""
    if not getattr(user, "institution_id", None):
        return None
    return (
        Institution.objects.select_related("type", "region", "category", "jurisdiction")
        .filter(pk=user.institution_id)
        .first()
    )
