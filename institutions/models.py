"""Where users work: regions, approving bodies, institutions and their reference data."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Region(models.Model):
    """A 시도 (province-level region), keyed by its 법정동 code."""

    code = models.CharField(_("코드"), max_length=2, primary_key=True)
    name = models.CharField(_("시도"), max_length=40, unique=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("시도")
        verbose_name_plural = _("시도")

    def __str__(self) -> str:
        return self.name


class ApprovingBody(models.Model):
    """A body that decides permission requests: a health center or the central department."""

    class Kind(models.TextChoices):
        HEALTH_CENTER = "health_center", _("보건소")
        CENTRAL = "central", _("중앙부서")

    code = models.CharField(_("기관코드"), max_length=20, unique=True)
    name = models.CharField(_("기관명"), max_length=100)
    kind = models.CharField(_("구분"), max_length=20, choices=Kind.choices)
    region = models.ForeignKey(
        Region, verbose_name=_("시도"), null=True, blank=True, on_delete=models.PROTECT
    )
    sigungu = models.CharField(_("시군구"), max_length=40, blank=True)
    sigungu_code = models.CharField(_("시군구코드"), max_length=5, blank=True, db_index=True)
    center_kind = models.CharField(_("보건소 종류"), max_length=20, blank=True)
    phone = models.CharField(_("전화번호"), max_length=20, blank=True)
    is_active = models.BooleanField(_("사용"), default=True)

    class Meta:
        ordering = ["region_id", "sigungu", "name"]
        verbose_name = _("승인기관")
        verbose_name_plural = _("승인기관")

    def __str__(self) -> str:
        if self.region_id:
            return f"{self.region.name} {self.name}"
        return self.name

    @property
    def contact_phone(self) -> str:
        return self.phone or "1644-1407"


class InstitutionType(models.Model):
    """기관유형: 기관, 병의원, 약국, 보건소 …"""

    code = models.CharField(_("코드"), max_length=20, unique=True)
    name = models.CharField(_("기관유형"), max_length=40)
    is_medical = models.BooleanField(
        _("의료기관 여부"), default=False,
        help_text=_("의료기관은 부가정보 입력이 필요합니다."),
    )
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("기관유형")
        verbose_name_plural = _("기관유형")

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    """종별구분: the HIRA institution categories (01 상급종합병원 … 94 한약방)."""

    code = models.CharField(_("코드"), max_length=2, unique=True)
    name = models.CharField(_("종별구분"), max_length=40)

    class Meta:
        ordering = ["code"]
        verbose_name = _("종별구분")
        verbose_name_plural = _("종별구분")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class MedicalInformationSystem(models.Model):
    """사용하는 의료정보시스템: a list maintained in the admin."""

    name = models.CharField(_("시스템명"), max_length=100, unique=True)
    is_active = models.BooleanField(_("사용"), default=True)
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort", "name"]
        verbose_name = _("의료정보시스템")
        verbose_name_plural = _("의료정보시스템")

    def __str__(self) -> str:
        return self.name


class Institution(models.Model):
    """An institution users belong to. Its data outlives any one user's account.

    Institutions imported from HIRA's lists are never deleted: one that vanished from its
    list is marked closed (폐업) and no longer offered in the signup's search.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("운영")
        CLOSED = "closed", _("폐업")

    class Source(models.TextChoices):
        MANUAL = "", _("수기 등록")
        HIRA_HOSPITALS = "hira_hospitals", _("병원정보서비스")
        HIRA_PHARMACIES = "hira_pharmacies", _("약국정보서비스")
        REGISTRATION = "registration", _("기관등록 신청")

    # HIRA's public files carry the encrypted 요양기관기호 (암호화요양기호, 80 characters).
    number = models.CharField(_("기관번호"), max_length=100, unique=True)
    name = models.CharField(_("기관명"), max_length=120, db_index=True)
    # The name as the search compares it (institutions.search.name_key): no spaces, lower case.
    name_key = models.CharField(_("검색용 기관명"), max_length=120, blank=True, editable=False)
    # name_key in Hangul letters (institutions.search.jamo): what the search compares and
    # orders by, and what its indexes hold.
    name_jamo = models.CharField(max_length=400, blank=True, editable=False)
    status = models.CharField(_("상태"), max_length=10, choices=Status.choices,
                              default=Status.OPEN)
    closed_at = models.DateTimeField(_("폐업 처리일시"), null=True, blank=True)
    source = models.CharField(_("출처"), max_length=20, choices=Source.choices, blank=True,
                              default=Source.MANUAL)
    opened_on = models.DateField(_("개설일자"), null=True, blank=True)
    dong = models.CharField(_("읍면동"), max_length=40, blank=True)
    type = models.ForeignKey(InstitutionType, verbose_name=_("기관유형"), on_delete=models.PROTECT)
    category = models.ForeignKey(
        Category, verbose_name=_("종별구분"), null=True, blank=True, on_delete=models.PROTECT
    )
    postcode = models.CharField(_("우편번호"), max_length=5, blank=True)
    address = models.CharField(_("주소"), max_length=200, blank=True)
    region = models.ForeignKey(Region, verbose_name=_("시도"), on_delete=models.PROTECT)
    sigungu_code = models.CharField(_("시군구코드"), max_length=5, blank=True)
    jurisdiction = models.ForeignKey(
        ApprovingBody, verbose_name=_("관할보건소"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="institutions",
    )
    phone = models.CharField(_("전화번호"), max_length=20, blank=True)
    # Fields the helpdesk corrected (institutions.services.institution_correct), each with
    # the value the institution's list had then: a re-import keeps the correction and
    # reports the list's value, until the list says the same (institutions_import).
    corrections = models.JSONField(_("헬프데스크 수정 항목"), default=dict, blank=True,
                                   editable=False)

    class Meta:
        ordering = ["name", "number"]
        verbose_name = _("기관")
        verbose_name_plural = _("기관")
        indexes = [
            # Number prefixes use this on PostgreSQL whatever the collation. The name
            # search's indexes (a trigram index and partial btrees in "C" order on
            # name_jamo) are created by migrations 0007 and 0009: they need pg_trgm or a
            # collation SQLite does not have.
            models.Index(fields=["number"], name="institution_number_prefix_idx",
                         opclasses=["varchar_pattern_ops"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(status="open", closed_at__isnull=True)
                           | models.Q(status="closed", closed_at__isnull=False)),
                name="institution_closed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"

    def save(self, *args, **kwargs):
        from institutions.search import jamo, name_key

        self.name_key = name_key(self.name)
        self.name_jamo = jamo(self.name_key)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key", "name_jamo"}
        super().save(*args, **kwargs)

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


class SupplementaryInfo(models.Model):
    """의료기관 부가정보: belongs to the institution, so it outlives any user's withdrawal and
    every user of the institution edits the same record. Changed only by
    `institutions.services.supplementary_info_save`.

    The e-mail and the mobile number are kept only while their notice consent is given
    (개인정보 수집 동의); the check constraints below hold that rule in the database.
    """

    institution = models.OneToOneField(
        Institution, verbose_name=_("기관"), on_delete=models.CASCADE,
        related_name="supplementary",
    )
    english_name = models.CharField(_("기관명(영문)"), max_length=100)
    business_number = models.CharField(_("사업자등록번호"), max_length=10)
    representative_name = models.CharField(_("대표자 성명"), max_length=30)
    phone_area = models.CharField(_("전화번호 지역번호"), max_length=4)
    phone_number = models.CharField(_("전화번호"), max_length=8)
    fax_area = models.CharField(_("팩스번호 지역번호"), max_length=4, blank=True)
    fax_number = models.CharField(_("팩스번호"), max_length=8, blank=True)
    category = models.ForeignKey(
        Category, verbose_name=_("종별구분"), on_delete=models.PROTECT, related_name="+",
    )
    jurisdiction = models.ForeignKey(
        ApprovingBody, verbose_name=_("관할보건소"), on_delete=models.PROTECT,
        related_name="supplementary_infos",
    )
    information_system = models.ForeignKey(
        MedicalInformationSystem, verbose_name=_("사용하는 의료정보시스템"),
        on_delete=models.PROTECT, related_name="+",
    )
    information_system_other = models.CharField(
        _("의료정보시스템(기타)"), max_length=100, blank=True,
    )
    predoctor_names = models.JSONField(_("예진의사명"), default=list, blank=True)
    vaccinator_names = models.JSONField(_("접종자성명"), default=list, blank=True)
    mobile = models.CharField(_("대표자 휴대전화번호"), max_length=11, blank=True)
    email = models.EmailField(_("의료기관 E-Mail"), max_length=254, blank=True)
    email_consent = models.BooleanField(
        _("이메일 수집(이용) 동의"), null=True, help_text=_("비어 있으면 선택하지 않음"),
    )
    mobile_consent = models.BooleanField(
        _("휴대전화번호 수집(이용) 동의"), null=True, help_text=_("비어 있으면 선택하지 않음"),
    )
    consented_at = models.DateTimeField(_("동의 선택일시"), null=True, blank=True)
    updated_at = models.DateTimeField(_("수정일시"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("수정자"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )

    class Meta:
        verbose_name = _("의료기관 부가정보")
        verbose_name_plural = _("의료기관 부가정보")
        constraints = [
            # An e-mail address only with consent, and consent only with an address.
            models.CheckConstraint(
                condition=(
                    models.Q(email="")
                    | models.Q(email_consent=True, email_consent__isnull=False)
                ),
                name="supplementaryinfo_email_needs_consent",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(email_consent=False) | models.Q(email_consent__isnull=True)
                    | ~models.Q(email="")
                ),
                name="supplementaryinfo_consent_needs_email",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(mobile="")
                    | models.Q(mobile_consent=True, mobile_consent__isnull=False)
                ),
                name="supplementaryinfo_mobile_needs_consent",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(mobile_consent=False) | models.Q(mobile_consent__isnull=True)
                    | ~models.Q(mobile="")
                ),
                name="supplementaryinfo_consent_needs_mobile",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution_id}: {self.english_name}"

    # Completeness, as one filter so a selector can ask the database in a single query.
    COMPLETE = (
        models.Q(english_name__gt="", business_number__gt="", representative_name__gt="",
                 phone_area__gt="", phone_number__gt="")
        & models.Q(email_consent__isnull=False, mobile_consent__isnull=False)
    )

    @property
    def is_complete(self) -> bool:
        return all((
            self.english_name, self.business_number, self.representative_name,
            self.phone_area, self.phone_number, self.category_id, self.jurisdiction_id,
            self.information_system_id, self.email_consent is not None,
            self.mobile_consent is not None,
        ))


class InstitutionRequest(models.Model):
    """기관등록 신청: an applicant whose institution is not in the registry asks the health
    center of its address to register it. Changed only by institutions.services
    (institution_request_*)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("신청중")
        REGISTERED = "registered", _("등록완료")
        REJECTED = "rejected", _("반려")
        CANCELLED = "cancelled", _("신청취소")

    status = models.CharField(_("상태"), max_length=12, choices=Status.choices,
                              default=Status.REQUESTED)
    name = models.CharField(_("기관명"), max_length=120)
    type = models.ForeignKey(InstitutionType, verbose_name=_("기관유형"),
                             on_delete=models.PROTECT, related_name="+")
    business_number = models.CharField(_("사업자등록번호"), max_length=10)
    postcode = models.CharField(_("우편번호"), max_length=5)
    address = models.CharField(_("주소"), max_length=200)
    region = models.ForeignKey(Region, verbose_name=_("시도"), on_delete=models.PROTECT,
                               related_name="+")
    sigungu_code = models.CharField(_("시군구코드"), max_length=5)
    dong = models.CharField(_("읍면동"), max_length=40, blank=True)
    phone = models.CharField(_("전화번호"), max_length=20)
    body = models.ForeignKey(ApprovingBody, verbose_name=_("관할보건소"),
                             on_delete=models.PROTECT, related_name="institution_requests")
    applicant_name = models.CharField(_("신청자"), max_length=30)
    applicant_mobile = models.CharField(_("신청자 휴대전화번호"), max_length=11, blank=True)
    # The signup draft that asked (accounts.SignupDraft.key): its applicant continues with
    # the registered institution.
    draft_key = models.CharField(max_length=64, blank=True, db_index=True)
    institution = models.ForeignKey(Institution, verbose_name=_("등록된 기관"), null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("반려 사유"), max_length=500, blank=True)
    submitted_at = models.DateTimeField(_("신청일시"), auto_now_add=True)
    decided_at = models.DateTimeField(_("처리일시"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("처리자"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        verbose_name = _("기관등록 신청")
        verbose_name_plural = _("기관등록 신청")
        indexes = [models.Index(fields=["body", "status", "submitted_at"],
                                name="instreq_queue_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="registered") | models.Q(institution__isnull=False),
                name="instreq_registered_has_institution"),
            models.CheckConstraint(
                condition=~models.Q(status="rejected") | ~models.Q(reason=""),
                name="instreq_rejected_has_reason"),
            models.CheckConstraint(
                condition=models.Q(business_number__regex=r"^[0-9]{10}$"),
                name="instreq_business_number_digits"),
            # One open request per signup draft.
            models.UniqueConstraint(
                fields=["draft_key"], condition=models.Q(status="requested") & ~models.Q(
                    draft_key=""), name="instreq_one_open_per_draft"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.name}"

    @property
    def reference(self) -> str:
        """접수번호 shown to the applicant and the officer."""
        return f"R{self.pk:06d}" if self.pk else ""
