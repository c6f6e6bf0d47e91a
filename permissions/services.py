"""State changes of grants. Every function is one transaction with an audit row."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from institutions.models import ApprovingBody
from kdcis.audit import audit
from kdcis.errors import DomainError
from kdcis.korean import particle
from kdcis.sms import send_sms
from permissions.models import ApprovalDigest, Grant, Officer, PermissionType
from permissions.selectors import bodies_for


class GrantError(DomainError):
    """A permission request or decision the rules do not allow."""


def _check_body(permission_type: PermissionType, body: ApprovingBody) -> None:
    if not bodies_for(permission_type).filter(pk=body.pk).exists():
        raise GrantError(
            _("'%(perm)s' 권한은 선택한 승인기관에 신청할 수 없습니다.")
            % {"perm": permission_type.name},
            code="wrong_body",
        )


def _check_not_own_body(user, body: ApprovingBody) -> None:
    """An officer's own body never decides their own request (no self-approval)."""
    officer = Officer.objects.filter(user_id=getattr(user, "pk", None)).first()
    if officer is not None and officer.body_id == body.pk:
        raise GrantError(
            _("소속 승인기관(%(body)s)에는 본인의 권한을 신청할 수 없습니다. 다른 승인기관을 "
              "선택하세요.") % {"body": body.name},
            code="own_body",
        )


def grant_request(*, user, permission_type: PermissionType, body: ApprovingBody,
                  actor=None, ip: str | None = None) -> Grant:
    """Ask for a permission. The database allows one open request per user and type."""
    _check_body(permission_type, body)
    _check_not_own_body(user, body)
    try:
        with transaction.atomic():
            grant = Grant.objects.create(
                user=user, permission_type=permission_type, body=body,
                status=Grant.Status.REQUESTED, requested_at=timezone.now(),
            )
            audit(actor=actor or user, action="grant.requested", target=grant, subject=user,
                  new={"status": grant.status, "permission": permission_type.code,
                       "body": body.code}, ip=ip)
    except IntegrityError:
        raise GrantError(
            _("'%(perm)s' 권한은 이미 신청 중이거나 승인되어 있습니다.")
            % {"perm": permission_type.name},
            code="already_open",
        ) from None
    return grant


class GrantNotFound(Exception):
    """The grant does not exist for this actor (another body's request looks the same)."""


def _notify(user, text: str) -> None:
    from kdcis.sms import send_sms

    if user.mobile:
        send_sms(to=user.mobile, text=text)


def _decider(officer, admin):
    """Who decides: an officer (scoped to their body) or a national admin (any body)."""
    if officer is not None:
        return officer.user, officer.body_id
    if admin is not None and admin.is_superuser:
        return admin, None
    raise GrantNotFound("no decider")


def _locked_grant(*, grant_id: int, body_id: int | None) -> Grant:
    qs = Grant.objects.select_for_update().select_related("permission_type", "body")
    if body_id is not None:
        qs = qs.filter(body_id=body_id)
    grant = qs.filter(pk=grant_id).first()
    if grant is None:
        raise GrantNotFound(grant_id)
    return grant


def _refuse_own_request(grant: Grant, decider) -> None:
    """Nobody decides a request of their own (an officer who asked their own body, an admin
    who asked for a permission): someone else has to look at it."""
    if grant.user_id == decider.pk:
        raise GrantError(
            _("본인이 신청한 권한은 직접 승인하거나 반려할 수 없습니다. "
              "다른 담당자에게 처리를 요청하세요."),
            code="own_request",
        )


def _already_decided(grant: Grant) -> GrantError:
    return GrantError(
        _("이미 처리된 신청입니다. (현재 상태: %(status)s)") % {"status": grant.get_status_display()},
        code="already_decided",
    )


def grant_approve(*, grant_id: int, officer=None, admin=None, ip: str | None = None) -> Grant:
    """Approve a request of the officer's own body (or, for a national admin in the admin,
    any body's); the first approval activates the account."""
    from accounts.models import User

    decider, body_id = _decider(officer, admin)
    with transaction.atomic():
        grant = _locked_grant(grant_id=grant_id, body_id=body_id)
        _refuse_own_request(grant, decider)
        if grant.status != Grant.Status.REQUESTED:
            raise _already_decided(grant)
        user = User.objects.select_for_update().get(pk=grant.user_id)
        now = timezone.now()
        grant.status = Grant.Status.APPROVED
        grant.decided_at = now
        grant.decided_by = decider
        grant.last_used_on = timezone.localdate(now)
        grant.reason = ""
        grant.save(update_fields=["status", "decided_at", "decided_by", "last_used_on",
                                  "reason"])
        audit(actor=decider, action="grant.approved", target=grant, subject=user,
              old={"status": Grant.Status.REQUESTED}, new={"status": grant.status}, ip=ip)
        if user.status == User.Status.PENDING:
            user.status = User.Status.ACTIVE
            user.save(update_fields=["status"])
            audit(actor=decider, action="account.activated", target=user, subject=user,
                  old={"status": User.Status.PENDING}, new={"status": user.status}, ip=ip)
        _notify(user, _("[질병보건통합관리시스템] '%(perm)s' 권한 신청이 승인되었습니다.")
                % {"perm": grant.permission_type.name})
    return grant


def grant_reject(*, grant_id: int, reason: str, officer=None, admin=None,
                 ip: str | None = None) -> Grant:
    """Reject a request of the officer's own body (or any, for a national admin); the reason
    is required and sent to the applicant."""
    reason = (reason or "").strip()
    if not reason:
        raise GrantError(_("반려 사유를 입력하세요."), code="reason_required")
    decider, body_id = _decider(officer, admin)
    with transaction.atomic():
        grant = _locked_grant(grant_id=grant_id, body_id=body_id)
        _refuse_own_request(grant, decider)
        if grant.status != Grant.Status.REQUESTED:
            raise _already_decided(grant)
        grant.status = Grant.Status.REJECTED
        grant.decided_at = timezone.now()
        grant.decided_by = decider
        grant.reason = reason[:500]
        grant.save(update_fields=["status", "decided_at", "decided_by", "reason"])
        audit(actor=decider, action="grant.rejected", target=grant, subject=grant.user,
              old={"status": Grant.Status.REQUESTED}, new={"status": grant.status},
              reason=grant.reason, ip=ip)
        _notify(grant.user,
                _("[질병보건통합관리시스템] '%(perm)s' 권한 신청이 반려되었습니다. 사유: %(reason)s")
                % {"perm": grant.permission_type.name, "reason": grant.reason[:60]})
    return grant


@dataclass(frozen=True)
class Decision:
    """One request's outcome in a bulk decision: the grant, or why it was refused."""

    grant_id: int
    grant: Grant | None
    error: str = ""


def grants_decide(*, grant_ids: list[int], approve: bool, reason: str = "", officer=None,
                  admin=None, ip: str | None = None) -> list[Decision]:
    """Approve or reject many requests, each in its own transaction and checked on its own;
    the officer pages and the admin action share it."""
    results = []
    for grant_id in grant_ids:
        try:
            if approve:
                grant = grant_approve(grant_id=grant_id, officer=officer, admin=admin, ip=ip)
            else:
                grant = grant_reject(grant_id=grant_id, reason=reason, officer=officer,
                                     admin=admin, ip=ip)
        except GrantError as exc:
            results.append(Decision(grant_id, None, exc.message))
        except GrantNotFound:
            results.append(Decision(grant_id, None, _("신청을 찾을 수 없습니다.")))
        else:
            results.append(Decision(grant_id, grant))
    return results


def grant_cancel(*, grant_id: int, user, ip: str | None = None) -> Grant:
    """The applicant withdraws their own pending request."""
    with transaction.atomic():
        grant = Grant.objects.select_for_update().filter(pk=grant_id, user=user).first()
        if grant is None:
            raise GrantNotFound(grant_id)
        if grant.status != Grant.Status.REQUESTED:
            raise _already_decided(grant)
        grant.status = Grant.Status.CANCELLED
        grant.decided_at = timezone.now()
        grant.save(update_fields=["status", "decided_at"])
        audit(actor=user, action="grant.cancelled", target=grant, subject=user,
              old={"status": Grant.Status.REQUESTED}, new={"status": grant.status}, ip=ip)
    return grant


def grant_change_body(*, grant_id: int, user, body: ApprovingBody,
                      ip: str | None = None) -> Grant:
    """The applicant sends their still undecided request to another approving body."""
    with transaction.atomic():
        grant = (Grant.objects.select_for_update().select_related("permission_type", "body")
                 .filter(pk=grant_id, user=user).first())
        if grant is None:
            raise GrantNotFound(grant_id)
        if grant.status != Grant.Status.REQUESTED:
            raise _already_decided(grant)
        _check_body(grant.permission_type, body)
        _check_not_own_body(user, body)
        if grant.body_id == body.pk:
            return grant
        old_body = grant.body
        grant.body = body
        grant.save(update_fields=["body"])
        audit(actor=user, action="grant.body_changed", target=grant, subject=user,
              old={"body": old_body.code}, new={"body": body.code}, ip=ip)
    return grant


def grant_transfer(*, grant_id: int, officer, ip: str | None = None) -> Grant:
    """이관: the officer sends a request made to their body, off the institution's
    jurisdiction, to the health center of the institution's address; the applicant is told."""
    with transaction.atomic():
        grant = _locked_grant(grant_id=grant_id, body_id=officer.body_id)
        if grant.status != Grant.Status.REQUESTED:
            raise _already_decided(grant)
        institution = grant.user.institution
        home = institution.jurisdiction if institution and institution.jurisdiction_id else None
        if home is None or home.pk == grant.body_id or home.kind != grant.body.kind:
            raise GrantError(_("이 신청은 기관 주소지 관할 보건소에 접수되어 있어 이관할 곳이 "
                               "없습니다."), code="nothing_to_transfer")
        old_body = grant.body
        grant.body = home
        grant.save(update_fields=["body"])
        audit(actor=officer.user, action="grant.transferred", target=grant, subject=grant.user,
              old={"body": old_body.code}, new={"body": home.code}, ip=ip)
        _notify(grant.user, _(
            "[질병보건통합관리시스템] '%(perm)s' 권한 신청이 기관 주소지 관할 보건소인 "
            "%(body)s 이관되었습니다. 문의: %(phone)s")
            % {"perm": grant.permission_type.name, "body": particle(home.name, "으로/로"),
               "phone": home.contact_phone or "1644-1407"})
    return grant


def grant_usage_record(*, user, area: str) -> int:
    """Mark today's use of the user's approved grants of `area`: at most one write a day."""
    today = timezone.localdate()
    return (
        Grant.objects.filter(user=user, status=Grant.Status.APPROVED,
                             permission_type__menu_area=area)
        .exclude(last_used_on=today)
        .update(last_used_on=today)
    )


def officer_assign(*, user, body: ApprovingBody, actor=None, ip: str | None = None):
    """Make a signed-up user the officer of one approving body; the account becomes active."""
    from accounts.models import User
    from permissions.models import Officer

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.status == User.Status.WITHDRAWN:
            raise GrantError(_("탈퇴한 사용자는 담당자로 지정할 수 없습니다."), code="withdrawn")
        officer = Officer.objects.filter(user=user).first()
        old = {"body": officer.body.code} if officer else {}
        if officer and officer.body_id == body.pk:
            return officer
        if officer:
            officer.body = body
            officer.save(update_fields=["body"])
        else:
            officer = Officer.objects.create(user=user, body=body)
        audit(actor=actor, action="officer.assigned", target=officer, subject=user, old=old,
              new={"body": body.code}, ip=ip)
        if user.status == User.Status.PENDING:
            user.status = User.Status.ACTIVE
            user.save(update_fields=["status"])
            audit(actor=actor, action="account.activated", target=user, subject=user,
                  old={"status": User.Status.PENDING}, new={"status": user.status}, ip=ip)
    return officer


def officer_unassign(*, user, actor=None, ip: str | None = None) -> None:
    from permissions.models import Officer

    with transaction.atomic():
        officer = Officer.objects.select_for_update().filter(user=user).first()
        if officer is None:
            return
        audit(actor=actor, action="officer.unassigned", target=officer, subject=user,
              old={"body": officer.body.code}, ip=ip)
        officer.delete()


@dataclass(frozen=True)
class DigestLine:
    body: ApprovingBody
    waiting: int
    oldest_days: int
    overdue: int
    officers_notified: int
    already_sent: bool


def _days_ago(days: int) -> str:
    return _("오늘") if days == 0 else _("%(days)d일 전") % {"days": days}


def approval_digest_send(*, body: ApprovingBody, waiting: int, oldest, overdue: int,
                         overdue_days: int, now=None, dry_run: bool = False) -> DigestLine:
    """Tell one body's officers by SMS what waits for them, at most once a day (Asia/Seoul):
    the digest row's unique (body, day) decides, even when two runs overlap."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    days = (today - timezone.localdate(oldest)).days
    text = _("[질병보건통합관리시스템] %(body)s 승인 대기 %(count)d건 (가장 오래된 신청 "
             "%(when)s)") % {"body": body.name, "count": waiting, "when": _days_ago(days)}
    if overdue:
        text += _(", %(days)d일 이상 대기 %(late)d건") % {"days": overdue_days, "late": overdue}
    officers = [o for o in body.officers.select_related("user")
                if o.user.mobile and o.user.status != "withdrawn"]
    line = DigestLine(body=body, waiting=waiting, oldest_days=days, overdue=overdue,
                      officers_notified=0 if dry_run else len(officers), already_sent=False)
    if dry_run:
        return line
    try:
        with transaction.atomic():
            ApprovalDigest.objects.create(body=body, day=today, waiting=waiting,
                                          officers_notified=len(officers), sent_at=now)
            for officer in officers:
                send_sms(to=officer.user.mobile, text=text)
            audit(actor=None, action="approval.digest_sent", target=body,
                  new={"waiting": waiting, "overdue": overdue, "officers": len(officers)})
    except IntegrityError:
        return DigestLine(body=body, waiting=waiting, oldest_days=days, overdue=overdue,
                          officers_notified=0, already_sent=True)
    return line
