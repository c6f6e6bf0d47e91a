"""기관등록 신청 from the signup wizard's 사용자정보등록 step.

The applicant's typed values live in the signup draft until the request is accepted, so a
refused form or a detour to another page loses nothing. The request itself is a row of its
own (institutions.InstitutionRequest) that names the draft: when the health center registers
the institution, the draft's profile step selects it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import wizard
from institutions.forms import InstitutionRequestForm
from institutions.models import InstitutionRequest
from institutions.selectors import institution_request_of_draft
from institutions.services import (
    InstitutionError,
    institution_request_cancel,
    institution_request_submit,
)
from kdcis.ids import parse_id
from kdcis.ratelimit import client_ip

FORM_KEY = "institution_request_form"
FIELDS = ("name", "type", "business_number", "postcode", "sigungu_code", "dong", "address",
          "phone", "mobile")


def _draft_key(request: HttpRequest) -> str:
    return request.session.get(wizard.SESSION_KEY, "")


def _initial(draft: dict, request: HttpRequest) -> dict:
    """What the form starts with: the applicant's own last input, else a rejected request
    to correct, else what the search already knows."""
    state = draft.get("profile") or {}
    previous = institution_request_of_draft(_draft_key(request),
                                            state.get("institution_request_id"))
    if previous is not None and previous.status in (InstitutionRequest.Status.REJECTED,
                                                    InstitutionRequest.Status.CANCELLED):
        return {"name": previous.name, "type": previous.type_id,
                "business_number": previous.business_number, "postcode": previous.postcode,
                "sigungu_code": previous.sigungu_code, "dong": previous.dong,
                "address": previous.address, "phone": previous.phone,
                "mobile": previous.applicant_mobile}
    return {"name": state.get("query", ""), "type": state.get("institution_type"),
            "mobile": state.get("mobile", ""), "phone": state.get("office_phone", "")}


@require_http_methods(["GET", "POST"])
@wizard.step_required("profile")
def signup_institution_request(request: HttpRequest, draft: dict) -> HttpResponse:
    pending = institution_request_of_draft(_draft_key(request),
                                           wizard.profile_of(draft).get("institution_request_id"))
    if pending is not None and pending.status in (InstitutionRequest.Status.REQUESTED,
                                                  InstitutionRequest.Status.REGISTERED):
        return redirect("signup_profile")
    if request.method == "POST":
        return _submit_request(request, draft)
    flashed = wizard.take_flash(request.session, "institution_request")
    kept = draft.get(FORM_KEY)
    form = InstitutionRequestForm(data=kept) if kept else InstitutionRequestForm(
        initial=_initial(draft, request))
    if kept:
        form.is_valid()  # show the errors of what was posted
    return render(request, "accounts/signup/institution_request.html", wizard.step_context(
        "profile", form=form, error=flashed.get("error", ""), previous=pending))


def _submit_request(request: HttpRequest, draft: dict) -> HttpResponse:
    """The typed request is kept in the draft until it is accepted, then the profile step
    waits for the health center's registration."""
    state = wizard.profile_of(draft)
    draft[FORM_KEY] = {k: request.POST.get(k, "")[:200] for k in FIELDS}
    form = InstitutionRequestForm(request.POST)
    error = ""
    if form.is_valid():
        cert = draft["certificate"]
        name = state.get("name") if cert.get("kind") == "corporate" else cert.get("name")
        try:
            req = institution_request_submit(
                data={k: v for k, v in form.cleaned_data.items() if k != "mobile"},
                applicant_name=name or "", applicant_mobile=form.cleaned_data["mobile"],
                draft_key=_draft_key(request), ip=client_ip(request))
        except InstitutionError as exc:
            error = exc.message
        else:
            draft.pop(FORM_KEY, None)
            state["institution_request_id"] = req.pk
            state.pop("institution_id", None)
            draft["profile_done"] = False
            wizard.save_draft(request.session, draft)
            return redirect("signup_profile")
    wizard.save_draft(request.session, draft)
    wizard.flash(request.session, "institution_request", error=str(error))
    return redirect("signup_institution_request")


@require_POST
@wizard.step_required("profile")
def signup_institution_request_cancel(request: HttpRequest, draft: dict) -> HttpResponse:
    state = wizard.profile_of(draft)
    pk = parse_id(request.POST.get("request"))
    try:
        institution_request_cancel(request_id=pk or 0, draft_key=_draft_key(request),
                                   ip=client_ip(request))
    except (InstitutionError, InstitutionRequest.DoesNotExist):
        pass  # decided meanwhile: the profile page shows what happened
    wizard.save_draft(request.session, draft)
    if state.get("institution_request_id") == pk:
        return redirect("signup_institution_request")
    return redirect("signup_profile")
