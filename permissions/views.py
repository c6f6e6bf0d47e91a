"""권한 부가정보, the main screen, the menu areas and the officers' approval queue."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from institutions.models import ApprovingBody
from kdcis.ids import parse_id, safe_local_path
from kdcis.korean import particle
from kdcis.ratelimit import client_ip
from permissions.decorators import area_required
from permissions.models import Grant, PermissionType
from permissions.picker import body_options
from permissions.selectors import (
    approved_areas,
    default_body_for,
    grants_of,
    requestable_types,
    waiting_summary,
)
from permissions.services import (
    GrantError,
    GrantNotFound,
    grant_cancel,
    grant_change_body,
    grant_request,
    grant_usage_record,
)

FILTERS = {
    "approved": gettext_lazy("승인"),
    "requestable": gettext_lazy("신청가능"),
    "requested": gettext_lazy("신청중"),
    "rejected": gettext_lazy("반려"),
    "revoked": gettext_lazy("미승인"),
}


def _request_rows(user) -> list[dict]:
    rows = []
    for ptype in requestable_types(user):
        default = default_body_for(ptype, user.institution)
        if default is not None and _own_body_id(user) == default.pk:
            default = None  # staff ask another body: their own never decides their request
        rows.append({"type": ptype, "checked": False, "default": default,
                     "options": body_options(ptype, default.pk if default else None)})
    return rows


def _own_body_id(user) -> int | None:
    officer = getattr(user, "officer", None) if hasattr(user, "officer") else None
    return officer.body_id if officer else None


def _status_rows(user, grants: list[Grant]) -> list[dict]:
    """Each request of a pending applicant with what they can do next: cancel or move a
    request nobody decided yet, ask again after a rejection or an automatic revocation."""
    requestable = {t.pk for t in requestable_types(user)}
    latest: dict[int, Grant] = {}
    for grant in grants:  # newest first within a type
        latest.setdefault(grant.permission_type_id, grant)
    rows = []
    for grant in grants:
        if grant.status == Grant.Status.CANCELLED:
            continue
        row = {"grant": grant, "again": None, "move": None}
        is_latest = latest[grant.permission_type_id].pk == grant.pk
        if grant.status == Grant.Status.REQUESTED:
            row["move"] = body_options(grant.permission_type, grant.body_id)
        elif is_latest and grant.permission_type_id in requestable:
            row["again"] = body_options(grant.permission_type, grant.body_id)
        rows.append(row)
    return rows


def main_screen(request: HttpRequest) -> HttpResponse:
    """Each person's home: officers their queue, helpdesk agents their search, a pending
    applicant the state of each request with its next step, users without any approved
    permission the requestable ones with the request form directly (seed 3-2)."""
    user = request.user
    if hasattr(user, "officer"):
        return officer_home(request)
    if user.is_helpdesk:
        return redirect("helpdesk")
    grants = list(grants_of(user))
    if user.status == User.Status.PENDING:
        rows = _status_rows(user, grants)
        taken = {g.permission_type_id for g in grants if g.status != Grant.Status.CANCELLED}
        return render(request, "permissions/pending.html", {
            "rows": rows,
            "waiting": any(g.status == Grant.Status.REQUESTED for g in grants),
            "request_rows": [r for r in _request_rows(user) if r["type"].pk not in taken],
        })
    areas = approved_areas(user)
    context = {
        "grants": [g for g in grants if g.status == Grant.Status.APPROVED],
        "open_requests": [g for g in grants if g.status == Grant.Status.REQUESTED],
        "no_permission": not areas,
        "rows": _request_rows(user) if not areas else [],
    }
    return render(request, "permissions/main.html", context)


def officer_home(request: HttpRequest) -> HttpResponse:
    """An officer's home: what waits for their body, how long, and the way to the queue."""
    from django.conf import settings

    officer = request.user.officer
    summary = waiting_summary(officer, overdue_days=settings.APPROVAL_DIGEST_OVERDUE_DAYS)
    grants = list(grants_of(request.user))
    return render(request, "permissions/officer_home.html", {
        "officer": officer, "summary": summary,
        "overdue_days": settings.APPROVAL_DIGEST_OVERDUE_DAYS,
        "own_grants": [g for g in grants if g.status in Grant.OPEN_STATUSES],
        "rows": _request_rows(request.user),
    })


@login_required
@require_GET
def permissions_page(request: HttpRequest) -> HttpResponse:
    """권한 부가정보: approved by default; '조회 조건' shows the other states."""
    user = request.user
    status = request.GET.get("status", "approved")
    if status not in FILTERS:
        status = "approved"
    rows = []
    grants = []
    if status == "requestable":
        rows = _request_rows(user)
    else:
        grants = list(grants_of(user).filter(status=status))
    return render(request, "permissions/permissions.html", {
        "filters": FILTERS, "status": status, "rows": rows, "grants": grants,
    })


@login_required
@require_POST
def permission_request(request: HttpRequest) -> HttpResponse:
    """'신청' for one requestable permission, then a notice to call the approving body."""
    user = request.user
    if user.status not in (User.Status.ACTIVE, User.Status.PENDING):
        raise Http404
    ptype = PermissionType.objects.filter(code=request.POST.get("permission")).first()
    if ptype is None:
        messages.error(request, _("신청할 권한을 선택하세요."))
        return redirect(_back(request))
    body = _posted_body(request, ptype)
    if body is None:
        messages.error(request, _("'%(perm)s' 권한의 승인기관을 선택하세요.") % {"perm": ptype.name})
        return redirect(_back(request))
    try:
        grant = grant_request(user=user, permission_type=ptype, body=body, ip=client_ip(request))
    except GrantError as exc:
        messages.error(request, exc.message)
        return redirect(_back(request))
    messages.success(request, _(
        "'%(perm)s' 권한을 신청했습니다. 빠른 처리를 위해 승인기관(%(body)s, %(phone)s)에 "
        "연락하세요.") % {"perm": ptype.name, "body": grant.body.name,
                         "phone": grant.body.contact_phone})
    return redirect(_back(request))


def _posted_body(request: HttpRequest, ptype: PermissionType) -> ApprovingBody | None:
    """The approving body picked for `ptype` in the posted form (its picker's field)."""
    body_pk = parse_id(request.POST.get(f"body_{ptype.code}") or "")
    return ApprovingBody.objects.filter(pk=body_pk).first() if body_pk else None


def _back(request: HttpRequest) -> str:
    from django.urls import reverse

    return safe_local_path(request.POST.get("next"), reverse("home"))


@login_required
@require_POST
def permission_cancel(request: HttpRequest, grant_id: int) -> HttpResponse:
    try:
        grant = grant_cancel(grant_id=grant_id, user=request.user, ip=client_ip(request))
    except GrantNotFound:
        raise Http404 from None
    except GrantError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("'%(perm)s' 권한 신청을 취소했습니다.")
                         % {"perm": grant.permission_type.name})
    return redirect(_back(request))


@login_required
@require_POST
def permission_change_body(request: HttpRequest, grant_id: int) -> HttpResponse:
    """'승인기관 변경' for a request nobody decided yet."""
    grant = Grant.objects.filter(pk=grant_id, user=request.user).select_related(
        "permission_type").first()
    if grant is None:
        raise Http404
    body = _posted_body(request, grant.permission_type)
    if body is None:
        messages.error(request, _("변경할 승인기관을 선택하세요."))
        return redirect(_back(request))
    try:
        grant = grant_change_body(grant_id=grant.pk, user=request.user, body=body,
                                  ip=client_ip(request))
    except GrantNotFound:
        raise Http404 from None
    except GrantError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("'%(perm)s' 신청의 승인기관을 %(body)s 변경했습니다.")
                         % {"perm": grant.permission_type.name,
                            "body": particle(grant.body.name, "으로/로")})
    return redirect(_back(request))


def _record_use(request: HttpRequest, area: str) -> None:
    """One write per grant per day at most: the session remembers today's mark."""
    key = f"used:{area}"
    today = timezone.localdate().isoformat()
    if request.session.get(key) != today:
        grant_usage_record(user=request.user, area=area)
        request.session[key] = today


@require_GET
@area_required("vaccination")
def vaccination_home(request: HttpRequest) -> HttpResponse:
    _record_use(request, "vaccination")
    return render(request, "permissions/vaccination_home.html")


@require_GET
@area_required("education")
def education_home(request: HttpRequest) -> HttpResponse:
    _record_use(request, "education")
    return render(request, "permissions/education_home.html")

