"""Reads that depend on who asks; scoping is built in so no view can forget it."""

from __future__ import annotations

from django.db.models import QuerySet

from institutions.models import ApprovingBody
from permissions.models import Grant, PermissionType


def approved_areas(user) -> set[str]:
    """Menu areas the user may open now: one query per user object, kept on it (the layout's
    menus and the area checks of a request share it)."""
    cached = getattr(user, "_approved_areas", None)
    if cached is None:
        cached = set(
            Grant.objects.filter(user=user, status=Grant.Status.APPROVED)
            .exclude(permission_type__menu_area="")
            .values_list("permission_type__menu_area", flat=True)
        )
        user._approved_areas = cached
    return cached


def grants_of(user) -> QuerySet[Grant]:
    return (
        Grant.objects.filter(user=user)
        .select_related("permission_type", "body", "body__region")
        .order_by("permission_type__sort", "-requested_at")
    )


def requestable_types(user) -> list[PermissionType]:
    """Types with no open (requested or approved) grant: never held, rejected or revoked."""
    open_ids = Grant.objects.filter(user=user, status__in=Grant.OPEN_STATUSES).values(
        "permission_type_id"
    )
    return list(PermissionType.objects.exclude(pk__in=open_ids))


def default_body_for(permission_type: PermissionType, institution) -> ApprovingBody | None:
    """The approving body to pre-select: the jurisdiction's health center, or central."""
    if permission_type.approver == PermissionType.Approver.CENTRAL:
        return ApprovingBody.objects.filter(
            kind=ApprovingBody.Kind.CENTRAL, is_active=True
        ).first()
    if institution is not None and institution.jurisdiction_id:
        return institution.jurisdiction
    return None


def bodies_for(permission_type: PermissionType) -> QuerySet[ApprovingBody]:
    kind = (
        ApprovingBody.Kind.CENTRAL
        if permission_type.approver == PermissionType.Approver.CENTRAL
        else ApprovingBody.Kind.HEALTH_CENTER
    )
    return ApprovingBody.objects.filter(kind=kind, is_active=True).select_related("region")


def approval_queue_for(officer, *, status: str = "requested", permission: str = "",
                       region: str = "", date_from=None, date_to=None,
                       q: str = "") -> QuerySet[Grant]:
    """The requests addressed to the officer's own body, oldest first, filtered.

    The body scope is applied here, so no view can forget it.
    """
    from django.db.models import Q

    qs = (
        Grant.objects.filter(body_id=officer.body_id)
        .select_related(
            "user", "user__institution", "user__institution__type",
            "user__institution__region", "permission_type", "body",
        )
        .order_by("requested_at", "id")
    )
    if status and status != "all":
        qs = qs.filter(status=status)
    if permission:
        qs = qs.filter(permission_type__code=permission)
    if region:
        qs = qs.filter(user__institution__region_id=region)
    if date_from:
        qs = qs.filter(requested_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(requested_at__date__lte=date_to)
    q = (q or "").strip()
    if q:
        qs = qs.filter(
            Q(user__name__icontains=q) | Q(user__username__icontains=q)
            | Q(user__institution__name__icontains=q) | Q(user__institution__number=q)
        )
    return qs


def grant_for_officer(officer, grant_id: int) -> Grant | None:
    return (
        approval_queue_for(officer, status="all")
        .select_related("user__certificate", "decided_by")
        .filter(pk=grant_id)
        .first()
    )
