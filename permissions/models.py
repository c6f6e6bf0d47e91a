"""What you may do: permission types, grants and their states, officers of approving bodies."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class PermissionType(models.Model):
    """A requestable permission, e.g. '예방접종관리 User', and the menu area it opens."""

    class Approver(models.TextChoices):
        HEALTH_CENTER = "health_center", _("관할 보건소")
        CENTRAL = "central", _("중앙부서")

    code = models.CharField(_("코드"), max_length=40, unique=True)
    name = models.CharField(_("권한명"), max_length=80)
    approver = models.CharField(_("승인기관 구분"), max_length=20, choices=Approver.choices)
    menu_area = models.CharField(
        _("메뉴 영역"), max_length=40, blank=True,
        help_text=_("이 권한이 여는 URL 영역 (예: vaccination → /vaccination/)"),
    )
    menu_label = models.CharField(_("메뉴 이름"), max_length=40, blank=True)
    revocable = models.BooleanField(_("미사용 시 자동 미승인"), default=True)
    sort = models.PositiveSmallIntegerField(default=0)
    description = models.CharField(_("설명"), max_length=200, blank=True)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("권한 종류")
        verbose_name_plural = _("권한 종류")

    def __str__(self) -> str:
        return self.name


class Grant(models.Model):
    """One request for a permission and what became of it.

    A rejected, revoked or cancelled row stays as history; asking again makes a new row. The
    database allows at most one open (requested or approved) row per user and permission.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("신청중")
        APPROVED = "approved", _("승인")
        REJECTED = "rejected", _("반려")
        REVOKED = "revoked", _("미승인")
        CANCELLED = "cancelled", _("신청취소")

    OPEN_STATUSES = (Status.REQUESTED, Status.APPROVED)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grants"
    )
    # No index of their own: a handful of types make one useless, and body_id leads
    # grant_queue_idx. Every index here is paid for by each status change.
    permission_type = models.ForeignKey(
        PermissionType, verbose_name=_("권한"), on_delete=models.PROTECT, related_name="grants",
        db_index=False,
    )
    body = models.ForeignKey(
        "institutions.ApprovingBody", verbose_name=_("승인기관"), on_delete=models.PROTECT,
        related_name="grants", db_index=False,
    )
    status = models.CharField(
        _("상태"), max_length=10, choices=Status.choices, default=Status.REQUESTED
    )
    requested_at = models.DateTimeField(_("신청일시"))
    decided_at = models.DateTimeField(_("처리일시"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("처리자"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    reason = models.TextField(_("사유"), blank=True)
    last_used_on = models.DateField(_("최근 사용일"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("미승인 일시"), null=True, blank=True)
    warned_for = models.DateField(
        _("미승인 예고 기준일"), null=True, blank=True,
        help_text=_("예고 문자를 보낸 사용 기준일 (같은 기간에 한 번만 보냄)"),
    )

    class Meta:
        verbose_name = _("권한 신청")
        verbose_name_plural = _("권한 신청")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "permission_type"],
                condition=Q(status__in=["requested", "approved"]),
                name="grant_one_open_per_user_and_type",
            ),
        ]
        indexes = [
            # The officers' queue, read a page at a time in (requested_at, id) order: by
            # status (the default '신청중' view), and across statuses ('전체').
            models.Index(fields=["body", "status", "requested_at", "id"],
                         name="grant_queue_idx"),
            models.Index(fields=["body", "requested_at", "id"], name="grant_body_queue_idx"),
            # Partial: only approved grants can go stale, and a grant leaving 'approved' (the
            # nightly revocation) then writes no entry here.
            models.Index(fields=["last_used_on"], condition=Q(status="approved"),
                         name="grant_stale_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.permission_type} ({self.get_status_display()})"


class Officer(models.Model):
    """An officer of one approving body. The role is given by a national admin."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="officer"
    )
    body = models.ForeignKey(
        "institutions.ApprovingBody", verbose_name=_("승인기관"), on_delete=models.PROTECT,
        related_name="officers",
    )
    assigned_at = models.DateTimeField(_("지정일시"), auto_now_add=True)

    class Meta:
        verbose_name = _("승인 담당자")
        verbose_name_plural = _("승인 담당자")

    def __str__(self) -> str:
        return f"officer {self.pk} @ {self.body_id}"  # pseudonymous, for the admin log


class ApprovalDigest(models.Model):
    """The digest one approving body's officers got on one day (Asia/Seoul). The unique
    constraint makes a second run that day, or two runs at once, send nothing more."""

    body = models.ForeignKey(
        "institutions.ApprovingBody", verbose_name=_("승인기관"), on_delete=models.CASCADE,
        related_name="digests",
    )
    day = models.DateField(_("발송일"))
    waiting = models.PositiveIntegerField(_("대기 건수"))
    officers_notified = models.PositiveIntegerField(_("발송 담당자 수"), default=0)
    sent_at = models.DateTimeField(_("발송일시"))

    class Meta:
        verbose_name = _("승인 대기 알림")
        verbose_name_plural = _("승인 대기 알림")
        constraints = [
            models.UniqueConstraint(fields=["body", "day"], name="one_digest_per_body_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.body_id} {self.day}"
