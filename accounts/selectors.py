"""Reads about users: what the helpdesk may find, whom a certificate belongs to, which
number a session verified."""

from __future__ import annotations

import re

from django.db.models import QuerySet

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
