"""Reads that depend on who asks; scoping is built in so no view can forget it."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from institutions.models import ApprovingBody
from kdcis.ids import parse_id
from kdcis.korean import format_duration
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
    qs = (
        Grant.objects.filter(body_id=officer.body_id)
        # What the queue's rows show; the body is the officer's own and goes without.
        .select_related("user__institution__type", "permission_type")
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


QUEUE_PAGE_SIZE = 20
#: The queue's count stops here ('1,000건 이상'): counting further would cost a scan of the
#: whole queue on every page view.
QUEUE_COUNT_CAP = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"([0-9]{1,17})\.([0-9]{1,18})")


@dataclass(frozen=True)
class QueuePage:
    """One page of a queue in (requested_at, id) order, found from a position in it (a keyset
    cursor), so a page deep in a long queue costs what the first one does."""

    grants: list[dict]  # QUEUE_ROW_FIELDS of each request, oldest first
    count: int  # at most QUEUE_COUNT_CAP + 1
    count_capped: bool
    next_cursor: str | None
    previous_cursor: str | None


#: What a queue row shows, read as plain values: a page of 20 rows then costs no model
#: instances (four per row with the user, institution and type) and the template's
#: lookups are dictionary lookups.
QUEUE_ROW_FIELDS = (
    "pk", "status", "requested_at", "permission_type__name", "user__name", "user__username",
    "user__mobile", "user__institution__name", "user__institution__type__name",
    "user__institution__jurisdiction_id",
)


def queue_cursor(requested_at: datetime, pk: int) -> str:
    """A request's position in the queue, for a URL: microseconds since 1970 and the id."""
    return f"{(requested_at - _EPOCH) // timedelta(microseconds=1)}.{pk}"


def _cursor_of(row: dict) -> str:
    return queue_cursor(row["requested_at"], row["pk"])


def parse_queue_cursor(value) -> tuple[datetime, int] | None:
    match = _CURSOR.fullmatch(str(value or ""))
    pk = parse_id(match.group(2)) if match else None
    if pk is None:
        return None
    return _EPOCH + timedelta(microseconds=int(match.group(1))), pk


def approval_queue_page(officer, *, after: str = "", before: str = "",
                        size: int = QUEUE_PAGE_SIZE, **filters) -> QueuePage:
    """The page of the officer's queue (filtered as `approval_queue_for`) after or before a
    cursor, or the first page. Two queries whatever the queue's length: the page (one row
    more tells whether another follows) and a count capped at QUEUE_COUNT_CAP."""
    qs = approval_queue_for(officer, **filters)
    rows_qs = qs.values(*QUEUE_ROW_FIELDS)
    start, end = parse_queue_cursor(after), parse_queue_cursor(before)
    if end is not None and start is None:
        moment, pk = end
        rows = list(rows_qs.filter(requested_at__lte=moment)  # lets the index scan start there
                    .filter(Q(requested_at__lt=moment) | Q(requested_at=moment, pk__lt=pk))
                    .order_by("-requested_at", "-id")[:size + 1])
        grants = rows[:size][::-1]
        previous = _cursor_of(grants[0]) if len(rows) > size else None
        following = _cursor_of(grants[-1]) if grants else None
    else:
        page_qs = rows_qs
        if start is not None:
            moment, pk = start
            page_qs = (rows_qs.filter(requested_at__gte=moment)
                       .filter(Q(requested_at__gt=moment) | Q(requested_at=moment, pk__gt=pk)))
        rows = list(page_qs[:size + 1])
        grants = rows[:size]
        following = _cursor_of(grants[-1]) if len(rows) > size else None
        previous = _cursor_of(grants[0]) if start is not None and grants else None
    count = qs.order_by().values("pk")[:QUEUE_COUNT_CAP + 1].count()
    return QueuePage(grants=grants, count=min(count, QUEUE_COUNT_CAP),
                     count_capped=count > QUEUE_COUNT_CAP, next_cursor=following,
                     previous_cursor=previous)


def grant_for_officer(officer, grant_id: int) -> Grant | None:
    return (
        approval_queue_for(officer, status="all")
        .select_related("user__certificate", "decided_by")
        .filter(pk=grant_id)
        .first()
    )


def waiting_summary(officer, *, overdue_days: int, now=None) -> dict:
    """What waits for the officer's body: how many, how many for longer than
    `overdue_days`, and the oldest request's Seoul date with its age in days. One query."""
    now = now or timezone.now()
    row = Grant.objects.filter(body_id=officer.body_id, status=Grant.Status.REQUESTED).aggregate(
        waiting=Count("id"), oldest=Min("requested_at"),
        overdue=Count("id", filter=Q(requested_at__lt=now - timezone.timedelta(days=overdue_days))),
    )
    oldest = row["oldest"]
    row["oldest_days"] = ((timezone.localdate(now) - timezone.localdate(oldest)).days
                          if oldest else None)
    return row


# ------------------------------------------------------------- the national admins' reports

#: The reports look back this many days.
REPORT_DAYS = 30


def pending_by_body() -> list[dict]:
    """Requests waiting for a decision, per approving body, most waiting first."""
    rows = list(
        Grant.objects.filter(status=Grant.Status.REQUESTED)
        .values("body_id")
        .annotate(count=Count("id"), oldest=Min("requested_at"))
    )
    bodies = ApprovingBody.objects.select_related("region").in_bulk([r["body_id"] for r in rows])
    result = [{"body": bodies[r["body_id"]], "count": r["count"], "oldest": r["oldest"]}
              for r in rows]
    result.sort(key=lambda r: (-r["count"], r["oldest"]))
    return result


def decision_times_by_body(*, now: datetime | None = None, days: int = REPORT_DAYS) -> list[dict]:
    """Median time from request to decision per body, for decisions of the last `days` days.

    A decision is an approval or a rejection (a later revocation keeps its approval time);
    an applicant's own cancellation is not one. The median is computed in Python, so the same
    code runs on SQLite and PostgreSQL.
    """
    now = now or timezone.now()
    decided = Grant.objects.filter(
        status__in=[Grant.Status.APPROVED, Grant.Status.REJECTED, Grant.Status.REVOKED],
        decided_at__gte=now - timedelta(days=days), decided_at__lte=now,
    ).values_list("body_id", "status", "requested_at", "decided_at")
    durations: dict[int, list[float]] = defaultdict(list)
    rejected: dict[int, int] = defaultdict(int)
    for body_id, status, requested_at, decided_at in decided.iterator(chunk_size=5000):
        durations[body_id].append(max((decided_at - requested_at).total_seconds(), 0.0))
        if status == Grant.Status.REJECTED:
            rejected[body_id] += 1
    bodies = ApprovingBody.objects.select_related("region").in_bulk(list(durations))
    result = []
    for body_id, values in durations.items():
        median = timedelta(seconds=statistics.median(values))
        result.append({
            "body": bodies[body_id], "count": len(values), "rejected": rejected[body_id],
            "approved": len(values) - rejected[body_id], "median": median,
            "median_display": format_duration(median),
        })
    result.sort(key=lambda r: (-r["median"], str(r["body"])))
    return result
