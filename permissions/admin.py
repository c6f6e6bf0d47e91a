"""Permission types, requests and officers in the national admins' site.

A request's status is never edited here: the admin actions 'approve' and 'reject' call the
same services as the officers' pages, so each decision has its audit row. Officers are
assigned and unassigned through their services as well.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.selectors import expiring_certificates
from kdcis.admin_site import kdcis_admin_site, shown
from kdcis.audit import last_verification
from kdcis.phones import mask_name
from kdcis.ratelimit import client_ip
from permissions.models import Grant, Officer, PermissionType
from permissions.selectors import REPORT_DAYS, decision_times_by_body, pending_by_body
from permissions.services import grants_decide, officer_assign, officer_unassign


@admin.register(PermissionType, site=kdcis_admin_site)
class PermissionTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "approver", "menu_area", "menu_label", "revocable", "sort")
    list_filter = ("approver", "revocable")
    search_fields = ("code", "name", "menu_label")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # requests refer to it


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("반려 사유"), max_length=500, strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy("신청자에게 문자로 전달됩니다. 개인정보는 적지 마세요."),
        error_messages={"required": gettext_lazy("반려 사유를 입력하세요.")},
    )


@admin.register(Grant, site=kdcis_admin_site)
class GrantAdmin(admin.ModelAdmin):
    list_display = ("id", "user_", "applicant_name", "institution", "permission_type", "body",
                    "status", "requested_at", "decided_at", "decided_by")
    list_filter = ("status", "permission_type", "body__kind", "body__region", "requested_at",
                   "decided_at")
    search_fields = ("user__username", "user__name", "=user__institution__number",
                     "user__institution__name", "body__name", "=body__code")
    search_help_text = gettext_lazy(
        "신청자 아이디·이름, 기관명·기관번호(전체) 또는 승인기관명·기관코드(전체)로 검색합니다."
    )
    list_select_related = ("user", "user__institution", "permission_type", "body",
                           "body__region", "decided_by")
    ordering = ("-requested_at", "-id")
    show_full_result_count = False
    actions = ["approve_selected", "reject_selected"]
    fields = readonly_fields = (
        "user_", "applicant_name", "institution", "permission_type", "body", "status",
        "requested_at", "decided_at", "decided_by", "reason", "last_used_on", "revoked_at",
        "warned_for",
    )

    # Requests are made by applicants and decided by actions: the page itself is view-only,
    # so no form can carry a changed status (POSTing one is refused).
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    user_ = shown("user", gettext_lazy("신청자 아이디"), ordering="user__username")

    def has_decide_permission(self, request) -> bool:
        return request.user.is_superuser  # the services accept national admins only

    @admin.display(description=gettext_lazy("이름"), ordering="user__name")
    def applicant_name(self, obj: Grant) -> str:
        return mask_name(obj.user.name)

    @admin.display(description=gettext_lazy("소속기관"), ordering="user__institution__name")
    def institution(self, obj: Grant):
        return obj.user.institution or "-"

    @staticmethod
    def _label(grant: Grant) -> str:
        return _("#%(id)s %(perm)s (%(user)s)") % {
            "id": grant.pk, "perm": grant.permission_type.name, "user": grant.user.username,
        }

    @admin.action(description=gettext_lazy("선택한 신청 승인"), permissions=["decide"])
    def approve_selected(self, request, queryset):
        grants = list(queryset.select_related("user", "permission_type").order_by("pk"))
        self._report(request, grants, grants_decide(
            grant_ids=[g.pk for g in grants], approve=True, admin=request.user,
            ip=client_ip(request)), _("%(grant)s: 승인했습니다."))

    def _report(self, request, grants, decisions, done_message) -> None:
        labels = {g.pk: self._label(g) for g in grants}
        for decision in decisions:
            label = labels[decision.grant_id]
            if decision.grant is None:
                messages.error(request, f"{label}: {decision.error}")
            else:
                messages.success(request, done_message % {"grant": label})

    @admin.action(description=gettext_lazy("선택한 신청 반려 (사유 입력)"), permissions=["decide"])
    def reject_selected(self, request, queryset):
        """An intermediate page asks for the reason; the second POST rejects each request."""
        grants = list(queryset.select_related("user", "permission_type", "body").order_by("pk"))
        form = RejectForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_bound and form.is_valid():
            self._report(request, grants, grants_decide(
                grant_ids=[g.pk for g in grants], approve=False,
                reason=form.cleaned_data["reason"], admin=request.user, ip=client_ip(request)),
                _("%(grant)s: 반려했습니다."))
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("선택한 신청 반려"),
            "opts": self.model._meta,
            "grants": grants,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/permissions/grant/reject_selected.html", context)


class OfficerForm(forms.ModelForm):
    class Meta:
        model = Officer
        fields = ("user", "body")
        labels = {"user": gettext_lazy("사용자 (아이디)")}

    def clean_user(self):
        user = self.cleaned_data["user"]
        if user.status == User.Status.WITHDRAWN:
            raise forms.ValidationError(_("탈퇴한 사용자는 담당자로 지정할 수 없습니다."))
        return user


@admin.register(Officer, site=kdcis_admin_site)
class OfficerAdmin(admin.ModelAdmin):
    """Who decides for which body. Saving and deleting go through the audited services."""

    form = OfficerForm
    list_display = ("user_", "officer_name", "body", "body_kind", "region", "assigned_at")
    list_filter = ("body__kind", "body__region")
    search_fields = ("user__username", "user__name", "body__name", "=body__code")
    search_help_text = gettext_lazy("아이디, 이름, 승인기관명 또는 기관코드(전체)로 검색합니다.")
    list_select_related = ("user", "body", "body__region")
    autocomplete_fields = ("user", "body")
    ordering = ("body__region_id", "body__name", "user__username")

    user_ = shown("user", gettext_lazy("아이디"), ordering="user__username")

    def get_fields(self, request, obj=None):
        # A role moves to another body by editing; another user gets a role of their own.
        return ("user_", "body", "assigned_at") if obj is not None else ("user", "body")

    def get_readonly_fields(self, request, obj=None):
        return ("user_", "assigned_at") if obj is not None else ()

    @admin.display(description=gettext_lazy("이름"), ordering="user__name")
    def officer_name(self, obj: Officer) -> str:
        return mask_name(obj.user.name)

    @admin.display(description=gettext_lazy("구분"), ordering="body__kind")
    def body_kind(self, obj: Officer) -> str:
        return obj.body.get_kind_display()

    @admin.display(description=gettext_lazy("시도"), ordering="body__region")
    def region(self, obj: Officer):
        return obj.body.region or "-"

    def save_model(self, request, obj, form, change):
        officer = officer_assign(user=obj.user, body=obj.body, actor=request.user,
                                 ip=client_ip(request))
        # The admin logs and redirects to the saved object: hand it the service's row.
        obj.pk = officer.pk
        obj.assigned_at = officer.assigned_at
        obj._state.adding = False
        obj._state.db = officer._state.db

    def delete_model(self, request, obj):
        officer_unassign(user=obj.user, actor=request.user, ip=client_ip(request))

    def delete_queryset(self, request, queryset):
        ip = client_ip(request)
        for officer in queryset.select_related("user"):
            officer_unassign(user=officer.user, actor=request.user, ip=ip)


# ------------------------------------------------------------------------ the admins' reports

EXPIRING_PAGE_SIZE = 100


def reports_view(request: HttpRequest) -> HttpResponse:
    """Pending requests per body, decision times, certificates about to expire."""
    if not (request.user.has_perm("permissions.view_grant")
            and request.user.has_perm("accounts.view_certificatebinding")):
        raise PermissionDenied
    now = timezone.now()
    grant_list_url = reverse("admin:permissions_grant_changelist", current_app=kdcis_admin_site.name)
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
        **kdcis_admin_site.each_context(request),
        "title": _("관리 보고서"),
        "days": REPORT_DAYS,
        "now": now,
        "pending": pending,
        "pending_total": sum(row["count"] for row in pending),
        "decisions": decision_times_by_body(now=now),
        "expiring": expiring,
        "verification": last_verification(),
    }
    request.current_app = kdcis_admin_site.name
    return TemplateResponse(request, "admin/kdcis_site/reports.html", context)


kdcis_admin_site.register_view("reports/", reports_view, name="reports")
