"""The signup wizard: 약관동의 → 인증서등록 → 사용자정보등록 → 권한신청 → 완료.

사용자정보등록, with a view per button, is accounts.signup_profile_views."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import wizard
from accounts.challenges import (
    issue_challenge,
)
from accounts.forms import (
    ConsentForm,
    PermissionRequestForm,
)
from accounts.login_views import (
    PostedCertificateError,
    certificate_from_session,
    certificate_to_session,
    verify_posted_certificate,
)
from accounts.models import User
from accounts.selectors import (
    bindings_for_certificate,
)
from accounts.services import (
    SignupError,
    signup_submit,
)
from institutions.models import Institution
from kdcis.ratelimit import client_ip
from permissions.models import PermissionType
from permissions.picker import body_options
from permissions.selectors import default_body_for


@require_http_methods(["GET", "POST"])
def signup_start(request: HttpRequest) -> HttpResponse:
    return redirect("signup_consent")


@require_http_methods(["GET", "POST"])
@wizard.step_required("consent")
def signup_consent(request: HttpRequest, draft: dict) -> HttpResponse:
    if request.method == "POST":
        form = ConsentForm(request.POST)
        if form.is_valid():
            draft["consent_at"] = timezone.now().isoformat()
            draft["consent_version"] = settings.CONSENT_NOTICE_VERSION
            wizard.save_draft(request.session, draft)
            return redirect("signup_certificate")
        draft.pop("consent_at", None)
        wizard.save_draft(request.session, draft)
        wizard.flash(request.session, "consent", errors=form.errors.get("agree", []))
        return redirect("signup_consent")
    form = ConsentForm(initial={"agree": bool(draft.get("consent_at"))})
    flashed = wizard.take_flash(request.session, "consent")
    if flashed.get("errors"):
        form = ConsentForm(data={})
        form.is_valid()
    return render(request, "accounts/signup/consent.html", wizard.step_context(
        "consent", form=form, notice_version=settings.CONSENT_NOTICE_VERSION))


@require_http_methods(["GET", "POST"])
@wizard.step_required("certificate")
def signup_certificate(request: HttpRequest, draft: dict) -> HttpResponse:
    if request.method == "POST":
        try:
            cert = verify_posted_certificate(request, "signup")
        except PostedCertificateError as exc:
            error = exc.message
        else:
            if bindings_for_certificate(cert).exists():
                error = _("이 인증서는 이미 다른 사용자에게 등록되어 있습니다. 하나의 인증서로 "
                          "여러 명이 가입할 수 없습니다. 이미 가입하셨다면 로그인하세요.")
            else:
                draft["certificate"] = certificate_to_session(cert)
                wizard.save_draft(request.session, draft)
                return redirect("signup_profile")
        wizard.flash(request.session, "certificate", error=str(error))
        return redirect("signup_certificate")
    error = wizard.take_flash(request.session, "certificate").get("error", "")
    return render(request, "accounts/signup/certificate.html", wizard.step_context(
        "certificate", challenge=issue_challenge(request.session, "signup"), error=error,
        registered=draft.get("certificate"),
    ))


def _permission_rows(draft: dict, institution, posted=None) -> list[dict]:
    chosen = draft.get("permissions") or {}
    rows = []
    for ptype in PermissionType.objects.all():
        default = default_body_for(ptype, institution)
        selected = chosen.get(ptype.code, {})
        body_id = selected.get("body_id") or (default.pk if default else None)
        rows.append({
            "type": ptype, "checked": bool(selected.get("checked")), "default": default,
            "options": body_options(ptype, body_id),
        })
    return rows


@require_http_methods(["GET", "POST"])
@wizard.step_required("permissions")
def signup_permissions(request: HttpRequest, draft: dict) -> HttpResponse:
    institution = Institution.objects.select_related("jurisdiction").filter(
        pk=wizard.profile_of(draft).get("institution_id")).first()
    if institution is None:
        draft["profile_done"] = False
        wizard.save_draft(request.session, draft)
        return redirect("signup_profile")
    if request.method == "POST":
        return _permissions_post(request, draft, institution)
    flashed = wizard.take_flash(request.session, "permissions")
    return render(request, "accounts/signup/permissions.html", wizard.step_context(
        "permissions", rows=_permission_rows(draft, institution), institution=institution,
        error=flashed.get("error", ""), ask_off_jurisdiction=flashed.get("off_jurisdiction"),
    ))


def _permissions_post(request: HttpRequest, draft: dict, institution) -> HttpResponse:
    """'권한 신청': the ticks are kept whatever happens; the account is made once they hold."""
    form = PermissionRequestForm(request.POST, institution=institution,
                                 permission_types=PermissionType.objects.all())
    valid = form.is_valid()
    draft["permissions"] = form.picked
    wizard.save_draft(request.session, draft)
    if valid:
        return _submit(request, draft, institution, form.requested)
    wizard.flash(request.session, "permissions", error=form.first_error(),
                 off_jurisdiction=form.off_jurisdiction)
    return redirect("signup_permissions")


def _submit(request: HttpRequest, draft: dict, institution, requested) -> HttpResponse:
    state = wizard.profile_of(draft)
    cert = certificate_from_session(draft["certificate"])
    try:
        user = signup_submit(
            certificate=cert, name=state.get("name") if cert.kind == "corporate" else cert.name,
            username=state["username"], institution=institution, mobile=state["mobile"],
            office_phone=state["office_phone"], consent_at=parse_datetime(draft["consent_at"]),
            consent_version=draft["consent_version"], permissions=requested,
            ip=client_ip(request),
        )
    except SignupError as exc:
        return _submit_refused(request, draft, exc)
    # Keep nothing personal in the draft once the account holds it.
    wizard.replace_draft(request.session, {"submitted_user_id": user.pk})
    return redirect("signup_done")


def _submit_refused(request: HttpRequest, draft: dict, exc: SignupError) -> HttpResponse:
    """Back to the step the refusal is about, with its message (or to 'done' after a
    double click: the account exists and is this draft's)."""
    state = wizard.profile_of(draft)
    own = exc.code == "username_taken" and _own_submission(draft, state)
    if own:
        wizard.replace_draft(request.session, {"submitted_user_id": own})
        return redirect("signup_done")
    if exc.field not in ("username", "certificate"):
        wizard.flash(request.session, "permissions", error=str(exc.message),
                     off_jurisdiction=False)
        return redirect("signup_permissions")
    if exc.field == "username":
        draft["profile_done"] = False
        state.pop("username_checked", None)
    else:
        draft.pop("certificate", None)
    wizard.save_draft(request.session, draft)
    messages.error(request, exc.message)
    return redirect("signup_profile" if exc.field == "username" else "signup_certificate")


def _own_submission(draft: dict, state: dict) -> int | None:
    """A double click: the ID now exists and is bound to this draft's certificate (its id)."""
    binding = bindings_for_certificate(certificate_from_session(draft["certificate"])).filter(
        user__username=state.get("username")).first()
    return binding.user_id if binding else None


@require_GET
def signup_done(request: HttpRequest) -> HttpResponse:
    draft = wizard.get_draft(request.session)
    user_id = draft.get("submitted_user_id")
    if not user_id:
        return redirect(f"signup_{wizard.first_incomplete(draft)}")
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        wizard.clear_draft(request.session)
        return redirect("signup_consent")
    grants = user.grants.select_related("permission_type", "body", "body__region")
    return render(request, "accounts/signup/done.html", wizard.step_context(
        "done", applicant=user, grants=grants))


@require_POST
def signup_restart(request: HttpRequest) -> HttpResponse:
    """Start over (after a finished signup, or to abandon a draft)."""
    wizard.clear_draft(request.session)
    return redirect("signup_consent")
