"""SMS phone verification: six-digit codes, hashed, bound to one session and one number."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import PhoneVerification
from kdcis import locks, ratelimit
from kdcis.audit import audit
from kdcis.errors import DomainError
from kdcis.korean import particle
from kdcis.sms import send_sms


class PhoneVerificationError(DomainError):
    """A code that cannot be sent or does not verify."""


@dataclass(frozen=True)
class SentCode:
    verification_id: int
    expires_at: object
    resend_at: object


def _hash(code: str, verification_salt: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{verification_salt}:{code}".encode(), hashlib.sha256).hexdigest()


def phone_code_send(*, session_key: str, phone: str, ip: str, purpose: str = "signup",
                    user=None) -> SentCode:
    """Send a fresh code to `phone` for this session, within the resend and volume limits.

    The per-number and per-session caps count rows and then insert one: the transaction
    first holds a database lock per number and per session (kdcis/locks.py), so sends to one
    number at the same moment are decided one after the other and never exceed the cap.
    """
    now = timezone.now()
    with transaction.atomic():
        locks.hold(f"sms-number:{phone}")
        locks.hold(f"sms-session:{session_key}")
        latest = (
            PhoneVerification.objects.select_for_update()
            .filter(session_key=session_key, phone=phone, purpose=purpose)
            .order_by("-created_at")
            .first()
        )
        resend_after = timedelta(seconds=settings.PHONE_CODE_RESEND_SECONDS)
        if latest and latest.created_at + resend_after > now:
            wait = int((latest.created_at + resend_after - now).total_seconds()) + 1
            raise PhoneVerificationError(
                _("인증번호는 %(seconds)d초 후에 다시 받을 수 있습니다.") % {"seconds": wait},
                code="resend_too_soon",
            )
        day_start = now - timedelta(days=1)
        sent_today = PhoneVerification.objects.filter(phone=phone, created_at__gte=day_start)
        if sent_today.count() >= settings.PHONE_CODE_MAX_PER_NUMBER_PER_DAY:
            raise PhoneVerificationError(
                _("이 번호로 하루에 받을 수 있는 인증번호 횟수를 넘었습니다. "
                  "내일 다시 시도하시거나 1644-1407로 문의하세요."),
                code="number_limit",
            )
        sent_here = PhoneVerification.objects.filter(session_key=session_key,
                                                     created_at__gte=day_start)
        if sent_here.count() >= settings.PHONE_CODE_MAX_PER_SESSION_PER_DAY:
            raise PhoneVerificationError(
                _("인증번호를 너무 많이 요청했습니다. 내일 다시 시도하시거나 "
                  "1644-1407로 문의하세요."),
                code="session_limit",
            )
        if not ratelimit.hit(f"sms-ip:{ip}", limit=settings.PHONE_CODE_MAX_PER_IP_PER_HOUR,
                             window_seconds=3600, now=now):
            raise PhoneVerificationError(
                _("인증번호 요청이 너무 많습니다. 잠시 후 다시 시도하세요."), code="ip_limit"
            )
        PhoneVerification.objects.filter(
            session_key=session_key, purpose=purpose, verified_at__isnull=True, voided=False
        ).update(voided=True)
        code = f"{secrets.randbelow(10**6):06d}"
        salt = secrets.token_hex(8)
        verification = PhoneVerification.objects.create(
            session_key=session_key, purpose=purpose, phone=phone,
            code_hash=f"{salt}${_hash(code, salt)}", created_at=now,
            expires_at=now + timedelta(seconds=settings.PHONE_CODE_TTL_SECONDS), ip=ip or None,
            user=user,
        )
        send_sms(
            to=phone,
            text=_("[질병보건통합관리시스템] 인증번호 [%(code)s]를 3분 안에 입력해 주세요.")
            % {"code": code},
        )
        audit(actor=user, action="phone.code_sent", target=verification, subject=user,
              ip=_audit_ip(user, ip))
    return SentCode(
        verification_id=verification.pk, expires_at=verification.expires_at,
        resend_at=now + resend_after,
    )


def _audit_ip(user, ip: str | None) -> str | None:
    """An applicant who has no account yet is nobody the trail could ever erase: their
    address stays on the verification record (purged after two days, and at withdrawal with
    the number), not on an audit row that outlives them."""
    return (ip or None) if user is not None else None


def phone_code_check(*, session_key: str, phone: str, code: str, purpose: str = "signup",
                     ip: str = "") -> PhoneVerification:
    """Check a typed code; five wrong tries void it. Returns the verified record.

    A wrong try is committed before the error is raised, so the count survives.
    """
    # Full-width digits are the same code; an empty or non-numeric entry is a typing slip,
    # refused before the record is read so it never uses up one of the tries.
    code = unicodedata.normalize("NFKC", code or "").strip()
    if not re.fullmatch(r"[0-9]{6}", code):
        raise PhoneVerificationError(_("문자로 받은 인증번호 6자리 숫자를 입력하세요."),
                                     code="malformed")
    now = timezone.now()
    error: PhoneVerificationError | None = None
    with transaction.atomic():
        verification = (
            PhoneVerification.objects.select_for_update()
            .filter(session_key=session_key, phone=phone, purpose=purpose)
            .order_by("-created_at")
            .first()
        )
        if verification is None:
            # Name the button the page shows: the signup step's or the re-binding page's.
            button = _("인증번호 받기") if purpose == "rebind" else _("휴대폰번호 인증")
            raise PhoneVerificationError(
                _("먼저 %(button)s 눌러 인증번호를 받으세요.")
                % {"button": particle(f"'{button}'", "을/를")},
                code="no_code"
            )
        if verification.verified_at:
            return verification
        if verification.voided:
            raise PhoneVerificationError(
                _("인증번호가 더 이상 유효하지 않습니다. 인증번호를 다시 받으세요."), code="voided"
            )
        if verification.expires_at <= now:
            raise PhoneVerificationError(
                _("인증 시간이 지났습니다. 인증번호를 다시 받으세요."), code="expired"
            )
        salt, _sep, digest = verification.code_hash.partition("$")
        if hmac.compare_digest(digest, _hash(code.strip(), salt)):
            verification.verified_at = now
            verification.save(update_fields=["verified_at"])
            audit(actor=verification.user, action="phone.verified", target=verification,
                  ip=_audit_ip(verification.user, ip))
            return verification
        verification.attempts += 1
        if verification.attempts >= settings.PHONE_CODE_MAX_TRIES:
            verification.voided = True
        verification.save(update_fields=["attempts", "voided"])
        audit(actor=verification.user, action="phone.code_wrong", target=verification,
              new={"attempts": verification.attempts}, ip=_audit_ip(verification.user, ip))
        if verification.voided:
            error = PhoneVerificationError(
                _("인증번호를 %(n)d회 잘못 입력하여 더 이상 사용할 수 없습니다. "
                  "인증번호를 다시 받으세요.") % {"n": settings.PHONE_CODE_MAX_TRIES},
                code="voided",
            )
        else:
            left = settings.PHONE_CODE_MAX_TRIES - verification.attempts
            error = PhoneVerificationError(
                _("인증번호가 일치하지 않습니다. (남은 입력 횟수: %(left)d회)") % {"left": left},
                code="wrong",
            )
    raise error


def verified_phone(*, verification_id: int | None, session_key: str, phone: str,
                   purpose: str = "signup") -> bool:
    """Whether this session verified exactly this number (used again on submit)."""
    if not verification_id:
        return False
    return PhoneVerification.objects.filter(
        pk=verification_id, session_key=session_key, phone=phone, purpose=purpose,
        verified_at__isnull=False,
    ).exists()
