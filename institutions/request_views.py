"""기관등록 신청 for the health center (its own queue tab beside the permission requests)
and for the helpdesk (every center's, with corrections)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.helpdesk_views import helpdesk_required
from institutions.forms import InstitutionRequestForm
from institutions.models import Category, InstitutionRequest
from institutions.selectors import institution_request_for_officer, institution_requests_for
from institutions.services import (
    InstitutionError,
    institution_request_correct,
    institution_request_register,
    institution_request_reject,
)
from kdcis.ids import parse_id
from kdcis.ratelimit import client_ip
from permissions.decorators import officer_required

STATUSES = [("requested", gettext_lazy("신청중")), ("registered", gettext_lazy("등록완료")),
            ("rejected", gettext_lazy("반려")), ("cancelled", gettext_lazy("신청취소")),
            ("all", gettext_lazy("전체"))]


@officer_required
@require_GET
def officer_queue(request: HttpRequest) -> HttpResponse:
    """The officer's health center's 기관등록 신청, waiting ones first by default."""
    officer = request.user.officer
    status = request.GET.get("status", "requested")
    if status not in dict(STATUSES):
        status = "requested"
    rows = list(institution_requests_for(officer, status=status)[:200])
    return render(request, "institutions/requests.html", {
        "officer": officer, "rows": rows, "status": status, "statuses": STATUSES,
    })


@officer_required
@require_GET
def officer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    req = institution_request_for_officer(request.user.officer, pk)
    if req is None:
        raise Http404
    return render(request, "institutions/request_detail.html", {
        "req": req, "categories": Category.objects.all(), "back": "institution_requests",
    })


@officer_required
@require_POST
def officer_decide(request: HttpRequest, pk: int) -> HttpResponse:
    req = institution_request_for_officer(request.user.officer, pk)
    if req is None:
        raise Http404
    try:
        if request.POST.get("decision") == "register":
            category = Category.objects.filter(pk=parse_id(request.POST.get("category"))).first()
            institution_request_register(request_id=req.pk, actor=request.user,
                                         category=category, ip=client_ip(request))
            messages.success(request, _("기관을 등록했습니다. 신청자에게 문자로 알렸습니다."))
        else:
            institution_request_reject(request_id=req.pk, actor=request.user,
                                       reason=request.POST.get("reason", ""),
                                       ip=client_ip(request))
            messages.success(request, _("신청을 반려했습니다. 신청자에게 사유를 문자로 알렸습니다."))
    except InstitutionError as exc:
        messages.error(request, exc.message)
        return redirect("institution_request_detail", pk=req.pk)
    return redirect("institution_requests")


@helpdesk_required
@require_GET
def helpdesk_queue(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "requested")
    if status not in dict(STATUSES):
        status = "requested"
    qs = InstitutionRequest.objects.select_related("type", "body", "body__region")
    if status != "all":
        qs = qs.filter(status=status)
    return render(request, "institutions/requests.html", {
        "rows": list(qs.order_by("-submitted_at")[:200]), "status": status,
        "statuses": STATUSES, "helpdesk": True,
    })


@helpdesk_required
@require_http_methods(["GET", "POST"])
def helpdesk_request(request: HttpRequest, pk: int) -> HttpResponse:
    """See one request; correct a waiting one on the applicant's call, with a reason."""
    req = (InstitutionRequest.objects.select_related("type", "body", "institution")
           .filter(pk=pk).first())
    if req is None:
        raise Http404
    error = ""
    if request.method == "POST":
        form = InstitutionRequestForm(request.POST)
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if k != "mobile"}
            try:
                institution_request_correct(request_id=req.pk, actor=request.user, data=data,
                                            reason=request.POST.get("reason", ""),
                                            ip=client_ip(request))
            except InstitutionError as exc:
                error = exc.message
            else:
                messages.success(request, _("신청 내용을 수정했습니다."))
                return redirect("helpdesk_institution_request", pk=req.pk)
    else:
        form = InstitutionRequestForm(initial={
            "name": req.name, "type": req.type_id, "business_number": req.business_number,
            "postcode": req.postcode, "sigungu_code": req.sigungu_code, "dong": req.dong,
            "address": req.address, "phone": req.phone, "mobile": req.applicant_mobile})
    return render(request, "institutions/request_detail.html", {
        "req": req, "form": form, "error": error, "helpdesk": True,
        "reason": request.POST.get("reason", ""), "back": "helpdesk_institution_requests",
    })
