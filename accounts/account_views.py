"""The signed-in user's own account: 내정보, 내 정보 열람 and withdrawal."""

from __future__ import annotations

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.certificates import (
    APPLICANT,
    STAFF,
)
from accounts.challenges import (
    issue_challenge,
)
from accounts.login_views import (
    PostedCertificateError,
    verify_posted_certificate,
)
from accounts.selectors import (
    bindings_for_certificate,
    is_public_servant,
)
from kdcis.ratelimit import client_ip


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
        except PostedCertificateError as exc:
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
