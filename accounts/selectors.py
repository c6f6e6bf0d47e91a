"""Reads about users: what the helpdesk may find, whom a certificate belongs to, which
number a session verified."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from accounts.certificates import VerifiedCertificate
from accounts.models import CertificateBinding, PhoneVerification, User


def bindings_for_certificate(certificate) -> QuerySet[CertificateBinding]:
    """The binding of this certificate (a VerifiedCertificate or a CertificateIdentity):
    same issuer and serial, whatever its encoding; a binding made before the issuer's whole
    name was stored matches on the issuer CN (accounts/migrations/0005)."""
    legacy = CertificateBinding.LEGACY_ISSUER_PREFIX + certificate.issuer[:200]
    return CertificateBinding.objects.filter(serial=certificate.serial,
                                             issuer_dn__in=[certificate.issuer_dn, legacy])


def classify_query(q: str) -> str:
    """What the helpdesk typed: a mobile number, an institution number, an ID or a name."""
    digits = re.sub(r"[\s-]", "", q)
    if digits.isdigit() and digits.startswith("01") and len(digits) >= 10:
        return "mobile"
    if digits.isdigit():
        return "institution_number"
    if re.fullmatch(r"[a-z][a-z0-9]{1,19}", q):
        return "username"
    return "name"


SEARCH_CAP = 500


def helpdesk_search(q: str) -> tuple[str, QuerySet[User], bool]:
    """Index-backed lookups: exact or prefix matches, never a scan of every user.

    Each way of matching is its own query on its own index, capped at SEARCH_CAP ids; an OR
    across the institution join would make PostgreSQL scan the whole table instead. Returns
    the kind of query, the users found and whether the cap cut the result.
    """
    q = " ".join((q or "").split())[:60]
    base = User.objects.exclude(status=User.Status.WITHDRAWN)
    if not q:
        return "", base.none(), False
    kind = classify_query(q)
    digits = re.sub(r"[\s-]", "", q)
    if kind == "mobile":
        parts = [base.filter(mobile=digits)]
    elif kind == "institution_number":
        parts = [base.filter(institution__number=digits)]
    elif kind == "username":
        parts = [base.filter(username__startswith=q), base.filter(name__startswith=q),
                 base.filter(institution__name__startswith=q)]
    else:
        parts = [base.filter(name__startswith=q), base.filter(institution__name__startswith=q)]
    ids: set[int] = set()
    truncated = False
    for part in parts:
        found = list(part.values_list("id", flat=True)[:SEARCH_CAP])
        truncated = truncated or len(found) == SEARCH_CAP
        ids.update(found)
    users = (User.objects.filter(id__in=ids)
             .select_related("institution", "institution__type").order_by("name", "id"))
    return kind, users, truncated


def is_public_servant(user) -> bool:
    """Officers and helpdesk staff: the people a GPKI/EPKI certificate may sign in as."""
    from permissions.models import Officer

    if user is None or not getattr(user, "pk", None):
        return False
    return bool(user.is_helpdesk) or Officer.objects.filter(user_id=user.pk).exists()


# ----------------------------------------------------------- who a certificate belongs to


def account_for_certificate(cert: VerifiedCertificate) -> User | None:
    """The account bound to this certificate (issuer + serial, whatever its encoding)."""
    binding = bindings_for_certificate(cert).select_related("user").first()
    if binding is None or binding.user.status == User.Status.WITHDRAWN:
        return None
    return binding.user


def _same_owner_bindings(cert: VerifiedCertificate):
    return (CertificateBinding.objects.select_related("user")
            .filter(subject_cn=cert.subject_cn, issuer=cert.issuer[:200])
            .exclude(pk__in=bindings_for_certificate(cert).values("pk")))


def renewal_candidate(cert: VerifiedCertificate) -> User | None:
    """An account bound to an older certificate with the same subject from the same issuer.

    Only a newer certificate renews: the one a re-binding replaced is not offered again."""
    binding = _same_owner_bindings(cert).filter(not_after__lt=cert.not_after).first()
    if binding is None or binding.user.status == User.Status.WITHDRAWN or not binding.user.mobile:
        return None
    return binding.user


def superseded_certificate(cert: VerifiedCertificate) -> bool:
    """The certificate a renewal replaced: its owner's account is bound to a newer one."""
    return _same_owner_bindings(cert).filter(not_after__gt=cert.not_after).exclude(
        user__status=User.Status.WITHDRAWN).exists()


# ------------------------------------------------------------------ phone verification


def verified_phone(*, verification_id: int | None, session_key: str, phone: str,
                   purpose: str = "signup") -> bool:
    """Whether this session verified exactly this number (used again on submit)."""
    if not verification_id:
        return False
    return PhoneVerification.objects.filter(
        pk=verification_id, session_key=session_key, phone=phone, purpose=purpose,
        verified_at__isnull=False,
    ).exists()


# ------------------------------------------------------------------- 내 정보 열람 (access)


def _iso(value) -> str | None:
    from django.utils import timezone

    if value is None:
        return None
    if hasattr(value, "tzinfo"):
        return timezone.localtime(value).isoformat()
    return value.isoformat()


def _session_last_use(session_row, decoded: dict) -> str | None:
    """A staff session records its last request (kdcis.request_log); any other session is
    known to have been used when it was last saved (its expiry moves with each save)."""
    import datetime as dt

    from django.conf import settings

    if decoded.get("last_seen"):
        return _iso(dt.datetime.fromtimestamp(int(decoded["last_seen"]), tz=dt.UTC))
    return _iso(session_row.expire_date - dt.timedelta(seconds=settings.SESSION_COOKIE_AGE))


def personal_data_for(user: User, *, current_session_key: str | None = None) -> dict:
    """Everything the portal holds about `user`, as plain JSON-ready data (내 정보 열람).

    Verification codes are never included (only their hashes are stored, and not even
    those are shown). Audit rows come as the person's subject rows and as their own actions,
    each with a Korean sentence. A constant number of queries whatever the history's length.
    """
    from django.db.models import Q

    from accounts.models import Consent, PhoneVerification, UserSession
    from accounts.timeline import timeline_for
    from kdcis.models import AuditEvent
    from kdcis.phones import format_phone
    from permissions.models import Grant

    institution = user.institution
    officer = getattr(user, "officer", None) if hasattr(user, "officer") else None
    account = {
        "username": user.username, "name": user.name,
        "status": user.status, "status_label": str(user.get_status_display()),
        "institution": None if institution is None else {
            "number": institution.number, "name": institution.name,
            "type": institution.type.name if institution.type_id else ""},
        "mobile": format_phone(user.mobile) if user.mobile else "",
        "office_phone": format_phone(user.office_phone) if user.office_phone else "",
        "email": user.email, "joined_at": _iso(user.date_joined),
        "last_login_at": _iso(user.last_login),
        "roles": {"helpdesk": user.is_helpdesk,
                  "officer_of": officer.body.name if officer else None},
    }
    binding = CertificateBinding.objects.filter(user=user).first()
    certificate = None if binding is None else {
        "subject": binding.subject_cn, "issuer": binding.issuer, "issuer_dn": binding.issuer_dn,
        "serial": binding.serial, "not_before": _iso(binding.not_before),
        "not_after": _iso(binding.not_after), "kind": binding.kind,
        "kind_label": str(binding.get_kind_display()), "policy_oid": binding.policy_oid,
        "fingerprint_sha256": binding.fingerprint, "bound_at": _iso(binding.bound_at)}
    consents = [{"notice": c.notice, "version": c.notice_version, "agreed_at": _iso(c.agreed_at)}
                for c in Consent.objects.filter(user=user).order_by("agreed_at", "pk")]

    subject_rows = list(AuditEvent.objects.filter(subject_ref=str(user.ref))
                        .order_by("seq"))
    actor_rows = list(AuditEvent.objects.filter(actor=user).exclude(
        subject_ref=str(user.ref)).order_by("seq"))
    sentences = dict(zip([e.pk for e in subject_rows + actor_rows],
                         timeline_for(user, subject_rows + actor_rows), strict=True))

    def event(e) -> dict:
        row = sentences[e.pk]
        return {"at": _iso(e.at), "who": row.who, "what": row.what, "reason": e.reason,
                "action": e.action, "target": f"{e.target_type}:{e.target_id}",
                "old": e.old, "new": e.new, "ip": e.ip, "seq": e.seq}

    history: dict[str, list] = {}
    for e in subject_rows:
        if e.target_type == "permissions.grant":
            history.setdefault(e.target_id, []).append(
                {"at": _iso(e.at), "who": sentences[e.pk].who, "what": sentences[e.pk].what,
                 "reason": e.reason})
    grants = [{
        "permission": g.permission_type.name, "approving_body": g.body.name,
        "status": g.status, "status_label": str(g.get_status_display()),
        "requested_at": _iso(g.requested_at), "decided_at": _iso(g.decided_at),
        "reason": g.reason, "last_used_on": _iso(g.last_used_on),
        "revoked_at": _iso(g.revoked_at), "history": history.get(str(g.pk), []),
    } for g in Grant.objects.filter(user=user).select_related("permission_type", "body")
        .order_by("requested_at", "pk")]

    phone_filter = Q(user=user) | (Q(phone=user.mobile) if user.mobile else Q(pk__in=[]))
    phones = [{
        "phone": format_phone(v.phone), "purpose": v.purpose, "sent_at": _iso(v.created_at),
        "expires_at": _iso(v.expires_at), "attempts": v.attempts,
        "verified_at": _iso(v.verified_at), "voided": v.voided,
    } for v in PhoneVerification.objects.filter(phone_filter).order_by("created_at", "pk")]

    session_rows = list(UserSession.objects.filter(user=user).select_related("session")
                        .order_by("-created_at"))
    sessions = []
    for row in session_rows:
        try:
            decoded = row.session.get_decoded()
        except Exception:  # an unreadable session (another SECRET_KEY): no details
            decoded = {}
        sessions.append({
            "signed_in_at": _iso(row.created_at), "device": row.user_agent,
            "last_used_at": _session_last_use(row.session, decoded),
            "expires_at": _iso(row.session.expire_date),
            "signed_in": "_auth_user_id" in decoded,
            "current": row.session_id == current_session_key,
        })
    return {
        "account": account, "certificate": certificate, "consents": consents,
        "permissions": grants, "phone_verifications": phones,
        "audit": {"about_me": [event(e) for e in subject_rows],
                  "by_me": [event(e) for e in actor_rows]},
        "sessions": sessions,
    }


def expiring_certificates(*, now: datetime | None = None, days: int = 30):
    """Certificates of current accounts that expire within `days` days, soonest first."""
    now = now or timezone.now()
    return (
        CertificateBinding.objects.filter(not_after__gte=now,
                                          not_after__lt=now + timedelta(days=days))
        .exclude(user__status=User.Status.WITHDRAWN)
        .select_related("user", "user__institution")
        .order_by("not_after", "pk")
    )
