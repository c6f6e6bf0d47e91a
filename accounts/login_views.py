"""Certificate login, logout, the home page and re-binding a renewed certificate."""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.certificates import (
    APPLICANT,
    CertificateError,
    CertificateIdentity,
    TrustStore,
    certificate_identity,
    verify_signed_challenge,
)
from accounts.challenges import (
    consume_challenge,
    consume_login_challenge,
    issue_login_challenge,
)
from accounts.forms import (
    CertificateForm,
)
from accounts.models import User
from accounts.revocation import revocation_sources
from accounts.selectors import (
    account_for_certificate,
    bindings_for_certificate,
    is_public_servant,
    renewal_candidate,
    superseded_certificate,
)
from accounts.services import (
    PhoneVerificationError,
    SignupError,
    certificate_rebind,
    login_failed,
    login_recorded,
    phone_code_check,
    phone_code_send,
    session_tie,
)
from kdcis import ratelimit
from kdcis.auth import BACKEND_PATH
from kdcis.errors import DomainError
from kdcis.ratelimit import client_ip


class PostedCertificateError(DomainError):
    """The posted certificate or signature was refused."""


def verify_posted_certificate(request: HttpRequest, purpose: str, *,
                              signer: str | None = APPLICANT):
    """Check the posted certificate and signature against the page's challenge: a signed
    single-use token for the login (no session needed), the session's for the others.

    Revocation is checked against the stored CRLs and OCSP (accounts.revocation). ``signer``
    says who presents it (GPKI/EPKI are for public servants); None at the login, which
    decides once it knows the account (:func:`check_signer`)."""
    form = CertificateForm(request.POST)
    if not form.is_valid():
        raise PostedCertificateError(
            _("인증서를 선택하고 암호를 입력한 뒤 '확인'을 누르세요."), code="incomplete")
    try:
        token = form.cleaned_data["challenge"]
        challenge = (consume_login_challenge(token) if purpose == "login"
                     else consume_challenge(request.session, purpose, token))
        certificate = base64.b64decode(form.cleaned_data["certificate"], validate=True)
        signature = base64.b64decode(form.cleaned_data["signature"], validate=True)
    except CertificateError as exc:
        raise PostedCertificateError(str(exc.message), code=exc.code) from None
    except (binascii.Error, ValueError):
        raise PostedCertificateError(
            _("인증서 정보를 읽을 수 없습니다. 다시 시도하세요."), code="malformed") from None
    try:
        return verify_signed_challenge(
            certificate=certificate, challenge=challenge, signature=signature,
            trust=TrustStore.from_settings(), revocation=revocation_sources(), signer=signer,
        )
    except CertificateError as exc:
        raise PostedCertificateError(str(exc.message), code=exc.code) from None


def check_signer(cert, user) -> None:
    """A GPKI/EPKI certificate only for an account the settings allow it for."""
    try:
        TrustStore.from_settings().check_signer(cert, staff=is_public_servant(user))
    except CertificateError as exc:
        raise PostedCertificateError(str(exc.message), code=exc.code) from None


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
        return redirect("home") if request.user.is_authenticated else _login_page(request)
    ip = client_ip(request)
    limits = _login_limits(request, ip)
    if ratelimit.over_limit(limits, window_seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS):
        # Refused before the challenge and signature are even looked at.
        login_failed(reason_code="rate_limited", ip=ip)
        return _login_page(
            request, status=429,
            error=_("로그인 실패가 너무 많습니다. %(minutes)d분 후에 다시 시도하세요.")
            % {"minutes": settings.LOGIN_FAILURE_WINDOW_SECONDS // 60},
        )
    try:
        cert = verify_posted_certificate(request, "login", signer=None)
        user = account_for_certificate(cert)
        check_signer(cert, user if user is not None else renewal_candidate(cert))
    except PostedCertificateError as exc:
        _count_failure(limits)
        login_failed(reason_code=exc.code, ip=ip)
        return _login_page(request, error=exc.message)
    if user is None:
        _count_failure(limits)
        return _unknown_certificate(request, cert, ip)
    login(request, user, backend=BACKEND_PATH)
    login_recorded(user=user, ip=ip)
    return redirect("home")


def _count_failure(limits: list[tuple[str, int]]) -> None:
    ratelimit.record([key for key, _limit in limits],
                     window_seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def _unknown_certificate(request: HttpRequest, cert, ip: str) -> HttpResponse:
    """A valid certificate no account holds: a renewal of an account's certificate goes on
    to re-binding it; anything else says why it cannot sign in."""
    candidate = renewal_candidate(cert)
    login_failed(reason_code="unknown_certificate", ip=ip, subject=candidate)
    if candidate is not None:
        request.session["rebind"] = {"user_id": candidate.pk, "cert": certificate_to_session(cert),
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


def certificate_to_session(cert) -> dict:
    return {
        "fingerprint": cert.fingerprint, "subject_cn": cert.subject_cn, "name": cert.name,
        "issuer": cert.issuer, "issuer_dn": cert.issuer_dn, "serial": cert.serial,
        "not_before": cert.not_before.isoformat(), "not_after": cert.not_after.isoformat(),
        "kind": cert.kind, "policy_oid": cert.policy_oid,
        "cert_class": cert.cert_class, "ca": cert.ca,
        "der": base64.b64encode(cert.der).decode(),
    }


def certificate_from_session(data: dict):
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
    found = _rebind_pending(request)
    if found is None:
        return redirect("login")
    pending, user = found
    if not request.session.session_key:
        request.session.save()
    error, sent = "", False
    try:
        if request.method == "POST" and request.POST.get("action") == "send_code":
            sent = _rebind_send_code(request, user)
        elif request.method == "POST" and request.POST.get("action") == "verify_code":
            return _rebind_verify(request, pending, user)
    except (PhoneVerificationError, SignupError) as exc:
        error = exc.message
    from kdcis.phones import mask_mobile

    return render(request, "accounts/rebind.html", {
        "masked_mobile": mask_mobile(user.mobile), "error": error, "sent": sent,
        "issuer": pending["cert"]["issuer"], "not_after": parse_datetime(
            pending["cert"]["not_after"]),
    })


def _rebind_pending(request: HttpRequest) -> tuple[dict, User] | None:
    """The re-binding the certificate login started in this session, while it is fresh and
    its account may still sign in; otherwise it is dropped."""
    pending = request.session.get("rebind")
    if pending and (timezone.now() - parse_datetime(pending["at"])).total_seconds() <= (
            settings.CERT_CHALLENGE_TTL_SECONDS * 2):
        user = User.objects.filter(pk=pending["user_id"],
                                   status__in=["pending", "active"]).first()
        if user is not None:
            return pending, user
    request.session.pop("rebind", None)
    return None


def _rebind_send_code(request: HttpRequest, user: User) -> bool:
    phone_code_send(session_key=request.session.session_key, phone=user.mobile,
                    ip=client_ip(request), purpose="rebind", user=user)
    messages.info(request, _("등록된 휴대폰번호로 인증번호를 보냈습니다."))
    return True


def _rebind_verify(request: HttpRequest, pending: dict, user: User) -> HttpResponse:
    """The code proves the account's phone: the renewed certificate replaces the old one
    and the person is signed in."""
    ip = client_ip(request)
    phone_code_check(session_key=request.session.session_key, phone=user.mobile,
                     code=(request.POST.get("code") or "").strip(), purpose="rebind", ip=ip)
    certificate_rebind(user=user, certificate=certificate_from_session(pending["cert"]), ip=ip)
    request.session.pop("rebind", None)
    login(request, user, backend=BACKEND_PATH)
    login_recorded(user=user, ip=ip)
    messages.success(request, _("갱신된 인증서가 등록되었습니다."))
    return redirect("home")
