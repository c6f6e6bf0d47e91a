"""The one helper services call to write the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import models

from kdcis.models import AuditEvent


def _ref(user) -> str:
    if user is None or not getattr(user, "pk", None):
        return ""
    return str(getattr(user, "ref", "") or user.pk)


def audit(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    subject=None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    reason: str = "",
    ip: str | None = None,
) -> AuditEvent:
    """Append one audit row. Call inside the service's transaction.

    `subject` is the user the change concerns; only their pseudonymous reference is stored.
    Callers must not put names, IDs or phone numbers into `old`/`new`.
    """
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    actor_obj = actor if getattr(actor, "pk", None) else None
    return AuditEvent.objects.create(
        actor=actor_obj,
        actor_ref=_ref(actor_obj),
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        subject_ref=_ref(subject),
        old=old or {},
        new=new or {},
        reason=reason,
        ip=ip,
    )


def audit_each(*, actor, action: str, subjects, target_type: str, target_id: str = "-",
               new: dict[str, Any] | None = None, ip: str | None = None) -> int:
    """One row per subject, written in one statement (a list the helpdesk was shown)."""
    actor_obj = actor if getattr(actor, "pk", None) else None
    rows = [AuditEvent(actor=actor_obj, actor_ref=_ref(actor_obj), action=action,
                       target_type=target_type, target_id=str(target_id),
                       subject_ref=_ref(subject), new=new or {}, ip=ip)
            for subject in subjects]
    AuditEvent.objects.bulk_create(rows)
    return len(rows)
