"""Cross-cutting tables: the audit trail, the SMS outbox, rate counters, notices (공지 and
업무연락), frequently asked questions and files."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One append-only row per state change. Never holds personal data in old/new.

    Users are referred to by their pseudonymous reference (`User.ref`), so the trail can be
    kept after a withdrawal erases the person.

    The rows form one hash chain in `seq` order (kdcis/audit.py): `hash` is the SHA-256 of
    `prev_hash` and the row's canonical content. Rows are only ever appended through
    kdcis.audit, which takes the chain head's row lock; `manage.py verify_audit` walks it.
    """

    # Set by kdcis.audit before the hash is computed (auto_now_add would overwrite it).
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,  # partial index in Meta
    )
    actor_ref = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    subject_ref = models.CharField(max_length=64, blank=True,
                                   help_text="pseudonymous reference of the user concerned")
    old = models.JSONField(default=dict, blank=True)
    new = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    #: Position in the chain: 1, 2, 3 … with no gap, assigned under the chain head's lock.
    seq = models.BigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-at", "-id"]
        # Each index here is paid for by every audit row, and the nightly revocation writes
        # one row per revoked grant, so only indexes some query uses: the admin's newest-first
        # list and its filter by action, a person's timeline (helpdesk, withdrawal) and an
        # actor's own rows (withdrawal). Plain btree: `db_index=True` on a CharField would
        # add a `varchar_pattern_ops` twin for LIKE that nothing here runs; system rows (no
        # actor) are left out of the actor index.
        indexes = [
            models.Index(fields=["action"], name="audit_action_idx"),
            models.Index(fields=["subject_ref"], name="audit_subject_idx"),
            models.Index(fields=["actor"], condition=models.Q(actor__isnull=False),
                         name="audit_actor_idx"),
        ]
        verbose_name = _("감사 기록")
        verbose_name_plural = _("감사 기록")
        constraints = [
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_seq_positive"),
            models.CheckConstraint(
                condition=models.Q(hash__regex=r"^[0-9a-f]{64}$"), name="audit_hash_hex"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target_type}:{self.target_id}"


class AuditChain(models.Model):
    """The head of the audit chain: one row (pk 1) with the last row's `seq` and `hash`.

    Every append updates it first, which takes its row lock (PostgreSQL) or the write lock
    (SQLite) until the transaction ends: two writers cannot both extend the same head. It
    also lets verification notice rows cut from the end of the chain.
    """

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(pk=1),
                                              name="auditchain_single_row")]


class AuditVerification(models.Model):
    """The result of one `verify_audit` run (the admin's reports page shows the last)."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    rows_checked = models.BigIntegerField(default=0)
    head_seq = models.BigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, blank=True)
    #: The first row found altered, missing or out of order (its id and seq), when not ok.
    bad_row_id = models.BigIntegerField(null=True, blank=True)
    bad_seq = models.BigIntegerField(null=True, blank=True)
    problem = models.TextField(blank=True)

    class Meta:
        ordering = ["-finished_at", "-id"]
        verbose_name = _("감사 기록 검증")
        verbose_name_plural = _("감사 기록 검증")

    def __str__(self) -> str:
        return f"verify_audit {self.finished_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'FAILED'}"


class SmsMessage(models.Model):
    """The SMS outbox: written in the caller's transaction, delivered by `deliver_sms`."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("대기")
        SENT = "sent", _("발송")
        FAILED = "failed", _("실패")

    to = models.CharField(max_length=20)
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(auto_now_add=True)
    last_error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        verbose_name = _("문자 발송함")
        verbose_name_plural = _("문자 발송함")

    def __str__(self) -> str:
        return f"SMS #{self.pk} {self.status}"


class RateCounter(models.Model):
    """A fixed-window counter shared by every app server (kept in the database)."""

    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratecounter_unique")
        ]


class Notice(models.Model):
    """공지 and 업무연락: posts managed in the admin, told apart by `kind`.

    공지 (notices) are public. 업무연락 (work correspondence: what the ministry sends to health
    centers and institutions, and back) is shown to signed-in users only (see
    `kdcis.views.work_list`).
    """

    class Kind(models.TextChoices):
        NOTICE = "notice", _("공지")
        WORK = "work", _("업무연락")

    kind = models.CharField(_("구분"), max_length=10, choices=Kind.choices,
                            default=Kind.NOTICE)
    title = models.CharField(_("제목"), max_length=200)
    body = models.TextField(_("내용"))
    published_at = models.DateTimeField(_("게시일"), db_index=True)
    is_published = models.BooleanField(_("게시"), default=True)

    class Meta:
        ordering = ["-published_at"]
        indexes = [models.Index(fields=["kind", "-published_at"], name="notice_kind_idx")]
        verbose_name = _("공지·업무연락")
        verbose_name_plural = _("공지·업무연락")

    def __str__(self) -> str:
        return self.title


class Faq(models.Model):
    """자주묻는 질문: questions and answers edited in the admin, shown by category."""

    class Category(models.TextChoices):
        # In the order the page shows them (the order of the signup and the guide).
        SIGNUP = "signup", _("사용자 가입")
        CERTIFICATE = "certificate", _("인증서")
        PERMISSION = "permission", _("권한 신청·승인")
        WITHDRAWAL = "withdrawal", _("탈퇴")

    category = models.CharField(_("분류"), max_length=20, choices=Category.choices)
    question = models.CharField(_("질문"), max_length=300)
    answer = models.TextField(_("답변"))
    order = models.PositiveSmallIntegerField(_("순서"), default=0,
                                             help_text=_("분류 안에서 작은 번호가 먼저 보입니다."))
    is_published = models.BooleanField(_("게시"), default=True)

    class Meta:
        ordering = ["category", "order", "pk"]
        verbose_name = _("자주묻는 질문")
        verbose_name_plural = _("자주묻는 질문")

    def __str__(self) -> str:
        return self.question


class LibraryFile(models.Model):
    """자료실: downloadable files managed in the admin."""

    title = models.CharField(_("제목"), max_length=200)
    description = models.TextField(_("설명"), blank=True)
    file = models.FileField(_("파일"), upload_to="library/")
    published_at = models.DateTimeField(_("게시일"), db_index=True)

    class Meta:
        ordering = ["-published_at"]
        verbose_name = _("자료실 파일")
        verbose_name_plural = _("자료실")

    def __str__(self) -> str:
        return self.title



class JobLease(models.Model):
    """Who runs a scheduled job right now (kdcis.leases): a row, not a database session's
    lock, so it holds behind a transaction-pooling PgBouncer and across many transactions."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=128, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
