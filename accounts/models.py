"""Who you are: the user, their certificate binding, consents and phone verifications."""

import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """An account. `username` is the applicant's chosen ID (아이디).

    Status moves pending → active → withdrawn, only through services. A withdrawn row keeps
    nothing personal: its username is replaced by a pseudonym and `ref` stays for the audit.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("승인대기")
        ACTIVE = "active", _("사용")
        WITHDRAWN = "withdrawn", _("탈퇴")

    ref = models.UUIDField(_("가명 참조"), default=uuid.uuid4, unique=True, editable=False)
    # db_index: on PostgreSQL this also builds the pattern index for prefix searches.
    name = models.CharField(_("이름"), max_length=60, blank=True, db_index=True)
    status = models.CharField(
        _("상태"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    institution = models.ForeignKey(
        "institutions.Institution", verbose_name=_("소속기관"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="users",
    )
    mobile = models.CharField(_("휴대폰번호"), max_length=11, blank=True, db_index=True)
    office_phone = models.CharField(_("기관(부서) 전화번호"), max_length=12, blank=True)
    is_helpdesk = models.BooleanField(_("헬프데스크"), default=False)
    withdrawn_at = models.DateTimeField(_("탈퇴일시"), null=True, blank=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("사용자")
        verbose_name_plural = _("사용자")

    def __str__(self) -> str:
        # Pseudonymous: this is what Django's admin log records of a change to the user.
        return f"user:{self.ref}"

    @property
    def display_name(self) -> str:
        return self.name or self.username


class CertificateBinding(models.Model):
    """The one certificate bound to one account (1:1), identified by its issuer and serial.

    Not by the fingerprint: under an ECDSA CA one certificate has a second valid encoding
    (the signature's s replaced by n - s) with another fingerprint, which would bind the same
    certificate to a second account. The fingerprint is kept for display and search.
    """

    #: `issuer_dn` of bindings made before it was stored: "legacy:" + the issuer CN.
    LEGACY_ISSUER_PREFIX = "legacy:"

    class Kind(models.TextChoices):
        PERSONAL = "personal", _("개인")
        CORPORATE = "corporate", _("기관")

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="certificate")
    fingerprint = models.CharField(_("지문(SHA-256)"), max_length=64, unique=True)
    subject_cn = models.CharField(_("주체 CN"), max_length=200)
    issuer = models.CharField(_("발급기관"), max_length=200)
    # accounts.certificates.issuer_key(): the issuer's whole name, normalised.
    issuer_dn = models.CharField(_("발급기관 DN"), max_length=500)
    serial = models.CharField(_("일련번호"), max_length=80)
    not_before = models.DateTimeField(_("유효기간 시작"))
    not_after = models.DateTimeField(_("유효기간 만료"), db_index=True)
    kind = models.CharField(_("구분"), max_length=10, choices=Kind.choices)
    policy_oid = models.CharField(_("정책 OID"), max_length=80)
    bound_at = models.DateTimeField(_("등록일시"), auto_now_add=True)

    class Meta:
        verbose_name = _("인증서 등록")
        verbose_name_plural = _("인증서 등록")
        constraints = [
            models.UniqueConstraint(fields=["issuer_dn", "serial"],
                                    name="certificatebinding_issuer_serial_unique"),
        ]

    def __str__(self) -> str:
        return f"certificate binding {self.pk}"  # no subject or serial in the admin log


class Consent(models.Model):
    """A consent to the collection notice, with the notice's version and the time."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="consents")
    notice = models.CharField(_("안내문"), max_length=40, default="signup")
    notice_version = models.CharField(_("안내문 버전"), max_length=20)
    agreed_at = models.DateTimeField(_("동의일시"))

    class Meta:
        verbose_name = _("개인정보 수집 동의")
        verbose_name_plural = _("개인정보 수집 동의")


class PhoneVerification(models.Model):
    """A code sent by SMS, bound to one session and one number; stored hashed."""

    session_key = models.CharField(max_length=64, db_index=True)
    purpose = models.CharField(max_length=20, default="signup")
    phone = models.CharField(max_length=11, db_index=True)
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    voided = models.BooleanField(default=False)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="phone_verifications"
    )

    class Meta:
        indexes = [models.Index(fields=["ip", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(attempts__gte=0), name="phoneverification_attempts_nonnegative"
            )
        ]


class SignupDraft(models.Model):
    """One applicant's unfinished signup, kept apart from the session.

    The wizard's requests overlap (the live ID check, '검색', '인증번호 받기'), so the draft is
    never saved whole: each request writes only the fields it changed, under this row's lock
    (accounts/wizard.py). The session holds only `key`. Rows untouched for longer than a
    session lives are deleted by `purge_expired_records`.
    """

    key = models.CharField(max_length=64, unique=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("가입 신청 작성 중")
        verbose_name_plural = _("가입 신청 작성 중")

    def __str__(self) -> str:
        return f"draft {self.pk}"


class UserSession(models.Model):
    """Which signed-in session belongs to whom, recorded at each login.

    Django's database sessions keep the user's id only inside the signed session data; this
    row lets a withdrawal delete every session of the person at once. It goes with its
    session (logout, expiry, a new login on the same browser).
    """

    session = models.OneToOneField("sessions.Session", primary_key=True,
                                   on_delete=models.CASCADE, db_column="session_key")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    created_at = models.DateTimeField(auto_now_add=True)
    #: The browser's User-Agent at sign-in (the device shown in 내 정보 열람).
    user_agent = models.CharField(max_length=200, blank=True)


class UsedLoginChallenge(models.Model):
    """A login challenge that was posted once: the challenge is a signed token held by the
    page, not the session (accounts/challenges.py), so its single use is recorded here.
    Rows older than the challenge's lifetime are purged nightly."""

    nonce = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(db_index=True)


class StoredCrl(models.Model):
    """One CRL distribution point (one partition of a CA's CRL) and the last good copy
    `refresh_crls` fetched from it.

    In the database so that every app server checks certificates against the same list the
    moment it is replaced (one row update, in one transaction). Rows are created for the
    distribution points named by the trusted CAs' certificates, by `CERT_CRL_URLS` and by
    every certificate presented at signup or login; `refresh_crls` fills and replaces `der`.
    """

    class Origin(models.TextChoices):
        ANCHOR = "anchor", _("신뢰 인증기관 인증서")
        CERTIFICATE = "certificate", _("제출된 인증서")
        SETTINGS = "settings", _("설정(CERT_CRL_URLS)")

    url = models.CharField(_("배포 지점"), max_length=1000, unique=True)
    origin = models.CharField(_("출처"), max_length=12, choices=Origin.choices)
    # accounts.certificates.issuer_key() of the CA whose certificate named this point ('' for
    # a point from the settings): a fetched CRL of another issuer is refused.
    expected_issuer = models.CharField(_("예상 발급기관"), max_length=500, blank=True,
                                       db_index=True)
    # The stored CRL: its issuer (issuer_key()), DER, SHA-256 and dates.
    issuer_key = models.CharField(_("발급기관"), max_length=500, blank=True, db_index=True)
    der = models.BinaryField(null=True, editable=False)
    sha256 = models.CharField(max_length=64, blank=True)
    crl_number = models.DecimalField(_("CRL 번호"), max_digits=50, decimal_places=0,
                                     null=True, blank=True)
    this_update = models.DateTimeField(_("발행일시"), null=True, blank=True)
    next_update = models.DateTimeField(_("다음 발행 예정"), null=True, blank=True,
                                       db_index=True)
    fetched_at = models.DateTimeField(_("저장일시"), null=True, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("인증서 폐지 목록(CRL)")
        verbose_name_plural = _("인증서 폐지 목록(CRL)")
        constraints = [
            # A stored copy is whole: bytes, hash, issuer and both dates, in order.
            models.CheckConstraint(
                condition=Q(der__isnull=True, sha256="")
                | (Q(der__isnull=False, this_update__isnull=False, next_update__isnull=False)
                   & ~Q(sha256="") & ~Q(issuer_key="")),
                name="storedcrl_copy_whole"),
            models.CheckConstraint(
                condition=Q(next_update__isnull=True) | Q(next_update__gt=models.F("this_update")),
                name="storedcrl_next_after_this"),
        ]

    def __str__(self) -> str:
        return self.url


class OcspResponse(models.Model):
    """A verified `good` OCSP answer, kept until its nextUpdate so that a certificate is not
    asked about on every login; shared by every app server. `key` is the issuer's key hash
    and the serial (accounts.certificates.ocsp_cache_key())."""

    key = models.CharField(max_length=200, unique=True)
    der = models.BinaryField(editable=False)
    this_update = models.DateTimeField()
    next_update = models.DateTimeField(db_index=True)
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name = _("OCSP 응답")
        verbose_name_plural = _("OCSP 응답")
        constraints = [
            models.CheckConstraint(condition=Q(next_update__gt=models.F("this_update")),
                                   name="ocspresponse_next_after_this"),
        ]
