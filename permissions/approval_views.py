"""The officers' approval queue: their own body's requests only."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from institutions.models import Region
from kdcis.ids import parse_id, safe_local_path
from kdcis.korean import particle
from kdcis.phones import mask_mobile
from kdcis.ratelimit import client_ip
from permissions.decorators import officer_required
from permissions.models import Grant, PermissionType
from permissions.selectors import approval_queue_for, approval_queue_page, grant_for_officer
from permissions.services import GrantError, grant_transfer, grants_decide

STATUS_CHOICES = [("requested", gettext_lazy("신청중")), ("approved", gettext_lazy("승인")),
                  ("rejected", gettext_lazy("반려")), ("cancelled", gettext_lazy("신청취소")),
                  ("revoked", gettext_lazy("미승인")), ("all", gettext_lazy("전체"))]


def _filters(request: HttpRequest) -> dict:
    get = request.GET
    status = get.get("status", "requested")
    if status not in dict(STATUS_CHOICES):
        status = "requested"
    return {
        "status": status,
        "permission": get.get("permission", "")[:40],
        "region": get.get("region", "")[:2],
        "date_from": parse_date(get.get("date_from", "") or "") if _is_date(get.get(
            "date_from")) else None,
        "date_to": parse_date(get.get("date_to", "") or "") if _is_date(get.get(
            "date_to")) else None,
        "q": get.get("q", "")[:60],
    }


def _approver_kind(officer) -> str:
    if officer.body.kind == officer.body.Kind.CENTRAL:
        return PermissionType.Approver.CENTRAL
    return PermissionType.Approver.HEALTH_CENTER


def _is_date(value) -> bool:
    try:
        return bool(value) and parse_date(value) is not None
    except ValueError:
        return False


def _off_jurisdiction(grant, body) -> bool:
    """Sent to a health center (`body`, the grant's) other than the one of the institution's
    address."""
    institution = grant.user.institution
    return bool(institution and institution.jurisdiction_id
                and body.kind == body.Kind.HEALTH_CENTER
                and institution.jurisdiction_id != body.pk)


def _rows(grants: list[dict], body) -> list[dict]:
    """What each queue row shows, as plain strings (the selector's values, no models)."""
    today = timezone.localdate()
    at_health_center = body.kind == body.Kind.HEALTH_CENTER
    labels = dict(Grant.Status.choices)
    rows = []
    for g in grants:
        local = timezone.localtime(g["requested_at"])
        home = g["user__institution__jurisdiction_id"]
        rows.append({
            "pk": g["pk"], "status": g["status"], "status_label": labels.get(g["status"], ""),
            "requested": g["status"] == Grant.Status.REQUESTED,
            "name": g["user__name"], "username": g["user__username"],
            "institution": g["user__institution__name"] or "",
            "institution_type": g["user__institution__type__name"] or "",
            "permission": g["permission_type__name"],
            "masked_mobile": mask_mobile(g["user__mobile"]),
            "requested_at": local.strftime("%Y-%m-%d %H:%M"),
            "waiting_days": (today - local.date()).days,
            "url": reverse("approval_detail", args=[g["pk"]]),
            # Sent to a health center other than the one of the institution's address.
            "off_jurisdiction": bool(at_health_center and home and home != body.pk),
        })
    return rows


@officer_required
@require_GET
def approval_queue(request: HttpRequest) -> HttpResponse:
    officer = request.user.officer
    filters = _filters(request)
    query_string = urlencode({k: (v.isoformat() if hasattr(v, "isoformat") else v)
                              for k, v in filters.items() if v})
    page = approval_queue_page(officer, after=request.GET.get("after", ""),
                               before=request.GET.get("before", ""), **filters)
    return render(request, "permissions/approvals.html", {
        "officer": officer, "queue": page, "rows": _rows(page.grants, officer.body),
        "ticked": set(request.session.pop(TICKED_SESSION_KEY, [])),
        "filters": filters, "status_choices": STATUS_CHOICES,
        "permission_types": PermissionType.objects.filter(approver=_approver_kind(officer)),
        "regions": Region.objects.all(),
        "query_string": query_string, "day_unit": _("일"),
    })


@officer_required
@require_GET
def approval_detail(request: HttpRequest, grant_id: int) -> HttpResponse:
    officer = request.user.officer
    grant = grant_for_officer(officer, grant_id)
    if grant is None:
        raise Http404
    history = (
        Grant.objects.filter(user_id=grant.user_id).exclude(pk=grant.pk)
        .select_related("permission_type", "body").order_by("-requested_at")
    )
    certificate = getattr(grant.user, "certificate", None)
    institution = grant.user.institution
    return render(request, "permissions/approval_detail.html", {
        "off_jurisdiction": _off_jurisdiction(grant, officer.body),
        "home": institution.jurisdiction if institution and institution.jurisdiction_id else None,
        "grant": grant, "history": history, "certificate": certificate,
        "masked_mobile": mask_mobile(grant.user.mobile),
        "waiting_days": (timezone.localdate() - timezone.localdate(grant.requested_at)).days,
    })


def _ids(request: HttpRequest) -> list[int]:
    ids = []
    for raw in request.POST.getlist("grant"):
        grant_id = parse_id(raw)
        if grant_id is None:
            raise Http404
        ids.append(grant_id)
    return list(dict.fromkeys(ids))


@officer_required
@require_POST
def approval_transfer(request: HttpRequest, grant_id: int) -> HttpResponse:
    """이관: one click sends an off-jurisdiction request to the institution's health center."""
    officer = request.user.officer
    if grant_for_officer(officer, grant_id) is None:
        raise Http404
    try:
        grant = grant_transfer(grant_id=grant_id, officer=officer, ip=client_ip(request))
    except GrantError as exc:
        messages.error(request, exc.message)
        return redirect("approval_detail", grant_id=grant_id)
    messages.success(request, _("%(body)s 이관했습니다 (신청 #%(id)d). 신청자에게 문자로 "
                                "알렸습니다.") % {"id": grant.pk,
                                                  "body": particle(grant.body.name, "으로/로")})
    return redirect("approvals")


TICKED_SESSION_KEY = "approvals_ticked"


@officer_required
@require_POST
def approval_decide(request: HttpRequest) -> HttpResponse:
    """Approve or reject one or many ticked requests; each is decided on its own."""
    officer = request.user.officer
    ids = _ids(request)
    action = request.POST.get("action")
    reason = (request.POST.get("reason") or "").strip()
    back = safe_local_path(request.POST.get("back"), "/approvals/")
    if not back.startswith("/approvals/"):
        back = "/approvals/"
    if action not in ("approve", "reject"):
        messages.error(request, _("승인 또는 반려를 선택하세요."))
        return redirect(back)
    if not ids:
        messages.error(request, _("처리할 신청을 선택하세요."))
        return redirect(back)
    # Another body's request in the list: the whole request is refused as not found.
    in_scope = set(approval_queue_for(officer, status="all").filter(pk__in=ids)
                   .values_list("pk", flat=True))
    if in_scope != set(ids):
        raise Http404
    if action == "reject" and not reason:
        messages.error(request, _("반려 사유를 입력하세요."))
        request.session[TICKED_SESSION_KEY] = ids  # the page comes back with them ticked
        return redirect(back)
    for decision in grants_decide(grant_ids=ids, approve=action == "approve", reason=reason,
                                  officer=officer, ip=client_ip(request)):
        grant = decision.grant
        if grant is None:
            messages.error(request, _("신청 #%(id)d: %(msg)s") % {"id": decision.grant_id,
                                                                 "msg": decision.error})
        else:
            messages.success(request, _("신청 #%(id)d (%(name)s, %(perm)s): %(result)s") % {
                "id": grant.pk, "name": grant.user.name, "perm": grant.permission_type.name,
                "result": grant.get_status_display()})
    return redirect(back)
