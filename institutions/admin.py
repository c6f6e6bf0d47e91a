"""Reference data in the national admins' site: regions, approving bodies, institution types,
categories, medical information systems, and the institutions themselves.

Reference data is edited here (Django's admin log records who changed what). An institution's
number, name and address are not: the helpdesk corrects name and address with a reason, in
the audit trail. 기관등록 신청 are read here only: the address's health center decides them
and the helpdesk corrects them, each through its audited service.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy

from accounts.models import User
from institutions.models import (
    ApprovingBody,
    Category,
    Institution,
    InstitutionRequest,
    InstitutionType,
    MedicalInformationSystem,
    Region,
    SupplementaryInfo,
)
from kdcis.admin_site import ReadOnlyAdmin, kdcis_admin_site
from kdcis.phones import mask_mobile, mask_name
from permissions.models import Grant, Officer


def _count_of(queryset, fk: str):
    """A correlated COUNT per row (index-friendly, unlike a join and GROUP BY of big tables)."""
    counted = (queryset.filter(**{fk: OuterRef("pk")}).order_by().values(fk)
               .annotate(n=Count("pk")).values("n")[:1])
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@admin.register(Region, site=kdcis_admin_site)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "body_count")
    search_fields = ("code", "name")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_bodies=Count("approvingbody"))

    @admin.display(description=gettext_lazy("승인기관 수"), ordering="_bodies")
    def body_count(self, obj: Region) -> int:
        return obj._bodies

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # institutions and bodies refer to regions; the list follows the law


@admin.register(ApprovingBody, site=kdcis_admin_site)
class ApprovingBodyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "region", "sigungu", "sigungu_code", "center_kind",
                    "phone", "is_active", "officer_count", "pending_count")
    list_filter = ("kind", "is_active", "region", "center_kind")
    search_fields = ("code", "name", "sigungu", "sigungu_code")
    list_select_related = ("region",)
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _officers=_count_of(Officer.objects.all(), "body"),
            _pending=_count_of(Grant.objects.filter(status=Grant.Status.REQUESTED), "body"),
        )

    @admin.display(description=gettext_lazy("담당자 수"), ordering="_officers")
    def officer_count(self, obj: ApprovingBody) -> int:
        return obj._officers

    @admin.display(description=gettext_lazy("대기 신청"), ordering="_pending")
    def pending_count(self, obj: ApprovingBody) -> int:
        return obj._pending

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # requests and officers refer to it: switch '사용' off instead


@admin.register(InstitutionType, site=kdcis_admin_site)
class InstitutionTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "is_medical", "sort")
    list_editable = ("sort",)
    list_filter = ("is_medical",)
    search_fields = ("code", "name")


@admin.register(Category, site=kdcis_admin_site)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(MedicalInformationSystem, site=kdcis_admin_site)
class MedicalInformationSystemAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "sort")
    list_editable = ("is_active", "sort")
    list_filter = ("is_active",)
    search_fields = ("name",)


@admin.register(Institution, site=kdcis_admin_site)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ("number", "name", "type", "category", "region", "jurisdiction", "phone",
                    "user_count")
    list_filter = ("type", "region", "category")
    search_fields = ("=number", "name", "address")
    search_help_text = gettext_lazy("기관번호(전체), 기관명 또는 주소로 검색합니다.")
    list_select_related = ("type", "category", "region", "jurisdiction", "jurisdiction__region")
    autocomplete_fields = ("jurisdiction",)
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _users=_count_of(User.objects.all(), "institution"))

    @admin.display(description=gettext_lazy("사용자 수"), ordering="_users")
    def user_count(self, obj: Institution) -> int:
        return obj._users

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # Corrected only by the helpdesk, with a reason, in the audit trail; the corrected
        # fields (kept by re-imports) are shown.
        return ("number", "name", "postcode", "address", "corrections")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # an institution's data outlives its users


def _mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at:
        return mask_name(value)
    return f"{local[:2]}{'*' * max(len(local) - 2, 1)}@{domain}"


@admin.register(SupplementaryInfo, site=kdcis_admin_site)
class SupplementaryInfoAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Read here, written only by the institution's users through their service (audited)."""

    list_display = ("institution", "english_name", "category", "jurisdiction",
                    "information_system", "masked_representative", "masked_mobile",
                    "masked_email", "complete", "updated_at")
    list_filter = ("category", "information_system", "jurisdiction__region", "email_consent",
                   "mobile_consent", "updated_at")
    search_fields = ("=institution__number", "institution__name", "english_name",
                     "=business_number")
    search_help_text = gettext_lazy(
        "기관번호(전체), 기관명, 영문 기관명 또는 사업자등록번호(전체)로 검색합니다."
    )
    list_select_related = ("institution", "category", "jurisdiction", "jurisdiction__region",
                           "information_system")
    show_full_result_count = False
    fields = readonly_fields = (
        "institution", "english_name", "business_number", "masked_representative",
        "phone_area", "phone_number", "fax_area", "fax_number", "category", "jurisdiction",
        "information_system", "information_system_other", "staff_counts", "masked_mobile",
        "masked_email", "email_consent", "mobile_consent", "consented_at", "updated_at",
        "updated_by", "complete",
    )

    @admin.display(description=gettext_lazy("대표자 성명"))
    def masked_representative(self, obj: SupplementaryInfo) -> str:
        return mask_name(obj.representative_name)

    @admin.display(description=gettext_lazy("대표자 휴대전화번호"))
    def masked_mobile(self, obj: SupplementaryInfo) -> str:
        return mask_mobile(obj.mobile) if obj.mobile else ""

    @admin.display(description=gettext_lazy("의료기관 E-Mail"))
    def masked_email(self, obj: SupplementaryInfo) -> str:
        return _mask_email(obj.email) if obj.email else ""

    @admin.display(description=gettext_lazy("예진의사·접종자"))
    def staff_counts(self, obj: SupplementaryInfo) -> str:
        # Names of doctors and vaccinators are personal data: only how many are listed.
        return f"{len(obj.predoctor_names or [])}명 · {len(obj.vaccinator_names or [])}명"

    @admin.display(description=gettext_lazy("입력 완료"), boolean=True)
    def complete(self, obj: SupplementaryInfo) -> bool:
        return obj.is_complete


@admin.register(InstitutionRequest, site=kdcis_admin_site)
class InstitutionRequestAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """기관등록 신청 across the country, view only.

    Deciding belongs to the health center of the address (its officers, on the '기관등록
    신청' tab of /approvals/), correcting to the helpdesk (/helpdesk/institution-requests/):
    both through institutions.services, which check who may and write the audit row. The
    applicant's name and mobile number are shown masked; the signup draft's key, which
    lets a session continue the request, is not shown at all.
    """

    list_display = ("reference_", "name", "type", "status", "body", "masked_applicant",
                    "submitted_at", "decided_at", "institution")
    list_filter = ("status", "type", "body__region", "submitted_at", "decided_at")
    search_fields = ("name", "=business_number", "address", "body__name")
    search_help_text = gettext_lazy(
        "접수번호(R000123), 기관명, 사업자등록번호(전체), 주소 또는 관할보건소명으로 검색합니다."
    )
    list_select_related = ("type", "body", "body__region", "institution")
    show_full_result_count = False
    ordering = ("-submitted_at", "-pk")
    date_hierarchy = "submitted_at"
    fields = readonly_fields = (
        "reference_", "status", "name", "type", "business_number", "postcode", "address",
        "region", "sigungu_code", "dong", "phone", "body", "masked_applicant",
        "masked_applicant_mobile", "submitted_at", "decided_at", "decided_by", "reason",
        "institution",
    )

    @admin.display(description=gettext_lazy("접수번호"), ordering="pk")
    def reference_(self, obj: InstitutionRequest) -> str:
        return obj.reference

    @admin.display(description=gettext_lazy("신청자"))
    def masked_applicant(self, obj: InstitutionRequest) -> str:
        return mask_name(obj.applicant_name)

    @admin.display(description=gettext_lazy("신청자 휴대전화번호"))
    def masked_applicant_mobile(self, obj: InstitutionRequest) -> str:
        return mask_mobile(obj.applicant_mobile) if obj.applicant_mobile else ""

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if len(term) == 7 and term[:1] in "Rr" and term[1:].isdigit():
            # A 접수번호 names one request: the applicant reads it out on the phone.
            return queryset.filter(pk=int(term[1:])), False
        return super().get_search_results(request, queryset, search_term)
