"""State changes of accounts: signup, certificate login bookkeeping, re-binding."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.certificates import VerifiedCertificate
from accounts.forms import clean_username
from accounts.models import CertificateBinding, Consent, PhoneVerification, User
from accounts.selectors import bindings_for_certificate
from institutions.models import ApprovingBody, Institution
from kdcis import locks, ratelimit
from kdcis.audit import audit, scrub
from kdcis.errors import DomainError
from kdcis.korean import particle
from kdcis.sms import send_sms
from permissions.models import PermissionType
from permissions.services import grant_request


class SignupError(DomainError):
    """A signup, re-binding or role change the rules do not allow."""


@dataclass(frozen=True)
class RequestedPermission:
    permission_type: PermissionType
    body: ApprovingBody


def _binding_fields(cert: VerifiedCertificate) -> dict:
    return {
        "fingerprint": cert.fingerprint,
        "subject_cn": cert.subject_cn,
        "issuer": cert.issuer[:200],
        "issuer_dn": cert.issuer_dn,
        "serial": cert.serial,
        "not_before": cert.not_before,
        "not_after": cert.not_after,
        "kind": cert.kind,
        "policy_oid": cert.policy_oid,
    }


def signup_submit(
    *,
    certificate: VerifiedCertificate,
    name: str,
    username: str,
    institution: Institution,
    mobile: str,
    office_phone: str,
    consent_at: datetime,
    consent_version: str,
    permissions: list[RequestedPermission],
    ip: str | None = None,
) -> User:
    """Create the pending account with its binding, consent and requests in one transaction.

    Races on the same ID or the same certificate are decided by the unique constraints; the
    certificate is the same whatever its encoding (issuer + serial).
    """
    if not permissions:
        raise SignupError(_("신청할 권한을 하나 이상 선택하세요."), code="no_permission")
    # A re-encoded certificate has a new fingerprint but the same issuer and serial; legacy
    # bindings (accounts/migrations/0005) are only found by this lookup, not the constraint.
    if bindings_for_certificate(certificate).exists():
        raise _signup_conflict(username, certificate)
    try:
        username = clean_username(username)
    except ValidationError as exc:
        raise SignupError(" ".join(exc.messages), code="username_invalid",
                          field="username") from None
    try:
        with transaction.atomic():
            user = User(
                username=username, name=name, institution=institution, mobile=mobile,
                office_phone=office_phone, status=User.Status.PENDING,
            )
            user.set_unusable_password()
            user.save()
            binding = CertificateBinding.objects.create(user=user, **_binding_fields(certificate))
            Consent.objects.create(
                user=user, notice="signup", notice_version=consent_version, agreed_at=consent_at
            )
            audit(actor=user, action="account.signup", target=user, subject=user,
                  new={"status": user.status, "institution": institution.number,
                       "certificate": binding.fingerprint[:16],
                       "consent_version": consent_version}, ip=ip)
            for item in permissions:
                grant_request(user=user, permission_type=item.permission_type, body=item.body,
                              actor=user, ip=ip)
    except IntegrityError:
        if (User.objects.filter(username=username).exists()
                or bindings_for_certificate(certificate).exists()):
            raise _signup_conflict(username, certificate) from None
        raise
    return user


def _signup_conflict(username: str, certificate: VerifiedCertificate) -> SignupError:
    """The ID first (a double click finds its own ID taken), then the certificate."""
    if User.objects.filter(username=username).exists():
        return SignupError(
            _("이미 사용 중인 아이디입니다. 다른 아이디를 입력하세요."),
            code="username_taken", field="username",
        )
    return SignupError(
        _("이 인증서는 이미 다른 사용자에게 등록되어 있습니다. "
          "하나의 인증서로 여러 명이 가입할 수 없습니다."),
        code="certificate_taken", field="certificate",
    )


def certificate_rebind(*, user: User, certificate: VerifiedCertificate,
                       ip: str | None = None) -> CertificateBinding:
    """Replace the user's binding by a renewed certificate (same subject, new serial)."""
    with transaction.atomic():
        binding = CertificateBinding.objects.select_for_update().get(user=user)
        if binding.subject_cn != certificate.subject_cn or binding.issuer != certificate.issuer[:200]:
            raise SignupError(
                _("기존 인증서와 소유자가 다른 인증서는 재등록할 수 없습니다."),
                code="subject_mismatch",
            )
        old = {"certificate": binding.fingerprint[:16], "not_after": binding.not_after.isoformat()}
        if bindings_for_certificate(certificate).exclude(pk=binding.pk).exists():
            raise SignupError(
                _("이 인증서는 이미 다른 사용자에게 등록되어 있습니다."), code="certificate_taken"
            )
        for field, value in _binding_fields(certificate).items():
            setattr(binding, field, value)
        try:
            with transaction.atomic():
                binding.save()
        except IntegrityError:
            raise SignupError(
                _("이 인증서는 이미 다른 사용자에게 등록되어 있습니다."), code="certificate_taken"
            ) from None
        audit(actor=user, action="certificate.rebound", target=binding, subject=user, old=old,
              new={"certificate": binding.fingerprint[:16],
                   "not_after": binding.not_after.isoformat()}, ip=ip)
    return binding


def login_challenge_use(*, nonce: str) -> bool:
    """Record the one use of a login challenge; False when it was used before (a replay).

    The unique constraint decides two posts of the same challenge at once. Not audited on
    its own: the login it belongs to writes the audit row (login_recorded/login_failed).
    """
    from accounts.models import UsedLoginChallenge

    try:
        with transaction.atomic():
            UsedLoginChallenge.objects.create(nonce=nonce, used_at=timezone.now())
    except IntegrityError:
        return False
    return True


def login_recorded(*, user: User, ip: str | None) -> None:
    audit(actor=user, action="account.login", target=user, subject=user, ip=ip)


def login_failed(*, reason_code: str, ip: str | None, subject: User | None = None) -> None:
    """A refused login. `subject`: the account it concerns when known (a renewed certificate
    offered for re-binding), so that the person's withdrawal also scrubs its address."""
    audit(actor=None, action="account.login_failed", target_type="login", target_id="-",
          subject=subject, new={"reason": reason_code}, ip=ip)



def helpdesk_assign(*, user: User, enabled: bool = True, actor=None,
                    ip: str | None = None) -> User:
    """Give or take the helpdesk role; a helpdesk agent's account is active."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.status == User.Status.WITHDRAWN:
            raise SignupError(_("탈퇴한 사용자에게는 역할을 줄 수 없습니다."), code="withdrawn")
        if user.is_helpdesk == enabled:
            return user
        user.is_helpdesk = enabled
        fields = ["is_helpdesk"]
        if enabled and user.status == User.Status.PENDING:
            user.status = User.Status.ACTIVE
            fields.append("status")
        user.save(update_fields=fields)
        audit(actor=actor, action="helpdesk.assigned" if enabled else "helpdesk.unassigned",
              target=user, subject=user, new={"is_helpdesk": enabled, "status": user.status},
              ip=ip)
    return user


def staff_account_create(*, certificate: VerifiedCertificate, username: str, mobile: str = "",
                         office_phone: str = "", institution: Institution | None = None,
                         actor=None) -> User:
    """An account for staff set up by a national admin (demo data, scripted setup).

    It is bound to its certificate like every account; roles are given separately.
    """
    with transaction.atomic():
        user = User(username=username, name=certificate.name, mobile=mobile,
                    office_phone=office_phone, institution=institution,
                    status=User.Status.ACTIVE)
        user.set_unusable_password()
        user.save()
        CertificateBinding.objects.create(user=user, **_binding_fields(certificate))
        audit(actor=actor, action="account.created_by_admin", target=user, subject=user,
              new={"status": user.status})
    return user


def session_tie(*, session, user: User, user_agent: str = "") -> None:
    """Record that `session` holds something of `user` (a login, or a renewed certificate's
    re-binding in progress), so the person's withdrawal deletes it; `user_agent` names the
    device in the person's 내 정보 열람."""
    from accounts.models import UserSession

    if session.session_key is None:
        # A login over another user's session flushed it: the new one gets its key (and its
        # row) when first saved, so save it now.
        session.save()
    UserSession.objects.update_or_create(session_id=session.session_key,
                                         defaults={"user": user,
                                                   "user_agent": (user_agent or "")[:200]})


#: Keys of audit values that identify the person's certificate (a fingerprint prefix).
_CERTIFICATE_KEYS = ("certificate",)
_ERASED = "***"


def _personal_values(user: User) -> list[str]:
    """The person's values an audit reason or a draft might hold: the certificate's
    fingerprint and the mobile number first (what identifies a signup draft)."""
    from kdcis.phones import format_phone

    binding = CertificateBinding.objects.filter(user=user).first()
    values = [binding.fingerprint if binding else "", user.mobile]
    values += [format_phone(user.mobile) if user.mobile else "", user.username, user.name,
               user.office_phone, format_phone(user.office_phone) if user.office_phone else "",
               user.email]
    if binding is not None:
        values += [binding.fingerprint[:16], binding.subject_cn, binding.serial]
    return [value for value in values if value and len(value) >= 2]


def _erasing(values: list[str]):
    """The scrub of one of the person's audit rows: no address, none of `values` in the
    reason or in old/new strings, no certificate fingerprint."""
    needles = sorted(set(values), key=len, reverse=True)

    def erase_text(text: str) -> str:
        for needle in needles:
            text = text.replace(needle, _ERASED)
        return text

    def erase(value, key=None):
        if key in _CERTIFICATE_KEYS and value:
            return _ERASED
        if isinstance(value, str):
            return erase_text(value)
        if isinstance(value, list):
            return [erase(item) for item in value]
        if isinstance(value, dict):
            return {k: erase(v, k) for k, v in value.items()}
        return value

    def change(row) -> list[str]:
        changed = []
        if row.ip is not None:
            row.ip = None
            changed.append("ip")
        for field in ("old", "new"):
            erased = erase(getattr(row, field))
            if erased != getattr(row, field):
                setattr(row, field, erased)
                changed.append(field)
        reason = erase_text(row.reason)
        if reason != row.reason:
            row.reason = reason
            changed.append("reason")
        return changed

    return change


def _scrub_admin_log(user: User) -> None:
    """Django's admin log names the objects it changed (their __str__ at the time, and the
    changed fields): rename the person's entries to the pseudonym and drop the details."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from permissions.models import Grant, Officer

    owned = [(User, [user.pk])]
    for model in (CertificateBinding, Consent, PhoneVerification, Grant, Officer):
        owned.append((model, list(model.objects.filter(user=user).values_list("pk", flat=True))))
    for model, pks in owned:
        if pks:
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(model),
                object_id__in=[str(pk) for pk in pks],
            ).update(object_repr=f"withdrawn-{user.ref}"[:200], change_message="")


def account_withdraw(*, user: User, ip: str | None = None) -> User:
    """탈퇴: erase the person at once, keep the institution's data and a pseudonymous trace.

    Deletes every grant, the certificate binding, consents, phone verifications, staff roles
    and the SMS messages to their number; blanks every personal field; renames the account
    to its pseudonym so the same ID and certificate can sign up again at once. Changing the
    password hash would end every session of the user on every device; the sessions are
    deleted outright, so nothing a signup or a form left in them outlives the person.
    """
    from django.contrib.sessions.models import Session

    from accounts.models import OcspResponse, PhoneVerification, SignupDraft, UserSession
    from kdcis.models import AuditEvent, SmsMessage
    from permissions.models import Grant, Officer

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.status == User.Status.WITHDRAWN:
            return user
        mobile = user.mobile
        old_status = user.status
        _scrub_admin_log(user)
        Grant.objects.filter(user=user).delete()
        Officer.objects.filter(user=user).delete()
        # A cached OCSP answer names the certificate's serial: it goes with the binding.
        for serial in CertificateBinding.objects.filter(user=user).values_list("serial",
                                                                                 flat=True):
            OcspResponse.objects.filter(key__endswith=f":{serial.lower()}").delete()
        CertificateBinding.objects.filter(user=user).delete()
        Consent.objects.filter(user=user).delete()
        PhoneVerification.objects.filter(user=user).delete()
        if mobile:
            PhoneVerification.objects.filter(phone=mobile).delete()
            SmsMessage.objects.filter(to=mobile).delete()
        # The trail keeps the pseudonym only: drop the network addresses tied to the person
        # and any value of theirs a reason or an old/new value holds (each scrubbed row gets
        # a scrub record, so the chain still verifies).
        values = _personal_values(user)
        scrub(rows=AuditEvent.objects.filter(Q(subject_ref=str(user.ref)) | Q(actor=user)),
              change=_erasing(values), actor=user, reason="account.withdrawn")
        # A signup begun elsewhere with the same certificate or number and never finished.
        drafts = Q()
        for value in values[:2]:
            drafts |= Q(data__icontains=value)
        SignupDraft.objects.filter(drafts).delete()
        # Every session a login of theirs wrote (their rows in UserSession go with them).
        Session.objects.filter(
            session_key__in=UserSession.objects.filter(user=user).values("session_id")).delete()
        user.username = f"withdrawn-{user.ref}"
        user.name = ""
        user.first_name = ""
        user.last_name = ""
        user.email = ""
        user.mobile = ""
        user.office_phone = ""
        user.institution = None
        user.is_helpdesk = False
        user.is_staff = False
        user.is_superuser = False
        user.is_active = False
        user.status = User.Status.WITHDRAWN
        user.withdrawn_at = timezone.now()
        user.set_unusable_password()
        user.save()
        audit(actor=user, action="account.withdrawn", target=user, subject=user,
              old={"status": old_status}, new={"status": user.status})
    return user


# ------------------------------------------------------------------- 내 정보 열람 (access)

PERSONAL_DATA_ACTIONS = {"page": "account.data_viewed", "download": "account.data_downloaded"}


def personal_data_access_record(*, actor: User, subject: User, kind: str,
                                ip: str | None = None) -> None:
    """Someone saw everything the portal holds about `subject` (the person on 내 정보 열람,
    or a helpdesk agent after a reveal): who, whose, how (`kind`: page or download)."""
    if kind not in PERSONAL_DATA_ACTIONS:
        raise ValueError(f"unknown kind {kind!r}")
    with transaction.atomic():
        audit(actor=actor, action=PERSONAL_DATA_ACTIONS[kind], target=subject, subject=subject,
              new={"kind": kind}, ip=ip)


# ------------------------------------------------------------------------------ helpdesk


class HelpdeskError(DomainError):
    """A helpdesk lookup the rules do not allow."""


HELPDESK_REVEALABLE = ("name", "mobile", "office_phone", "all")


def helpdesk_view_record(*, agent: User, target: User, ip: str | None = None) -> None:
    """A helpdesk agent opened a user's page (masked): who looked at whom, when."""
    with transaction.atomic():
        audit(actor=agent, action="helpdesk.viewed", target=target, subject=target, ip=ip)


def helpdesk_reveal(*, agent: User, target: User, field: str, reason: str,
                    ip: str | None = None) -> str:
    """Show one personal field unmasked, for a stated reason; returns the value."""
    reason = " ".join((reason or "").split())[:300]
    if field not in HELPDESK_REVEALABLE:
        raise HelpdeskError(_("확인할 항목을 선택하세요."), code="field")
    if not reason:
        raise HelpdeskError(_("개인정보를 확인하는 사유를 입력하세요."), code="reason")
    with transaction.atomic():
        audit(actor=agent, action="helpdesk.revealed", target=target, subject=target,
              new={"field": field}, reason=reason, ip=ip)
    # "all": everything held about the person (the 내 정보 열람 view, helpdesk_views).
    return "" if field == "all" else getattr(target, field)


def helpdesk_search_record(*, agent: User, kind: str, shown: list[User], total: int,
                           ip: str | None = None) -> None:
    """A helpdesk search: one row for the search, one for every user it showed (so each
    person's trail says they were looked up), and a search that pins one person counts as a
    reveal of who that is. The query itself is personal data and is not kept."""
    from kdcis.audit import append, event

    rows = [event(actor=agent, action="helpdesk.searched", target_type="user_search",
                  target_id="-", new={"kind": kind, "results": total}, ip=ip)]
    rows += [event(actor=agent, action="helpdesk.listed", subject=user,
                   target_type="user_search", target_id="-", new={"kind": kind}, ip=ip)
             for user in shown]
    if total == 1 and shown:
        rows.append(event(actor=agent, action="helpdesk.revealed", target=shown[0],
                          subject=shown[0], new={"field": "search", "kind": kind}, ip=ip))
    with transaction.atomic():
        append(rows)  # one append for the search: the chain's lock is taken once


# --------------------------------------------------------------- CRL store and OCSP cache


def crl_points_register(*, urls_by_issuer: dict[str, list[str]], origin: str) -> int:
    """Record CRL distribution points for `refresh_crls` to fetch (idempotent).

    `urls_by_issuer` maps the expected issuer (issuer_key(), '' when unknown) to URLs. Two
    servers registering the same point at once: the unique URL decides, the other insert is
    skipped. No audit row: a point to fetch changes nobody's state; replacing the CRL does.
    """
    from accounts.models import StoredCrl

    rows = [StoredCrl(url=url[:1000], origin=origin, expected_issuer=issuer)
            for issuer, urls in urls_by_issuer.items() for url in dict.fromkeys(urls)
            if url]
    if not rows:
        return 0
    return len(StoredCrl.objects.bulk_create(rows, ignore_conflicts=True))


@dataclass(frozen=True)
class CrlCopy:
    """A fetched, verified CRL ready to be stored."""

    der: bytes
    sha256: str
    issuer_key: str
    crl_number: int | None
    this_update: datetime
    next_update: datetime


def crl_replace(*, url: str, copy: CrlCopy, now: datetime) -> str:
    """Replace the stored CRL of distribution point `url` with `copy`, atomically.

    Under the row's lock: a copy older than the stored one (a lower CRL number, or an earlier
    thisUpdate) never replaces it, so two `refresh_crls` running at once end with the newest
    copy whatever order they commit in. Returns 'replaced', 'unchanged' or 'older'; writes
    an audit row when it replaces.
    """
    from accounts.models import StoredCrl

    with transaction.atomic():
        row = StoredCrl.objects.select_for_update().filter(url=url).first()
        if row is None:
            row = StoredCrl.objects.create(url=url, origin=StoredCrl.Origin.SETTINGS)
            row = StoredCrl.objects.select_for_update().get(pk=row.pk)
        if row.sha256 == copy.sha256:
            row.last_attempt_at = now
            row.last_error = ""
            row.save(update_fields=["last_attempt_at", "last_error"])
            return "unchanged"
        if row.der is not None and _crl_is_older(copy, row):
            row.last_attempt_at = now
            row.last_error = ""
            row.save(update_fields=["last_attempt_at", "last_error"])
            return "older"
        old = {"crl_number": None if row.crl_number is None else str(row.crl_number),
               "next_update": row.next_update.isoformat() if row.next_update else None}
        row.der = copy.der
        row.sha256 = copy.sha256
        row.issuer_key = copy.issuer_key
        row.crl_number = copy.crl_number
        row.this_update = copy.this_update
        row.next_update = copy.next_update
        row.fetched_at = now
        row.last_attempt_at = now
        row.last_error = ""
        row.save()
        audit(actor=None, action="crl.replace", target=row, old=old,
              new={"crl_number": None if copy.crl_number is None else str(copy.crl_number),
                   "next_update": copy.next_update.isoformat(), "sha256": copy.sha256})
        return "replaced"


def _crl_is_older(copy: CrlCopy, row) -> bool:
    if copy.crl_number is not None and row.crl_number is not None:
        return copy.crl_number < int(row.crl_number)
    return row.this_update is not None and copy.this_update < row.this_update


def crl_fetch_failed(*, url: str, error: str, now: datetime) -> None:
    """Note a failed fetch on the point's row (the stored copy, if any, stays)."""
    from accounts.models import StoredCrl

    StoredCrl.objects.filter(url=url).update(last_attempt_at=now, last_error=error[:500])


def ocsp_response_store(*, key: str, der: bytes, this_update: datetime,
                        next_update: datetime, now: datetime) -> None:
    """Keep a verified good OCSP answer until its nextUpdate (one upsert statement, so two
    servers storing the same answer at once cannot collide). A cache, not anyone's state:
    no audit row."""
    from accounts.models import OcspResponse

    if next_update <= this_update:
        return
    OcspResponse.objects.bulk_create(
        [OcspResponse(key=key, der=der, this_update=this_update, next_update=next_update,
                      fetched_at=now)],
        update_conflicts=True, unique_fields=["key"],
        update_fields=["der", "this_update", "next_update", "fetched_at"])


# ------------------------------------------------------------------ SMS phone verification
# Six-digit codes, hashed, bound to one session and one number.


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
