"""Reads about users that depend on who asks (the helpdesk)."""

from __future__ import annotations

import re

from django.db.models import QuerySet

from accounts.models import CertificateBinding, User


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
