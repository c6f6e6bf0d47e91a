"""Users and what proves who they are, in the national admins' site.

Users are neither created nor edited here: signup, withdrawal and status changes are
services. The only change an admin makes to a user is a role (helpdesk here, officer on the
officer page), through the same audited services. Personal data is shown masked.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import CertificateBinding, Consent, PhoneVerification, User
from accounts.services import SignupError, helpdesk_assign
from kdcis.admin_site import ReadOnlyAdmin, kdcis_admin_site, shown, titled
from kdcis.phones import mask_mobile, mask_name
from kdcis.ratelimit import client_ip


class RoleFilter(admin.SimpleListFilter):
    title = gettext_lazy("역할")
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [
            ("officer", _("보건소 담당자")),
            ("central", _("중앙부서 담당자")),
            ("helpdesk", _("헬프데스크")),
            ("admin", _("국가관리자")),
            ("none", _("역할 없음 (신청자)")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "officer":
            return queryset.filter(officer__body__kind="health_center")
        if value == "central":
            return queryset.filter(officer__body__kind="central")
        if value == "helpdesk":
            return queryset.filter(is_helpdesk=True)
        if value == "admin":
            return queryset.filter(Q(is_staff=True) | Q(is_superuser=True))
        if value == "none":
            return queryset.filter(officer__isnull=True, is_helpdesk=False, is_staff=False,
                                   is_superuser=False)
        return queryset


@admin.register(User, site=kdcis_admin_site)
class UserAdmin(admin.ModelAdmin):
    list_display = ("username", "masked_name", "masked_mobile", "institution", "status",
                    "roles", "date_joined", "last_login")
    list_filter = ("status", RoleFilter, "institution__type", "is_active", "date_joined")
    search_fields = ("username", "name", "=mobile", "institution__name", "=institution__number")
    search_help_text = gettext_lazy(
        "아이디, 이름, 휴대폰번호(숫자만), 기관명 또는 기관번호로 검색합니다."
    )
    list_select_related = ("institution", "officer__body", "officer__body__region")
    show_full_result_count = False
    ordering = ("-date_joined",)
    actions = ["give_helpdesk_role", "take_helpdesk_role"]
    fields = readonly_fields = (
        "username", "masked_name", "masked_mobile", "masked_office_phone", "institution",
        "status", "roles", "is_active", "is_staff", "is_superuser", "date_joined",
        "last_login", "withdrawn_at", "ref", "certificate_summary", "otp_devices",
    )

    # Nothing about a user is edited here: the page is view-only, roles change by actions.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_roles_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm("accounts.change_user")

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset,
                                                                   search_term)
        if request.GET.get("model_name") == "officer":
            # The officer page's user picker offers only accounts that can take the role.
            queryset = queryset.exclude(status=User.Status.WITHDRAWN)
        return queryset, may_have_duplicates

    @admin.display(description=gettext_lazy("이름"), ordering="name")
    def masked_name(self, obj: User) -> str:
        return mask_name(obj.name)

    @admin.display(description=gettext_lazy("휴대폰번호"))
    def masked_mobile(self, obj: User) -> str:
        return mask_mobile(obj.mobile) if obj.mobile else ""

    @admin.display(description=gettext_lazy("기관(부서) 전화번호"))
    def masked_office_phone(self, obj: User) -> str:
        return mask_mobile(obj.office_phone) if obj.office_phone else ""

    @admin.display(description=gettext_lazy("역할"))
    def roles(self, obj: User) -> str:
        roles = []
        officer = getattr(obj, "officer", None)
        if officer is not None:
            roles.append(_("승인 담당자(%(body)s)") % {"body": officer.body.name})
        if obj.is_helpdesk:
            roles.append(_("헬프데스크"))
        if obj.is_superuser:
            roles.append(_("국가관리자"))
        elif obj.is_staff:
            roles.append(_("관리자"))
        return ", ".join(roles) or "-"

    @admin.display(description=gettext_lazy("인증서"))
    def certificate_summary(self, obj: User) -> str:
        binding = CertificateBinding.objects.filter(user=obj).first()
        if binding is None:
            return "-"
        return _("%(issuer)s, %(kind)s, 만료 %(date)s") % {
            "issuer": binding.issuer, "kind": binding.get_kind_display(),
            "date": binding.not_after.date().isoformat(),
        }

    @admin.display(description=gettext_lazy("확인된 OTP 기기"))
    def otp_devices(self, obj: User) -> int:
        return TOTPDevice.objects.filter(user=obj, confirmed=True).count()

    def _set_helpdesk(self, request, queryset, *, enabled: bool) -> None:
        ip = client_ip(request)
        for user in queryset:
            try:
                helpdesk_assign(user=user, enabled=enabled, actor=request.user, ip=ip)
            except SignupError as exc:
                messages.error(request, f"{user.username}: {exc}")
            else:
                messages.success(
                    request,
                    (_("%(user)s: 헬프데스크 역할을 주었습니다.") if enabled
                     else _("%(user)s: 헬프데스크 역할을 회수했습니다.")) % {"user": user.username},
                )

    @admin.action(description=gettext_lazy("선택한 사용자에게 헬프데스크 역할 주기"),
                  permissions=["roles"])
    def give_helpdesk_role(self, request, queryset):
        self._set_helpdesk(request, queryset, enabled=True)

    @admin.action(description=gettext_lazy("선택한 사용자의 헬프데스크 역할 회수"),
                  permissions=["roles"])
    def take_helpdesk_role(self, request, queryset):
        self._set_helpdesk(request, queryset, enabled=False)


def _user_column():
    return shown("user", gettext_lazy("아이디"), ordering="user__username")


@admin.register(CertificateBinding, site=kdcis_admin_site)
class CertificateBindingAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("user_", "masked_subject", "kind", "issuer", "serial", "not_before",
                    "not_after", "bound_at")
    list_filter = ("kind", "not_after", "bound_at")
    search_fields = ("user__username", "serial", "issuer", "=fingerprint")
    list_select_related = ("user",)
    ordering = ("not_after",)
    fields = readonly_fields = ("user_", "masked_subject", "kind", "issuer", "issuer_dn",
                                "serial", "fingerprint", "not_before", "not_after",
                                "policy_oid", "bound_at")

    user_ = _user_column()

    @admin.display(description=gettext_lazy("주체 CN"))
    def masked_subject(self, obj: CertificateBinding) -> str:
        # '홍길동()0010041200805281234567': the name and the identifying digits stay hidden.
        name, sep, _rest = obj.subject_cn.partition("(")
        return mask_name(name) + ("(…)" if sep else "")


@admin.register(Consent, site=kdcis_admin_site)
class ConsentAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("user_", "notice", "notice_version", "agreed_at")
    fields = readonly_fields = ("user_", "notice", "notice_version", "agreed_at")
    user_ = _user_column()
    list_filter = ("notice", "notice_version", "agreed_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)


@admin.register(PhoneVerification, site=kdcis_admin_site)
class PhoneVerificationAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("id", "masked_phone", "purpose_", "user_", "created", "expires",
                    "attempts_", "verified", "voided_", "ip_")
    list_filter = (("purpose", titled(gettext_lazy("용도"))),
                   ("voided", titled(gettext_lazy("무효"))),
                   ("created_at", titled(gettext_lazy("발송일시"))))
    search_fields = ("=phone", "=ip", "user__username")
    search_help_text = gettext_lazy("휴대폰번호(숫자만, 전체), IP 또는 아이디로 검색합니다.")
    list_select_related = ("user",)
    show_full_result_count = False
    ordering = ("-created_at",)
    # Never the code's hash nor the session key: they are of no use to anyone reading here.
    fields = readonly_fields = ("masked_phone", "purpose_", "user_", "created", "expires",
                                "attempts_", "verified", "voided_", "ip_")

    user_ = _user_column()
    purpose_ = shown("purpose", gettext_lazy("용도"))
    created = shown("created_at", gettext_lazy("발송일시"))
    expires = shown("expires_at", gettext_lazy("만료일시"))
    attempts_ = shown("attempts", gettext_lazy("입력 시도"))
    verified = shown("verified_at", gettext_lazy("인증일시"))
    voided_ = shown("voided", gettext_lazy("무효"), boolean=True)
    ip_ = shown("ip", gettext_lazy("IP"))

    @admin.display(description=gettext_lazy("휴대폰번호"))
    def masked_phone(self, obj: PhoneVerification) -> str:
        return mask_mobile(obj.phone)


class KdcisTOTPDeviceAdmin(TOTPDeviceAdmin):
    """django-otp's own device admin (QR code for the authenticator app), labelled in Korean.

    A national admin adds a device for a staff user; without a confirmed one that user cannot
    log in to the admin.
    """

    search_help_text = gettext_lazy("아이디로 검색합니다.")
    _titles = {
        "Identity": gettext_lazy("기기"),
        "Timestamps": gettext_lazy("일시"),
        "Configuration": gettext_lazy("설정"),
        "State": gettext_lazy("상태"),
        "Throttling": gettext_lazy("실패 제한"),
    }

    def get_fieldsets(self, request, obj=None):
        return [(self._titles.get(title, title), options)
                for title, options in super().get_fieldsets(request, obj)]


kdcis_admin_site.register(TOTPDevice, KdcisTOTPDeviceAdmin)
