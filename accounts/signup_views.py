"""The signup wizard: 약관동의 → 인증서등록 → 사용자정보등록 → 권한신청 → 완료."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
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
    ProfileForm,
    clean_mobile,
    clean_username,
    office_phone_error,
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
    verified_phone,
)
from accounts.services import (
    PhoneVerificationError,
    RequestedPermission,
    SignupError,
    phone_code_check,
    phone_code_send,
    signup_submit,
)
from institutions.models import Institution, InstitutionType, Region
from institutions.selectors import (
    SearchPaginator,
    institution_request_of_draft,
    search_institutions,
)
from kdcis import ratelimit
from kdcis.ids import parse_id
from kdcis.ratelimit import client_ip
from permissions.models import PermissionType
from permissions.picker import body_options
from permissions.selectors import bodies_for, default_body_for

INSTITUTIONS_PER_PAGE = 10


def _step_context(step: str, **extra) -> dict:
    return {"steps": wizard.STEP_LABELS, "current_step": step, **extra}


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
    return render(request, "accounts/signup/consent.html", _step_context(
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
    return render(request, "accounts/signup/certificate.html", _step_context(
        "certificate", challenge=issue_challenge(request.session, "signup"), error=error,
        registered=draft.get("certificate"),
    ))


def _profile_state(draft: dict) -> dict:
    return draft.setdefault("profile", {})


def _institution_results(state: dict, page_number) -> tuple:
    qs = search_institutions(query=state.get("query", ""), type_id=state.get("institution_type"),
                             region=state.get("region"))
    page = SearchPaginator(qs, INSTITUTIONS_PER_PAGE).get_page(page_number)
    return page, bool(state.get("query"))


@require_http_methods(["GET", "POST"])
@wizard.step_required("profile")
def signup_profile(request: HttpRequest, draft: dict) -> HttpResponse:
    """사용자정보등록: every button posts the whole form, so nothing typed is ever lost."""
    if not request.session.session_key:
        request.session.save()
    state = _profile_state(draft)
    cert = draft["certificate"]
    corporate = cert["kind"] == "corporate"
    errors: dict[str, str] = {}
    notices: dict[str, str] = {}
    page_number = request.GET.get("page") or state.get("page") or 1
    ip = client_ip(request)

    if request.method == "POST":
        form = ProfileForm(request.POST)
        form.is_valid()  # every field is optional here; errors are decided per action below
        data = form.cleaned_data
        action = request.POST.get("action", "next")
        for key in ("username", "query", "mobile", "office_phone", "name"):
            if key in data:
                state[key] = data[key]
        if data.get("institution_type"):
            state["institution_type"] = data["institution_type"].pk
        elif "institution_type" in request.POST:
            state["institution_type"] = None
        if data.get("region"):
            state["region"] = data["region"].pk
        elif "region" in request.POST:
            state["region"] = None
        chosen = parse_id(request.POST.get("institution_choice")
                          or request.POST.get("institution"))
        if chosen:
            state["institution_id"] = chosen
        if state.get("verified_mobile") and state.get("verified_mobile") != state.get("mobile"):
            state.pop("verification_id", None)
            state.pop("verified_mobile", None)
        if action not in ("check_id", "next") and _checked_live(request, state):
            _check_username(request, state, errors, notices)
        if action.startswith("page:"):
            page_number = action.split(":", 1)[1]
            state["page"] = page_number
        elif action == "search":
            page_number = 1
            state["page"] = 1
            if not state.get("query"):
                errors["query"] = _("검색할 기관명 또는 기관번호를 입력하세요.")
        elif action == "check_id":
            _check_username(request, state, errors, notices)
        elif action == "send_code":
            try:
                mobile = clean_mobile(state.get("mobile", ""))
                sent = phone_code_send(session_key=request.session.session_key, phone=mobile,
                                       ip=ip)
                state["code_expires_at"] = sent.expires_at.isoformat()
                notices["mobile"] = _("인증번호를 보냈습니다. 3분 안에 입력하세요.")
            except PhoneVerificationError as exc:
                errors["mobile"] = exc.message
            except ValidationError as exc:
                errors["mobile"] = " ".join(exc.messages)
        elif action == "verify_code":
            try:
                mobile = clean_mobile(state.get("mobile", ""))
                verification = phone_code_check(
                    session_key=request.session.session_key, phone=mobile,
                    code=data.get("code", ""), ip=ip,
                )
                state["verification_id"] = verification.pk
                state["verified_mobile"] = mobile
                notices["mobile"] = _("휴대폰번호 인증이 완료되었습니다.")
            except PhoneVerificationError as exc:
                errors["code"] = exc.message
            except ValidationError as exc:
                errors["mobile"] = " ".join(exc.messages)
        elif action == "next":
            _validate_profile(request, state, errors, corporate)
            if not errors:
                draft["profile_done"] = True
                wizard.save_draft(request.session, draft)
                return redirect("signup_permissions")
        draft["profile_done"] = False
        wizard.save_draft(request.session, draft)
        wizard.flash(request.session, "profile", errors={k: str(v) for k, v in errors.items()},
                     notices={k: str(v) for k, v in notices.items()})
        return redirect("signup_profile")
    flashed = wizard.take_flash(request.session, "profile")
    errors = flashed.get("errors", {})
    notices = flashed.get("notices", {})
    institution_request = institution_request_of_draft(
        request.session.get(wizard.SESSION_KEY, ""), state.get("institution_request_id"))
    if (institution_request is not None and institution_request.institution_id
            and state.get("institution_adopted") != institution_request.pk):
        # The health center registered it: the applicant continues with it, once (they
        # may still pick another institution afterwards).
        state["institution_id"] = institution_request.institution_id
        state["institution_adopted"] = institution_request.pk
        wizard.save_draft(request.session, draft)
    page, searched = _institution_results(state, page_number)
    institution = Institution.objects.select_related("type", "region").filter(
        pk=state.get("institution_id")).first()
    return render(request, "accounts/signup/profile.html", _step_context(
        "profile", state=state, cert=cert, corporate=corporate, errors=errors, notices=notices,
        institution_types=InstitutionType.objects.all(), page=page, searched=searched,
        regions=Region.objects.all(),
        institution=institution, institution_request=institution_request,
        verified=bool(state.get("verification_id")) and state.get(
            "verified_mobile") == state.get("mobile"),
        code_expires_at=state.get("code_expires_at"),
    ))


def _check_username(request, state: dict, errors: dict, notices: dict) -> bool:
    """The one ID check behind the live '중복검사', the form's '중복검사' and '다음': the same
    rules and the same limit, so no path enumerates IDs faster than the others."""
    ok, message, _limited = _username_verdict(request, state.get("username", ""))
    if not ok:
        errors["username"] = message
        state.pop("username_checked", None)
        return False
    state["username_checked"] = state["username"]
    notices["username"] = message
    return True


def _checked_live(request, state: dict) -> bool:
    """The live check said this ID was free and the form carries it: record it now, on the
    form's own post (checked again, so a forged field gains nothing)."""
    checked = (request.POST.get("username_checked") or "").strip()
    return bool(checked) and checked == state.get("username") != state.get("username_checked")


def _username_verdict(request, username: str) -> tuple[bool, str, bool]:
    """(usable, message, refused for the limit)."""
    if not _id_check_allowed(request):
        return False, _("아이디 확인을 너무 많이 시도했습니다. 잠시 후 다시 시도하세요."), True
    try:
        username = clean_username(username)
    except ValidationError as exc:
        return False, " ".join(exc.messages), False
    if User.objects.filter(username=username).exists():
        return False, _("이미 사용 중인 아이디입니다. 다른 아이디를 입력하세요."), False
    return True, _("사용할 수 있는 아이디입니다."), False


def _id_check_allowed(request) -> bool:
    window = settings.ID_CHECK_WINDOW_SECONDS
    per_ip = ratelimit.hit(f"check-id:ip:{client_ip(request)}",
                           limit=settings.ID_CHECK_MAX_PER_IP, window_seconds=window)
    per_session = ratelimit.hit(f"check-id:session:{request.session.session_key}",
                                limit=settings.ID_CHECK_MAX_PER_SESSION, window_seconds=window)
    return per_ip and per_session


def _validate_profile(request, state: dict, errors: dict, corporate: bool) -> None:
    notices: dict[str, str] = {}
    if corporate and not state.get("name"):
        errors["name"] = _("기관인증서로 가입하는 경우 휴대폰 인증한 본인의 이름을 입력하세요.")
    _check_username(request, state, errors, notices)
    if not state.get("institution_id") or not Institution.objects.filter(
        pk=state["institution_id"], status=Institution.Status.OPEN
    ).exists():
        errors["institution"] = _("기관명을 검색하여 소속기관을 선택하세요.")
    try:
        mobile = clean_mobile(state.get("mobile", ""))
    except ValidationError as exc:
        errors["mobile"] = " ".join(exc.messages)
    else:
        if not verified_phone(verification_id=state.get("verification_id"),
                              session_key=request.session.session_key, phone=mobile):
            errors["mobile"] = _("'휴대폰번호 인증'을 완료하세요.")
    problem = office_phone_error(state.get("office_phone", ""))
    if problem:
        errors["office_phone"] = problem


@require_GET
def signup_check_id(request: HttpRequest) -> JsonResponse:
    """The live '중복검사': it answers and changes nothing. The ID is stored only by the form's
    own post, which checks it again, so an overlapping request never loses a field."""
    if not wizard.get_draft(request.session).get("certificate"):
        return JsonResponse({"ok": False, "message": _("인증서 등록을 먼저 완료하세요.")},
                            status=400)
    ok, message, limited = _username_verdict(
        request, (request.GET.get("username") or "").strip()[:40])
    return JsonResponse({"ok": ok, "message": str(message)}, status=429 if limited else 200)


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
    state = _profile_state(draft)
    institution = Institution.objects.select_related("jurisdiction").filter(
        pk=state.get("institution_id")).first()
    if institution is None:
        draft["profile_done"] = False
        wizard.save_draft(request.session, draft)
        return redirect("signup_profile")
    error = off_jurisdiction = ""
    if request.method == "POST":
        picked: dict[str, dict] = {}
        requested: list[RequestedPermission] = []
        for ptype in PermissionType.objects.all():
            checked = request.POST.get(f"perm_{ptype.code}") == "on"
            body_id = request.POST.get(f"body_{ptype.code}") or ""
            picked[ptype.code] = {"checked": checked,
                                  "body_id": parse_id(body_id)}
            if checked:
                body = bodies_for(ptype).filter(pk=picked[ptype.code]["body_id"]).first()
                if body is None:
                    error = _("'%(perm)s' 권한의 승인기관을 선택하세요.") % {"perm": ptype.name}
                else:
                    requested.append(RequestedPermission(permission_type=ptype, body=body))
        draft["permissions"] = picked
        wizard.save_draft(request.session, draft)
        if not error and not requested:
            error = _("신청할 권한을 하나 이상 선택하세요.")
        elif not error and request.POST.get("off_jurisdiction_ok") != "on":
            error = off_jurisdiction = _off_jurisdiction_warning(requested, institution)
        if not error:
            cert = certificate_from_session(draft["certificate"])
            name = state.get("name") if cert.kind == "corporate" else cert.name
            try:
                user = signup_submit(
                    certificate=cert, name=name, username=state["username"],
                    institution=institution, mobile=state["mobile"],
                    office_phone=state["office_phone"],
                    consent_at=parse_datetime(draft["consent_at"]),
                    consent_version=draft["consent_version"], permissions=requested,
                    ip=client_ip(request),
                )
            except SignupError as exc:
                own = exc.code == "username_taken" and _own_submission(draft, state)
                if own:
                    wizard.replace_draft(request.session, {"submitted_user_id": own})
                    return redirect("signup_done")
                error = exc.message
                if exc.field == "username":
                    draft["profile_done"] = False
                    state.pop("username_checked", None)
                    wizard.save_draft(request.session, draft)
                    messages.error(request, exc.message)
                    return redirect("signup_profile")
                if exc.field == "certificate":
                    draft.pop("certificate", None)
                    wizard.save_draft(request.session, draft)
                    messages.error(request, exc.message)
                    return redirect("signup_certificate")
            else:
                # Keep nothing personal in the draft once the account holds it.
                wizard.replace_draft(request.session, {"submitted_user_id": user.pk})
                return redirect("signup_done")
        wizard.flash(request.session, "permissions", error=str(error),
                     off_jurisdiction=bool(off_jurisdiction))
        return redirect("signup_permissions")
    flashed = wizard.take_flash(request.session, "permissions")
    return render(request, "accounts/signup/permissions.html", _step_context(
        "permissions", rows=_permission_rows(draft, institution), institution=institution,
        error=flashed.get("error", ""), ask_off_jurisdiction=flashed.get("off_jurisdiction"),
    ))


def _off_jurisdiction_warning(requested: list[RequestedPermission], institution) -> str:
    """Before submitting: a health center other than the one of the institution's address
    decides only if the applicant confirms it (it may transfer the request back)."""
    home = institution.jurisdiction
    for item in requested:
        if home is not None and item.body.kind == home.kind and item.body.pk != home.pk:
            return _("선택한 승인기관(%(chosen)s)은 기관 주소지 관할 보건소가 아닙니다. 기관 "
                     "주소지 관할 보건소는 %(home)s입니다. 그대로 신청하려면 아래 확인란을 "
                     "선택하세요.") % {"chosen": item.body.name, "home": home.name}
    return ""


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
    return render(request, "accounts/signup/done.html", _step_context(
        "done", applicant=user, grants=grants))


@require_POST
def signup_restart(request: HttpRequest) -> HttpResponse:
    """Start over (after a finished signup, or to abandon a draft)."""
    wizard.clear_draft(request.session)
    return redirect("signup_consent")
