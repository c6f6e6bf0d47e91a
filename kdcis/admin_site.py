"""The national admins' Django admin: password plus a TOTP code, and the admins' reports.

Only staff verified by a confirmed OTP device get in (django-otp's `OTPAdminSite`); a staff
user without a device cannot log in at all. Failed logins are limited per username and per
client address, and audited.
Every app registers its models on `kdcis_admin_site`, never on Django's default site.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext_lazy
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.forms import OTPAuthenticationFormMixin

from kdcis import ratelimit
from kdcis.ratelimit import client_ip

#: Sent with `reason_code` and `ip` for every refused admin login; and with `user` and `ip`
#: for every admin login with a verified OTP device. The accounts app records both (its
#: services write the audit rows): this module imports no app.
admin_login_failed = Signal()
admin_login_succeeded = Signal()


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
    admin_login_failed.send(sender=KdcisAdminSite, reason_code=reason_code, ip=ip)


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
            admin_login_succeeded.send(sender=KdcisAdminSite, user=request.user,
                                       ip=client_ip(request))
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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._extra_views: list[tuple[str, object, str]] = []

    def register_view(self, route: str, view, *, name: str) -> None:
        """A page of the site that is no model's (an app's report), behind `admin_view`."""
        self._extra_views.append((route, view, name))

    def get_urls(self):
        urls = [path(route, self.admin_view(view), name=name)
                for route, view, name in self._extra_views]
        return urls + super().get_urls()


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
