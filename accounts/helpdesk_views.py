"""Helpdesk (1644-1407): find users, see their history, reveal a field with a reason."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from accounts.selectors import helpdesk_search
from accounts.services import (
    HelpdeskError,
    helpdesk_reveal,
    helpdesk_search_record,
    helpdesk_view_record,
)
from accounts.timeline import timeline_for
from institutions.models import Institution
from kdcis import ratelimit
from kdcis.models import AuditEvent
from kdcis.phones import format_phone, mask_mobile, mask_name
from kdcis.ratelimit import client_ip
from permissions.models import Grant

# The field revealed by the last POST, shown once by the GET it redirects to.
REVEAL_SESSION_KEY = "helpdesk_revealed"
REVEALABLE = {
    "name": gettext_lazy("이름"), "mobile": gettext_lazy("휴대폰번호"),
    "office_phone": gettext_lazy("기관(부서) 전화번호"),
    "all": gettext_lazy("보유 개인정보 전체 (내 정보 열람)"),
}
# A reveal of "all" lets the agent open the user's 내 정보 열람 view once.
DATA_REVEAL_SESSION_KEY = "helpdesk_data_revealed"


def helpdesk_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_helpdesk or request.user.status == User.Status.WITHDRAWN:
            return render(request, "kdcis/403.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


@helpdesk_required
@require_GET
def helpdesk_user_data(request: HttpRequest, pk: int) -> HttpResponse:
    """The user's 내 정보 열람 as they see it, once per reveal of '보유 개인정보 전체' (with a
    reason, audited); without one, back to the user page."""
    from accounts.selectors import personal_data_for
    from accounts.services import personal_data_access_record

    target = _target(pk)
    if request.session.pop(DATA_REVEAL_SESSION_KEY, None) != target.pk:
        messages.info(request, _("보유 개인정보 전체를 보려면 '개인정보 확인'에서 항목을 고르고 "
                                 "사유를 입력하세요."))
        return redirect("helpdesk_user", pk=target.pk)
    data = personal_data_for(target)
    personal_data_access_record(actor=request.user, subject=target, kind="page",
                                ip=client_ip(request))
    return render(request, "accounts/my_data.html", {"data": data, "for_helpdesk": True,
                                                     "target": target})


@helpdesk_required
@require_GET
def helpdesk_search_view(request: HttpRequest) -> HttpResponse:
    from django.conf import settings
    from django.utils.http import urlencode

    q = request.GET.get("q", "")
    kind, qs, truncated = helpdesk_search(q)
    if kind and not ratelimit.hit(f"helpdesk-search:{request.user.pk}",
                                  limit=settings.HELPDESK_SEARCHES_PER_HOUR,
                                  window_seconds=3600):
        # Masked results, searched fast enough, still add up to a person: a limit per agent.
        return render(request, "accounts/helpdesk/search.html", {
            "q": " ".join(q.split())[:60], "rows": [], "searched": False,
            "error": _("조회 한도(1시간에 %(n)d회)를 넘었습니다. 잠시 후 다시 조회하세요.")
            % {"n": settings.HELPDESK_SEARCHES_PER_HOUR},
        }, status=429)
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    rows = [{"user": u, "name": mask_name(u.name), "mobile": mask_mobile(u.mobile)}
            for u in shown]
    if kind:
        helpdesk_search_record(agent=request.user, kind=kind, shown=shown,
                               total=page.paginator.count, ip=client_ip(request))

    return render(request, "accounts/helpdesk/search.html", {
        "q": " ".join(q.split())[:60], "rows": rows, "page": page, "searched": bool(kind),
        "truncated": truncated,
        "query_string": urlencode({"q": q}) if q else "",
    })


def _target(pk: int) -> User:
    user = (User.objects.exclude(status=User.Status.WITHDRAWN)
            .select_related("institution", "institution__type", "institution__jurisdiction")
            .filter(pk=pk).first())
    if user is None:
        raise Http404
    return user


@helpdesk_required
@require_http_methods(["GET", "POST"])
def helpdesk_user(request: HttpRequest, pk: int) -> HttpResponse:
    """A user's status, permissions, history and pending decisions; 'reveal' one field."""
    target = _target(pk)
    if request.method == "POST":
        return _reveal(request, target)
    revealed = _revealed_once(request, target)
    helpdesk_view_record(agent=request.user, target=target, ip=client_ip(request))
    return _user_page(request, target, revealed=revealed)


def _reveal(request: HttpRequest, target: User) -> HttpResponse:
    field = request.POST.get("field", "")
    try:
        helpdesk_reveal(agent=request.user, target=target, field=field,
                        reason=request.POST.get("reason", ""), ip=client_ip(request))
    except HelpdeskError as exc:
        return _user_page(request, target, error=exc.message)
    if field == "all":
        request.session[DATA_REVEAL_SESSION_KEY] = target.pk
        return redirect("helpdesk_user_data", pk=target.pk)
    # POST/redirect/GET: a reload shows the page again without a second reveal.
    request.session[REVEAL_SESSION_KEY] = {"user": target.pk, "field": field}
    return redirect("helpdesk_user", pk=target.pk)


def _revealed_once(request: HttpRequest, target: User) -> dict[str, str]:
    """The field the last reveal named, shown by this one GET."""
    shown = request.session.pop(REVEAL_SESSION_KEY, None)
    if not (shown and shown.get("user") == target.pk and shown.get("field") in REVEALABLE
            and shown.get("field") != "all"):
        return {}
    value = getattr(target, shown["field"])
    return {shown["field"]: value if shown["field"] == "name" else format_phone(value)}


def _user_page(request: HttpRequest, target: User, *, revealed: dict | None = None,
               error: str = "") -> HttpResponse:
    grants = (Grant.objects.filter(user=target)
              .select_related("permission_type", "body", "body__region")
              .order_by("-requested_at"))
    # Reveals are part of the story the helpdesk tells; page views would drown it.
    events = AuditEvent.objects.filter(subject_ref=str(target.ref)).exclude(
        action__in=["helpdesk.viewed", "helpdesk.listed"])[:200]
    return render(request, "accounts/helpdesk/user.html", {
        "target": target, "grants": grants, "timeline": timeline_for(target, events),
        "pending": [g for g in grants if g.status == Grant.Status.REQUESTED],
        "masked": {"name": mask_name(target.name), "mobile": mask_mobile(target.mobile),
                   "office_phone": mask_mobile(target.office_phone)},
        "revealed": revealed or {}, "revealable": REVEALABLE, "error": error,
        "certificate": getattr(target, "certificate", None),
    }, status=400 if error else 200)


@helpdesk_required
@require_http_methods(["GET", "POST"])
def helpdesk_institution(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct an institution's name or address on request, with a reason (audited)."""
    from institutions.forms import InstitutionCorrectionForm
    from institutions.services import InstitutionError, institution_correct

    institution = Institution.objects.filter(pk=pk).select_related("type").first()
    if institution is None:
        raise Http404
    form = InstitutionCorrectionForm(initial={
        "name": institution.name, "postcode": institution.postcode,
        "address": institution.address})
    error = ""
    if request.method == "POST":
        form = InstitutionCorrectionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                institution_correct(institution=institution, name=data["name"],
                                    postcode=data["postcode"], address=data["address"],
                                    reason=data["reason"], actor=request.user,
                                    ip=client_ip(request))
            except InstitutionError as exc:
                error = exc.message
            else:
                messages.success(request, _("기관 정보를 수정했습니다."))
                return redirect("helpdesk_institution", pk=institution.pk)
    invalid = request.method == "POST" and (error or form.errors)
    return render(request, "accounts/helpdesk/institution.html", {
        "institution": institution, "form": form, "error": error,
    }, status=400 if invalid else 200)
