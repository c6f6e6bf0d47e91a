"""The national admins' Django admin: password plus a TOTP code, and the admins' reports.

Only staff verified by a confirmed OTP device get in (django-otp's `OTPAdminSite`); a staff
user without a device cannot log in at all. Failed logins are limited per username and per
client address, and audited.
Every app registers its models on `kdcis_admin_site`, never on Django's default site.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.forms import OTPAuthenticationFormMixin

from kdcis import ratelimit
from kdcis.phones import mask_name
from kdcis.ratelimit import client_ip

REPORT_DAYS = 30
EXPIRING_PAGE_SIZE = 100


def _failure_limits(ip: str, username: str) -> list[tuple[str, int]]:
    """Failed admin logins are counted per client address and per username (whether or not
    it exists, so the answer never tells)."""
    name = " ".join(str(username or "").split()).casefold()[:150]
    return [(f"admin-login-fail-ip:{ip}", settings.ADMIN_LOGIN_MAX_FAILURES_PER_IP),
            (f"admin-login-fail-user:{name}", settings.ADMIN_LOGIN_MAX_FAILURES_PER_USER)]


class AdminLoginForm(OTPAdminAuthenticationForm):
    """Password and the one-time code of the user's confirmed device, checked together.

    Every failure (wrong password, wrong or missing code, no confirmed device, a throttled
    device) gives the same answer and the same page, so a wrong code never tells that the
    password was right. With several confirmed devices the code is tried against each (the
    form cannot ask which one without telling the password was right).
    """

    otp_token = forms.CharField(
        label=gettext_lazy("OTP 인증코드"), required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    otp_error_messages = {
        **OTPAuthenticationFormMixin.otp_error_messages,
        "token_required": gettext_lazy("OTP 인증코드(6자리)를 입력하세요."),
        "invalid_token": gettext_lazy("OTP 인증코드가 올바르지 않습니다. 다시 확인하세요."),
        "n_failed_attempts": gettext_lazy(
            "OTP 인증 실패가 %(failure_count)d회 이어져 잠시 인증이 중지되었습니다. "
            "잠시 후 다시 시도하세요."
        ),
        "verification_not_allowed": gettext_lazy("지금은 OTP 인증을 할 수 없습니다."),
        "device_required": gettext_lazy("OTP 기기를 선택하세요."),
        "not_interactive": gettext_lazy("선택한 OTP 기기는 요청 방식을 지원하지 않습니다."),
    }
    error_messages = {
        **OTPAdminAuthenticationForm.error_messages,
        "no_device": gettext_lazy(
            "이 계정에는 확인된 OTP 기기가 없어 관리자 화면을 사용할 수 없습니다. "
            "다른 국가관리자에게 OTP 기기 등록을 요청하세요."
        ),
        "rate_limited": gettext_lazy(
            "관리자 로그인 실패가 너무 많습니다. %(minutes)d분 후에 다시 시도하세요."
        ),
        "login_failed": gettext_lazy(
            "아이디, 비밀번호 또는 OTP 인증코드가 올바르지 않습니다. 모두 다시 확인하세요. "
            "확인된 OTP 기기가 없는 계정은 관리자 화면을 사용할 수 없습니다."
        ),
    }

    def clean(self):
        ip = client_ip(self.request)
        window = settings.LOGIN_FAILURE_WINDOW_SECONDS
        limits = _failure_limits(ip, self.cleaned_data.get("username"))
        if ratelimit.over_limit(limits, window_seconds=window):
            # Refused before the password is even checked: guessing gains nothing.
            _login_failed("admin_rate_limited", ip)
            raise ValidationError(self.error_messages["rate_limited"] % {"minutes": window // 60},
                                  code="rate_limited")
        try:
            return super().clean()
        except ValidationError as exc:
            ratelimit.record([key for key, _limit in limits], window_seconds=window)
            _login_failed(_failure_reason(exc), ip)
            # One answer for every failure; the page must not show the device list either.
            self.user_cache = None
            raise ValidationError(self.error_messages["login_failed"],
                                  code="invalid_login") from None

    def clean_otp(self, user):
        if user is not None and not any(devices_for_user(user, confirmed=True)):
            raise ValidationError(self.error_messages["no_device"], code="no_device")
        return super().clean_otp(user)

    def _chosen_device(self, user):
        device = super()._chosen_device(user)
        if device is None and not self.cleaned_data.get("otp_device"):
            devices = list(devices_for_user(user, confirmed=True, for_verify=True))
            if len(devices) == 1:
                device = devices[0]
        return device

    def _verify_token(self, user, token, device=None):
        if device is None:
            for candidate in devices_for_user(user, confirmed=True, for_verify=True):
                allowed, _extra = candidate.verify_is_allowed()
                if allowed and candidate.verify_token(token):
                    return candidate
            raise ValidationError(self.otp_error_messages["invalid_token"],
                                  code="invalid_token")
        return super()._verify_token(user, token, device)

    def _update_form(self, user):
        # Neither the device list nor the password goes back to the browser: the page after
        # a failure is the same whatever was wrong.
        pass


def _failure_reason(exc: ValidationError) -> str:
    codes = {getattr(error, "code", None) for error in exc.error_list}
    if codes & {"invalid_login", "inactive"}:
        return "admin_password"
    if "no_device" in codes:
        return "admin_no_device"
    return "admin_otp"


def _login_failed(reason_code: str, ip: str) -> None:
    from accounts.services import login_failed

    login_failed(reason_code=reason_code, ip=ip)


class KdcisAdminSite(OTPAdminSite):
    """/admin/: staff with a verified OTP device only."""

    site_header = gettext_lazy("질병보건통합관리시스템 관리")
    site_title = gettext_lazy("질병보건통합관리시스템 관리")
    index_title = gettext_lazy("국가관리자 관리 화면")
    site_url = "/"
    login_form = AdminLoginForm
    login_template = "admin/kdcis_site/login.html"
    index_template = "admin/kdcis_site/index.html"
    enable_nav_sidebar = True

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        response = super().login(request, extra_context)
        # After a successful login `request.user` is the form's user, on which django-otp set
        # `otp_device` (the middleware's `is_verified()` belongs to the previous user object).
        if (request.method == "POST" and response.status_code == 302
                and request.user.is_authenticated
                and getattr(request.user, "otp_device", None) is not None):
            from accounts.services import login_recorded

            login_recorded(user=request.user, ip=client_ip(request))
        return response

    # Apps and models whose own names are not Korean (third-party, or no verbose_name).
    _app_names = {"otp_totp": gettext_lazy("OTP 인증")}
    _model_names = {
        "totpdevice": gettext_lazy("OTP 기기 (TOTP)"),
        "ratecounter": gettext_lazy("요청 횟수 제한"),
        "phoneverification": gettext_lazy("휴대폰 인증"),
    }

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            app["name"] = self._app_names.get(app["app_label"], app["name"])
            for model in app["models"]:
                model["name"] = self._model_names.get(model["object_name"].lower(),
                                                      model["name"])
        return app_list

    def get_urls(self):
        urls = [
            path("reports/", self.admin_view(self.reports_view), name="reports"),
        ]
        return urls + super().get_urls()

    def reports_view(self, request: HttpRequest) -> HttpResponse:
        """Pending requests per body, decision times, certificates about to expire."""
        if not (request.user.has_perm("permissions.view_grant")
                and request.user.has_perm("accounts.view_certificatebinding")):
            raise PermissionDenied
        now = timezone.now()
        grant_list_url = reverse("admin:permissions_grant_changelist", current_app=self.name)
        pending = pending_by_body()
        for row in pending:
            row["url"] = (f"{grant_list_url}?body__id__exact={row['body'].pk}"
                          "&status__exact=requested")
            row["age_days"] = (now - row["oldest"]).days
        expiring = Paginator(expiring_certificates(now=now), EXPIRING_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        for binding in expiring:
            binding.days_left = (binding.not_after - now).days
            binding.masked_name = mask_name(binding.user.name)
        context = {
            **self.each_context(request),
            "title": _("관리 보고서"),
            "days": REPORT_DAYS,
            "now": now,
            "pending": pending,
            "pending_total": sum(row["count"] for row in pending),
            "decisions": decision_times_by_body(now=now),
            "expiring": expiring,
            "verification": last_audit_verification(),
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/kdcis_site/reports.html", context)


# ----------------------------------------------------------------------------------- reports
# The reports read other apps' models; they are imported inside the functions so this module
# stays importable while the apps' admin modules (which import it) are being loaded.


def pending_by_body() -> list[dict]:
    """Requests waiting for a decision, per approving body, most waiting first."""
    from django.db.models import Count, Min

    from institutions.models import ApprovingBody
    from permissions.models import Grant

    rows = list(
        Grant.objects.filter(status=Grant.Status.REQUESTED)
        .values("body_id")
        .annotate(count=Count("id"), oldest=Min("requested_at"))
    )
    bodies = ApprovingBody.objects.select_related("region").in_bulk([r["body_id"] for r in rows])
    result = [{"body": bodies[r["body_id"]], "count": r["count"], "oldest": r["oldest"]}
              for r in rows]
    result.sort(key=lambda r: (-r["count"], r["oldest"]))
    return result


def decision_times_by_body(*, now: datetime | None = None, days: int = REPORT_DAYS) -> list[dict]:
    """Median time from request to decision per body, for decisions of the last `days` days.

    A decision is an approval or a rejection (a later revocation keeps its approval time);
    an applicant's own cancellation is not one. The median is computed in Python, so the same
    code runs on SQLite and PostgreSQL.
    """
    from institutions.models import ApprovingBody
    from permissions.models import Grant

    now = now or timezone.now()
    decided = Grant.objects.filter(
        status__in=[Grant.Status.APPROVED, Grant.Status.REJECTED, Grant.Status.REVOKED],
        decided_at__gte=now - timedelta(days=days), decided_at__lte=now,
    ).values_list("body_id", "status", "requested_at", "decided_at")
    durations: dict[int, list[float]] = defaultdict(list)
    rejected: dict[int, int] = defaultdict(int)
    for body_id, status, requested_at, decided_at in decided.iterator(chunk_size=5000):
        durations[body_id].append(max((decided_at - requested_at).total_seconds(), 0.0))
        if status == Grant.Status.REJECTED:
            rejected[body_id] += 1
    bodies = ApprovingBody.objects.select_related("region").in_bulk(list(durations))
    result = []
    for body_id, values in durations.items():
        median = timedelta(seconds=statistics.median(values))
        result.append({
            "body": bodies[body_id], "count": len(values), "rejected": rejected[body_id],
            "approved": len(values) - rejected[body_id], "median": median,
            "median_display": format_duration(median),
        })
    result.sort(key=lambda r: (-r["median"], str(r["body"])))
    return result


def expiring_certificates(*, now: datetime | None = None, days: int = REPORT_DAYS):
    """Certificates of current accounts that expire within `days` days, soonest first."""
    from accounts.models import CertificateBinding, User

    now = now or timezone.now()
    return (
        CertificateBinding.objects.filter(not_after__gte=now,
                                          not_after__lt=now + timedelta(days=days))
        .exclude(user__status=User.Status.WITHDRAWN)
        .select_related("user", "user__institution")
        .order_by("not_after", "pk")
    )


def last_audit_verification():
    """The last `verify_audit` result, or None when it never ran."""
    from kdcis.audit import last_verification

    return last_verification()


def format_duration(value: timedelta) -> str:
    """'2일 3시간', '5시간 12분', '8분': the two largest units."""
    minutes = int(value.total_seconds() // 60)
    days_, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days_:
        return _("%(d)d일 %(h)d시간") % {"d": days_, "h": hours}
    if hours:
        return _("%(h)d시간 %(m)d분") % {"h": hours, "m": minutes}
    return _("%(m)d분") % {"m": minutes}


# ------------------------------------------------------------- helpers for the apps' admins


class ReadOnlyAdmin:
    """For tables only services write (audit trail, outbox, verifications): view only."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def shown(field: str, label: str, *, boolean: bool = False, ordering: str | bool = True):
    """A column or read-only field showing `obj.<field>` under a Korean label.

    For fields without a Korean verbose name (the audit trail, the outbox, `user` links).
    `ordering`: True sorts by the field itself, a string by that lookup, False not at all.
    """
    order_by = field if ordering is True else (ordering or None)

    @admin.display(description=label, ordering=order_by, boolean=boolean)
    def show(self, obj):
        value = getattr(obj, field)
        return value() if callable(value) else value

    return show


def titled(title: str):
    """A list filter of the field's default kind, with a Korean title."""

    class TitledFilter(admin.FieldListFilter):
        def __new__(cls, field, request, params, model, model_admin, field_path):
            spec = admin.FieldListFilter.create(field, request, params, model, model_admin,
                                                field_path)
            spec.title = title
            return spec

    return TitledFilter


kdcis_admin_site = KdcisAdminSite(name="admin")
