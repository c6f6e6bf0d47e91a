"""Signup wizard, certificate login and the home page."""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import wizard
from accounts.certificates import (
    APPLICANT,
    STAFF,
    CertificateError,
    CertificateIdentity,
    TrustStore,
    certificate_identity,
    verify_signed_challenge,
)
from accounts.challenges import (
    consume_challenge,
    consume_login_challenge,
    issue_challenge,
    issue_login_challenge,
)
from accounts.forms import (
    CertificateForm,
    ConsentForm,
    ProfileForm,
    clean_mobile,
    clean_username,
    office_phone_error,
)
from accounts.models import User
from accounts.revocation import revocation_sources
from accounts.selectors import (
    account_for_certificate,
    bindings_for_certificate,
    is_public_servant,
    renewal_candidate,
    superseded_certificate,
    verified_phone,
)
from accounts.services import (
    PhoneVerificationError,
    RequestedPermission,
    SignupError,
    certificate_rebind,
    login_failed,
    login_recorded,
    phone_code_check,
    phone_code_send,
    session_tie,
    signup_submit,
)
from institutions.models import Institution, InstitutionType, Region
from institutions.selectors import (
    SearchPaginator,
    institution_request_of_draft,
    search_institutions,
)
from kdcis import ratelimit
from kdcis.auth import BACKEND_PATH
from kdcis.errors import DomainError
from kdcis.ids import parse_id
from kdcis.ratelimit import client_ip
from permissions.models import PermissionType
from permissions.picker import body_options
from permissions.selectors import bodies_for, default_body_for

INSTITUTIONS_PER_PAGE = 10


class _PostedCertificateError(DomainError):
    """The posted certificate or signature was refused."""


def verify_posted_certificate(request: HttpRequest, purpose: str, *,
                              signer: str | None = APPLICANT):
    """Check the posted certificate and signature against the page's challenge: a signed
    single-use token for the login (no session needed), the session's for the others.

    Revocation is checked against the stored CRLs and OCSP (accounts.revocation). ``signer``
    says who presents it (GPKI/EPKI are for public servants); None at the login, which
    decides once it knows the account (:func:`_check_signer`)."""
    form = CertificateForm(request.POST)
    if not form.is_valid():
        raise _PostedCertificateError(
            _("인증서를 선택하고 암호를 입력한 뒤 '확인'을 누르세요."), code="incomplete")
    try:
        if purpose == "login":
            challenge = consume_login_challenge(form.cleaned_data["challenge"])
        else:
            challenge = consume_challenge(request.session, purpose,
                                          form.cleaned_data["challenge"])
        certificate = base64.b64decode(form.cleaned_data["certificate"], validate=True)
        signature = base64.b64decode(form.cleaned_data["signature"], validate=True)
    except CertificateError as exc:
        raise _PostedCertificateError(str(exc.message), code=exc.code) from None
    except (binascii.Error, ValueError):
        raise _PostedCertificateError(
            _("인증서 정보를 읽을 수 없습니다. 다시 시도하세요."), code="malformed") from None
    try:
        return verify_signed_challenge(
            certificate=certificate, challenge=challenge, signature=signature,
            trust=TrustStore.from_settings(), revocation=revocation_sources(), signer=signer,
        )
    except CertificateError as exc:
        raise _PostedCertificateError(str(exc.message), code=exc.code) from None


def _check_signer(cert, user) -> None:
    """A GPKI/EPKI certificate only for an account the settings allow it for."""
    try:
        TrustStore.from_settings().check_signer(cert, staff=is_public_servant(user))
    except CertificateError as exc:
        raise _PostedCertificateError(str(exc.message), code=exc.code) from None


# ----------------------------------------------------------------------------- home & login


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Login for visitors; the main screen (or the pending status page) for users."""
    if not request.user.is_authenticated:
        return _login_page(request)
    from permissions.views import main_screen

    return main_screen(request)


def _login_page(request: HttpRequest, *, error: str = "", status: int = 200,
                renewal: bool = False) -> HttpResponse:
    return render(
        request,
        "accounts/login.html",
        # A signed token, not a session entry: a visitor's GET stores nothing.
        {"challenge": issue_login_challenge(), "error": error,
         "renewal": renewal},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Certificate login: the same challenge-response and checks as signup."""
    if request.method == "GET":
        if request.user.is_authenticated:
            return redirect("home")
        return _login_page(request)
    ip = client_ip(request)
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    limits = _login_limits(request, ip)
    if ratelimit.over_limit(limits, window_seconds=window):
        # Refused before the challenge and signature are even looked at.
        login_failed(reason_code="rate_limited", ip=ip)
        return _login_page(
            request, status=429,
            error=_("로그인 실패가 너무 많습니다. %(minutes)d분 후에 다시 시도하세요.")
            % {"minutes": window // 60},
        )
    failure_keys = [key for key, _limit in limits]
    try:
        cert = verify_posted_certificate(request, "login", signer=None)
        user = account_for_certificate(cert)
        _check_signer(cert, user if user is not None else renewal_candidate(cert))
    except _PostedCertificateError as exc:
        ratelimit.record(failure_keys, window_seconds=window)
        login_failed(reason_code=exc.code, ip=ip)
        return _login_page(request, error=exc.message)
    if user is None:
        ratelimit.record(failure_keys, window_seconds=window)
        candidate = renewal_candidate(cert)
        login_failed(reason_code="unknown_certificate", ip=ip, subject=candidate)
        if candidate is not None:
            request.session["rebind"] = {"user_id": candidate.pk, "cert": _cert_to_session(cert),
                                         "at": timezone.now().isoformat()}
            request.session.save()
            # Not signed in yet, but it holds the person's certificate and account id: the
            # person's withdrawal must delete this session too.
            session_tie(session=request.session, user=candidate,
                        user_agent=request.META.get("HTTP_USER_AGENT", ""))
            return redirect("rebind")
        if superseded_certificate(cert):
            return _login_page(request, error=_(
                "이 인증서는 갱신된 인증서로 교체되었습니다. 새로 등록한 인증서로 로그인하세요."))
        return _login_page(
            request,
            error=_("등록되지 않은 인증서입니다. 처음 사용하시는 경우 '사용자 가입'을 먼저 "
                    "진행하세요."),
        )
    login(request, user, backend=BACKEND_PATH)
    login_recorded(user=user, ip=ip)
    return redirect("home")


def _posted_identity(request: HttpRequest) -> CertificateIdentity | None:
    """The posted certificate's fingerprint, issuer and serial, unverified; None when there
    is nothing readable."""
    value = request.POST.get("certificate") or ""
    if not value or len(value) > 200_000:
        return None
    try:
        return certificate_identity(base64.b64decode(value, validate=True))
    except (CertificateError, binascii.Error, ValueError):
        return None


def _login_limits(request: HttpRequest, ip: str) -> list[tuple[str, int]]:
    """The failure counters a login attempt is checked against and counted on: its client
    address (a high ceiling: one NAT address hides many staff), the posted certificate and
    the account that certificate is bound to. Another person's failures from the same
    address therefore never lock a valid certificate out."""
    limits = [(f"login-fail-ip:{ip}", settings.LOGIN_MAX_FAILURES_PER_IP)]
    identity = _posted_identity(request)
    if identity is not None:
        limits.append((f"login-fail-cert:{identity.fingerprint}",
                       settings.LOGIN_MAX_FAILURES_PER_CERTIFICATE))
        user_id = bindings_for_certificate(identity).values_list("user_id", flat=True).first()
        if user_id is not None:
            limits.append((f"login-fail-account:{user_id}",
                           settings.LOGIN_MAX_FAILURES_PER_ACCOUNT))
    return limits


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("로그아웃되었습니다."))
    return redirect("home")


# --------------------------------------------------------------- renewed certificate re-bind


def _cert_to_session(cert) -> dict:
    return {
        "fingerprint": cert.fingerprint, "subject_cn": cert.subject_cn, "name": cert.name,
        "issuer": cert.issuer, "issuer_dn": cert.issuer_dn, "serial": cert.serial,
        "not_before": cert.not_before.isoformat(), "not_after": cert.not_after.isoformat(),
        "kind": cert.kind, "policy_oid": cert.policy_oid,
        "cert_class": cert.cert_class, "ca": cert.ca,
        "der": base64.b64encode(cert.der).decode(),
    }


def _cert_from_session(data: dict):
    from accounts.certificates import VerifiedCertificate

    return VerifiedCertificate(
        fingerprint=data["fingerprint"], subject_cn=data["subject_cn"], name=data["name"],
        issuer=data["issuer"], serial=data["serial"],
        not_before=parse_datetime(data["not_before"]), not_after=parse_datetime(data["not_after"]),
        kind=data["kind"], policy_oid=data["policy_oid"], der=base64.b64decode(data["der"]),
        issuer_dn=data.get("issuer_dn", ""),  # recomputed from the DER when missing
        cert_class=data.get("cert_class", ""), ca=data.get("ca", ""),
    )


@require_http_methods(["GET", "POST"])
def rebind(request: HttpRequest) -> HttpResponse:
    """A renewed certificate: prove the old binding by a code sent to the account's phone."""
    pending = request.session.get("rebind")
    if not pending or (
        timezone.now() - parse_datetime(pending["at"])
    ).total_seconds() > settings.CERT_CHALLENGE_TTL_SECONDS * 2:
        request.session.pop("rebind", None)
        return redirect("login")
    user = User.objects.filter(pk=pending["user_id"], status__in=["pending", "active"]).first()
    if user is None:
        request.session.pop("rebind", None)
        return redirect("login")
    if not request.session.session_key:
        request.session.save()
    ip = client_ip(request)
    error = ""
    sent = False
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "send_code":
                phone_code_send(session_key=request.session.session_key, phone=user.mobile,
                                ip=ip, purpose="rebind", user=user)
                sent = True
                messages.info(request, _("등록된 휴대폰번호로 인증번호를 보냈습니다."))
            elif action == "verify_code":
                phone_code_check(session_key=request.session.session_key, phone=user.mobile,
                                 code=(request.POST.get("code") or "").strip(),
                                 purpose="rebind", ip=ip)
                certificate_rebind(user=user, certificate=_cert_from_session(pending["cert"]),
                                   ip=ip)
                request.session.pop("rebind", None)
                login(request, user, backend=BACKEND_PATH)
                login_recorded(user=user, ip=ip)
                messages.success(request, _("갱신된 인증서가 등록되었습니다."))
                return redirect("home")
        except (PhoneVerificationError, SignupError) as exc:
            error = exc.message
    from kdcis.phones import mask_mobile

    return render(request, "accounts/rebind.html", {
        "masked_mobile": mask_mobile(user.mobile), "error": error, "sent": sent,
        "issuer": pending["cert"]["issuer"], "not_after": parse_datetime(
            pending["cert"]["not_after"]),
    })


# ----------------------------------------------------------------------------- the wizard


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
        except _PostedCertificateError as exc:
            error = exc.message
        else:
            if bindings_for_certificate(cert).exists():
                error = _("이 인증서는 이미 다른 사용자에게 등록되어 있습니다. 하나의 인증서로 "
                          "여러 명이 가입할 수 없습니다. 이미 가입하셨다면 로그인하세요.")
            else:
                draft["certificate"] = _cert_to_session(cert)
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
            cert = _cert_from_session(draft["certificate"])
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
    binding = bindings_for_certificate(_cert_from_session(draft["certificate"])).filter(
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




@login_required
@require_GET
def me(request: HttpRequest) -> HttpResponse:
    """내정보: the user's own data."""
    from kdcis.phones import format_phone

    user = request.user
    return render(request, "accounts/me.html", {
        "certificate": getattr(user, "certificate", None),
        "grants": user.grants.select_related("permission_type", "body", "body__region"),
        "mobile": format_phone(user.mobile), "office_phone": format_phone(user.office_phone),
    })


def personal_data_download_response(data: dict) -> HttpResponse:
    """The JSON file of 내 정보 열람 (UTF-8, Korean as is), as an attachment."""
    import json

    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    stamp = timezone.localtime().strftime("%Y%m%d")
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = (f'attachment; filename="kdcis-personal-data-{stamp}.json"')
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def my_data(request: HttpRequest) -> HttpResponse:
    """내 정보 열람: everything the portal holds about the signed-in user, readable."""
    from accounts.selectors import personal_data_for
    from accounts.services import personal_data_access_record

    data = personal_data_for(request.user, current_session_key=request.session.session_key)
    personal_data_access_record(actor=request.user, subject=request.user, kind="page",
                                ip=client_ip(request))
    return render(request, "accounts/my_data.html", {"data": data, "for_helpdesk": False})


@login_required
@require_GET
def my_data_download(request: HttpRequest) -> HttpResponse:
    """내 정보 열람, as a JSON file."""
    from accounts.selectors import personal_data_for
    from accounts.services import personal_data_access_record

    data = personal_data_for(request.user, current_session_key=request.session.session_key)
    personal_data_access_record(actor=request.user, subject=request.user, kind="download",
                                ip=client_ip(request))
    return personal_data_download_response(data)


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest) -> HttpResponse:
    """탈퇴: explained, then confirmed by a fresh signature of the bound certificate."""
    from accounts.services import account_withdraw

    user = request.user
    error = ""
    if request.method == "POST":
        try:
            cert = verify_posted_certificate(
                request, "withdraw", signer=STAFF if is_public_servant(user) else APPLICANT)
        except _PostedCertificateError as exc:
            error = exc.message
        else:
            if not bindings_for_certificate(cert).filter(user=user).exists():
                error = _("등록된 본인의 인증서로 서명해야 탈퇴할 수 있습니다.")
            else:
                account_withdraw(user=user, ip=client_ip(request))
                logout(request)
                return render(request, "accounts/withdrawn.html")
    return render(request, "accounts/withdraw.html", {
        "challenge": issue_challenge(request.session, "withdraw"), "error": error,
    }, status=400 if error else 200)
