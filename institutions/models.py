"""Where users work: regions, approving bodies, institutions and their reference data."""

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
    """An institution users belong to. Its data outlives any one user's account."""

    number = models.CharField(_("기관번호"), max_length=20, unique=True)
    name = models.CharField(_("기관명"), max_length=120, db_index=True)
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

    class Meta:
        ordering = ["name", "number"]
        verbose_name = _("기관")
        verbose_name_plural = _("기관")

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"
