"""State changes of institutions and their supplementary info. Each function is one
transaction with an audit row."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from institutions.models import ApprovingBody, Institution, SupplementaryInfo
from institutions.validators import has_control_characters
from kdcis.audit import audit
from kdcis.errors import DomainError
from kdcis.korean import particle
from kdcis.phones import mask_mobile, mask_name

# The fields a user edits, in the order the audit lists them.
SUPPLEMENTARY_FIELDS = (
    "english_name", "business_number", "representative_name", "phone_area", "phone_number",
    "fax_area", "fax_number", "category", "jurisdiction", "information_system",
    "information_system_other", "predoctor_names", "vaccinator_names", "mobile", "email",
    "email_consent", "mobile_consent",
)
_FOREIGN_KEYS = {"category": "code", "jurisdiction": "code", "information_system": "name"}


def _mask_email(value: str) -> str:
    local, at, domain = (value or "").partition("@")
    return f"{local[:1]}***{at}{domain}" if local else ""


# Fields that name or reach a person: the audit keeps them masked, never the value itself
# (the record keeps the value for as long as the institution needs it).
_PERSONAL_MASKS = {
    "representative_name": mask_name,
    "predoctor_names": lambda names: [mask_name(n) for n in names or []],
    "vaccinator_names": lambda names: [mask_name(n) for n in names or []],
    "mobile": lambda v: mask_mobile(v) if v else "",
    "email": _mask_email,
}


def _for_audit(values: dict) -> dict:
    return {k: (_PERSONAL_MASKS[k](v) if k in _PERSONAL_MASKS and v else v)
            for k, v in values.items()}


class InstitutionError(DomainError):
    """A change of institution data the rules do not allow."""


def _snapshot(info: SupplementaryInfo) -> dict:
    """The record's values as plain JSON: foreign keys by their natural key."""
    values = {}
    for name in SUPPLEMENTARY_FIELDS:
        if name in _FOREIGN_KEYS:
            related = getattr(info, name, None) if getattr(info, f"{name}_id") else None
            values[name] = getattr(related, _FOREIGN_KEYS[name]) if related else None
        else:
            value = getattr(info, name)
            values[name] = list(value) if isinstance(value, list | tuple) else value
    return values


def supplementary_info_save(*, institution: Institution, data: dict, actor,
                            ip: str | None = None) -> SupplementaryInfo:
    """Create or update the institution's 의료기관 부가정보 from a validated form's data.

    The record belongs to the institution: any of its users edits the same row. The
    institution row is locked first so two users saving the first record at the same time
    queue up instead of one failing on the one-to-one constraint. The e-mail and mobile
    number are kept only with their consent. Saving unchanged values writes nothing.
    The audit row's target is the institution (so the helpdesk sees every change of an
    institution together) and it lists the changed fields' old and new values.
    """
    unknown = set(data) - set(SUPPLEMENTARY_FIELDS)
    if unknown:
        raise TypeError(f"unknown supplementary info fields: {sorted(unknown)}")
    jurisdiction = data.get("jurisdiction")
    if not isinstance(jurisdiction, ApprovingBody) or (
        jurisdiction.kind != ApprovingBody.Kind.HEALTH_CENTER
    ):
        raise InstitutionError(_("관할보건소는 보건소 중에서 선택하세요."), code="jurisdiction")
    if data.get("email_consent") is None or data.get("mobile_consent") is None:
        raise InstitutionError(_("개인정보 수집(이용) 동의 여부를 선택하세요."), code="consent")
    with transaction.atomic():
        locked = (
            Institution.objects.select_for_update(no_key=True).select_related("type")
            .get(pk=institution.pk)
        )
        if not locked.type.is_medical:
            raise InstitutionError(
                _("의료기관 부가정보는 의료기관만 입력할 수 있습니다."), code="not_medical")
        info = (
            SupplementaryInfo.objects.select_for_update()
            .select_related("category", "jurisdiction", "information_system")
            .filter(institution=locked).first()
        )
        created = info is None
        if created:
            info = SupplementaryInfo(institution=locked)
            old: dict = {}
        else:
            old = _snapshot(info)
        for name in SUPPLEMENTARY_FIELDS:
            default = [] if name.endswith("_names") else ""
            setattr(info, name, data.get(name, default))
        # Not collected without consent (개인정보 수집(이용) 동의).
        if not info.email_consent:
            info.email = ""
        if not info.mobile_consent:
            info.mobile = ""
        new = _snapshot(info)
        if not created and new == old:
            return info
        if created or (old.get("email_consent"), old.get("mobile_consent")) != (
            info.email_consent, info.mobile_consent
        ):
            info.consented_at = timezone.now()
        info.updated_by = actor if getattr(actor, "pk", None) else None
        info.save()
        changed = [k for k in SUPPLEMENTARY_FIELDS if old.get(k) != new.get(k)]
        audit(
            actor=actor, action="institution.supplementary_saved", target=locked,
            old=_for_audit({k: old[k] for k in changed if k in old}),
            new=_for_audit({k: new[k] for k in changed}),
            ip=ip,
        )
    return info


_POSTCODE = re.compile(r"[0-9]{5}")


def _correction_value(value: str | None, *, label: str, max_length: int) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    if not value:
        raise InstitutionError(_("%(label)s 입력하세요.") % {"label": particle(label, "을/를")},
                               code="required")
    if len(value) > max_length:
        raise InstitutionError(
            _("%(label)s %(max)d자 이내로 입력하세요.")
            % {"label": particle(label, "은/는"), "max": max_length},
            code="too_long")
    if has_control_characters(value):
        raise InstitutionError(_("입력할 수 없는 문자가 포함되어 있습니다."), code="control")
    if label != _("우편번호") and not any(ch.isalnum() for ch in value):
        raise InstitutionError(_("%(label)s 한글, 영문 또는 숫자로 입력하세요.")
                               % {"label": particle(label, "은/는")}, code="no_text")
    return value


def institution_correct(*, institution: Institution, name: str | None = None,
                        address: str | None = None, postcode: str | None = None,
                        reason: str, actor, ip: str | None = None) -> Institution:
    """The helpdesk corrects an institution's name, address or postcode on request.

    Only helpdesk staff may; the reason is required and kept in the audit row with the old
    and new values. Fields passed as None stay as they are; unchanged values write nothing.
    """
    if not (getattr(actor, "pk", None) and getattr(actor, "is_helpdesk", False)
            and getattr(actor, "is_active", False)):
        raise InstitutionError(_("기관명과 주소는 헬프데스크만 수정할 수 있습니다."),
                               code="forbidden")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InstitutionError(_("수정 사유를 입력하세요."), code="reason_required")
    if len(reason) > 500:
        raise InstitutionError(_("수정 사유는 500자 이내로 입력하세요."), code="reason_too_long")
    changes = {
        "name": _correction_value(name, label=_("기관명"), max_length=120),
        "address": _correction_value(address, label=_("주소"), max_length=200),
        "postcode": _correction_value(postcode, label=_("우편번호"), max_length=5),
    }
    if changes["postcode"] is not None and not _POSTCODE.fullmatch(changes["postcode"]):
        raise InstitutionError(_("우편번호는 숫자 5자리로 입력하세요."), code="postcode")
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        raise InstitutionError(_("수정할 항목을 입력하세요."), code="nothing")
    with transaction.atomic():
        locked = Institution.objects.select_for_update(no_key=True).get(pk=institution.pk)
        old = {k: getattr(locked, k) for k, v in changes.items() if getattr(locked, k) != v}
        if not old:
            return locked
        for key in old:
            setattr(locked, key, changes[key])
        locked.save(update_fields=list(old))
        audit(actor=actor, action="institution.corrected", target=locked,
              old={"number": locked.number, **old},
              new={"number": locked.number, **{k: changes[k] for k in old}},
              reason=reason, ip=ip)
    return locked
