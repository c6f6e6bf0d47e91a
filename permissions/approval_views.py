"""The officers' approval queue: their own body's requests only."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from institutions.models import Region
from kdcis.korean import particle
from kdcis.phones import mask_mobile
from kdcis.ratelimit import client_ip
from permissions.decorators import officer_required
from permissions.forms import STATUS_CHOICES, DecisionForm, QueueFilterForm
from permissions.models import Grant, PermissionType
from permissions.selectors import approval_queue_for, approval_queue_page, grant_for_officer
from permissions.services import GrantError, grant_transfer, grants_decide


def _approver_kind(officer) -> str:
    if officer.body.kind == officer.body.Kind.CENTRAL:
        return PermissionType.Approver.CENTRAL
    return PermissionType.Approver.HEALTH_CENTER


def _off_jurisdiction(home_id: int | None, body) -> bool:
    """Sent to a health center (`body`, the grant's) other than `home_id`, the health center
    of the institution's address."""
    return bool(home_id and body.kind == body.Kind.HEALTH_CENTER and home_id != body.pk)


def _rows(grants: list[dict], body) -> list[dict]:
    """What each queue row shows, as plain strings (the selector's values, no models)."""
    today = timezone.localdate()
    labels = dict(Grant.Status.choices)
    rows = []
    for g in grants:
        local = timezone.localtime(g["requested_at"])
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
            "off_jurisdiction": _off_jurisdiction(g["user__institution__jurisdiction_id"], body),
        })
    return rows


@officer_required
@require_GET
def approval_queue(request: HttpRequest) -> HttpResponse:
    officer = request.user.officer
    form = QueueFilterForm(request.GET)
    filters = form.filters()
    page = approval_queue_page(officer, **form.cursor(), **filters)
    return render(request, "permissions/approvals.html", {
        "officer": officer, "queue": page, "rows": _rows(page.grants, officer.body),
        "ticked": set(request.session.pop(TICKED_SESSION_KEY, [])),
        "filters": filters, "status_choices": STATUS_CHOICES,
        "permission_types": PermissionType.objects.filter(approver=_approver_kind(officer)),
        "regions": Region.objects.all(),
        "query_string": form.query_string(), "day_unit": _("일"),
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
        "off_jurisdiction": _off_jurisdiction(
            institution.jurisdiction_id if institution else None, officer.body),
        "home": institution.jurisdiction if institution and institution.jurisdiction_id else None,
        "grant": grant, "history": history, "certificate": certificate,
        "masked_mobile": mask_mobile(grant.user.mobile),
        "waiting_days": (timezone.localdate() - timezone.localdate(grant.requested_at)).days,
    })


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
    form = DecisionForm(request.POST)
    valid = form.is_valid()
    # Another body's request in the list, or no id at all: the whole post is not found.
    in_scope = set(approval_queue_for(officer, status="all").filter(pk__in=form.grant_ids)
                   .values_list("pk", flat=True))
    if form.tampered or in_scope != set(form.grant_ids):
        raise Http404
    if not valid:
        messages.error(request, form.first_error())
        if "reason" in form.errors:  # the page comes back with them ticked
            request.session[TICKED_SESSION_KEY] = form.grant_ids
        return redirect(form.back_path())
    decisions = grants_decide(grant_ids=form.grant_ids, reason=form.cleaned_data["reason"],
                              approve=form.cleaned_data["action"] == "approve",
                              officer=officer, ip=client_ip(request))
    for decision in decisions:
        _report_decision(request, decision)
    return redirect(form.back_path())


def _report_decision(request: HttpRequest, decision) -> None:
    grant = decision.grant
    if grant is None:
        messages.error(request, _("신청 #%(id)d: %(msg)s") % {"id": decision.grant_id,
                                                             "msg": decision.error})
    else:
        messages.success(request, _("신청 #%(id)d (%(name)s, %(perm)s): %(result)s") % {
            "id": grant.pk, "name": grant.user.name, "perm": grant.permission_type.name,
            "result": grant.get_status_display()})
