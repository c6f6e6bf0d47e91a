"""State changes of institutions and their supplementary info. Each function is one
transaction with an audit row."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from institutions.models import ApprovingBody, Institution, SupplementaryInfo
from institutions.search import jamo, name_key
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
    A corrected field is marked on the institution, so a re-import of its list keeps the
    correction instead of writing the list's value back.
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
            # What the list had before the first correction stays the reference: a re-import
            # compares against it (institutions_import).
            locked.corrections.setdefault(key, old[key])
        locked.save(update_fields=[*old, "corrections"])
        audit(actor=actor, action="institution.corrected", target=locked,
              old={"number": locked.number, **old},
              new={"number": locked.number, **{k: changes[k] for k in old}},
              reason=reason, ip=ip)
    return locked


# ------------------------------------------------------------- HIRA's 요양기관 lists

IMPORT_BATCH = 2000
# The fields an import compares and writes, in the audit's order.
IMPORT_FIELDS = ("name", "name_key", "name_jamo", "type_id", "category_id", "postcode", "address",
                 "region_id", "sigungu_code", "dong", "jurisdiction_id", "phone", "opened_on",
                 "status", "closed_at", "source")


@dataclass
class ImportResult:
    source: str
    rows: int = 0
    added: list = field(default_factory=list)  # numbers
    changed: list = field(default_factory=list)  # (number, [fields])
    unchanged: int = 0
    closed: list = field(default_factory=list)  # numbers
    refused: list = field(default_factory=list)  # (line, number, reason)
    # Helpdesk corrections the list disagrees with, kept: (number, field, the list's value,
    # the corrected value, whether the list's value changed since the correction).
    kept: list = field(default_factory=list)
    # Corrections the list now agrees with: (number, field); no longer marked.
    agreed: list = field(default_factory=list)
    dry_run: bool = False


def _import_context():
    from institutions.jurisdiction import Directory
    from institutions.models import Category, InstitutionType, Region

    directory = Directory.load()
    centers = {
        (body.region_id, body.name): body.pk
        for body in ApprovingBody.objects.filter(kind=ApprovingBody.Kind.HEALTH_CENTER)
    }
    return (directory, centers, {c.code: c.pk for c in Category.objects.all()},
            {c.name: c.code for c in Category.objects.all()},
            {t.code: t.pk for t in InstitutionType.objects.all()},
            set(Region.objects.values_list("code", flat=True)))


def _import_values(row, context) -> tuple[dict | None, str]:
    """The institution's fields from one row, or (None, why it is refused)."""
    directory, centers, categories, category_by_name, types, regions = context
    if not row.number:
        return None, _("요양기관기호가 비어 있습니다.")
    if len(row.number) > 100:
        return None, _("요양기관기호가 100자를 넘습니다.")
    if not row.name:
        return None, _("요양기관명이 비어 있습니다.")
    if has_control_characters(row.name) or has_control_characters(row.address):
        return None, _("기관명이나 주소에 입력할 수 없는 문자가 있습니다.")
    code = row.category_code if row.category_code in categories else category_by_name.get(
        row.category_name)
    type_code = _hira_type(code)
    if code is None or type_code is None:
        return None, _("알 수 없는 종별코드입니다: %(code)s %(name)s") % {
            "code": row.category_code, "name": row.category_name}
    sido = directory.sido_code(row.sido_code, row.sido_name)
    sigungu = directory.sigungu_code(code=row.sigungu_code, name=row.sigungu_name,
                                     sido_code=sido)
    if sigungu is None or sigungu[:2] not in regions:
        return None, _("알 수 없는 시군구코드입니다: %(code)s %(sido)s %(name)s") % {
            "code": row.sigungu_code, "sido": row.sido_name, "name": row.sigungu_name}
    center = directory.center_name(sigungu_code=sigungu, dong=row.dong, address=row.address)
    center_id = centers.get((sigungu[:2], center)) if center else None
    if center_id is None:
        return None, _("관할보건소를 정할 수 없습니다: %(code)s %(dong)s") % {
            "code": sigungu, "dong": row.dong}
    return {
        "name": row.name[:120], "name_key": name_key(row.name[:120]),
        "name_jamo": jamo(name_key(row.name[:120])),
        "type_id": types[type_code], "category_id": categories[code],
        "postcode": row.postcode, "address": row.address[:200], "region_id": sigungu[:2],
        "sigungu_code": sigungu, "dong": row.dong[:40], "jurisdiction_id": center_id,
        "phone": row.phone, "opened_on": row.opened_on,
        "status": Institution.Status.OPEN, "closed_at": None,
    }, ""


def _apply_corrections(number: str, values: dict, old: dict, corrections: dict,
                       result: ImportResult) -> dict:
    """Keep the helpdesk's corrections of an institution against its list's row.

    A correction is a person's decision on the institution's own word (a renamed clinic, a
    wrong address), so an import never writes the list's value over it: the corrected value
    stays in `values` and the disagreement is reported, with whether the list's value is
    still the one corrected or has changed since (then someone should look again). Once the
    list says what the correction says, the mark is dropped and the list rules that field
    again. Returns the institution's corrections after this row.
    """
    remaining = dict(corrections)
    for name, list_value_then in corrections.items():
        if name not in values:
            continue
        if values[name] == old[name]:
            del remaining[name]
            result.agreed.append((number, name))
            continue
        result.kept.append((number, name, values[name], old[name],
                            values[name] != list_value_then))
        values[name] = old[name]
        if name == "name":
            values["name_key"] = name_key(old[name])
            values["name_jamo"] = jamo(values["name_key"])
    return remaining


def _hira_type(category_code: str | None) -> str | None:
    from institutions.hira import TYPE_BY_CATEGORY

    return TYPE_BY_CATEGORY.get(category_code or "")


def institutions_import(*, rows, source: str, actor=None, dry_run: bool = False,
                        file_name: str = "", progress=None) -> ImportResult:
    """Apply one of HIRA's lists: add new institutions, update changed ones, close (폐업)
    those of the same list that vanished from it. Keyed on the institution number; never
    deletes (users and supplementary info point at institutions).

    One transaction; with `dry_run` it is rolled back after computing what would change.
    Two imports at once queue on the institution types' row locks, so the second sees the
    first's rows. Institutions registered through 기관등록 신청 or by hand are never closed
    by an import; one that appears in a list is taken over by it. A field the helpdesk
    corrected keeps its correction (_apply_corrections). One audit row records the
    counts (a per-row trail of 100,000 rows would drown the trail; the numbers are kept).
    """
    from institutions.models import InstitutionType

    if source not in (Institution.Source.HIRA_HOSPITALS, Institution.Source.HIRA_PHARMACIES):
        raise ValueError(f"not a HIRA list: {source!r}")
    result = ImportResult(source=source, dry_run=dry_run)
    try:
        with transaction.atomic():
            list(InstitutionType.objects.select_for_update().order_by("pk"))
            context = _import_context()
            existing = {
                values[0]: values for values in Institution.objects.values_list(
                    "number", "pk", *IMPORT_FIELDS, "corrections").iterator(chunk_size=5000)
            }
            seen: set[str] = set()
            creates, updates = [], []
            now = timezone.now()
            for row in rows:
                result.rows += 1
                if progress and result.rows % 1000 == 0:
                    progress(result.rows)
                if row.number in seen:
                    result.refused.append((row.line, row.number,
                                           _("같은 요양기관기호가 파일에 두 번 있습니다.")))
                    continue
                values, reason = _import_values(row, context)
                if values is None:
                    result.refused.append((row.line, row.number, reason))
                    continue
                seen.add(row.number)
                values["source"] = source
                current = existing.get(row.number)
                if current is None:
                    creates.append(Institution(number=row.number, **values))
                    result.added.append(row.number)
                    continue
                old = dict(zip(IMPORT_FIELDS, current[2:-1], strict=True))
                if old["source"] not in ("", source) and old["source"] != (
                        Institution.Source.REGISTRATION):
                    # The other list's institution (a number in both lists): leave it.
                    result.refused.append((row.line, row.number,
                                           _("다른 목록에서 가져온 기관입니다.")))
                    continue
                corrections = _apply_corrections(row.number, values, old, current[-1] or {},
                                                 result)
                changed = [k for k in IMPORT_FIELDS if old[k] != values[k]
                           and k not in ("name_key", "name_jamo")]
                if not changed and corrections == (current[-1] or {}):
                    result.unchanged += 1
                    continue
                if changed:
                    result.changed.append((row.number, changed))
                updates.append(Institution(pk=current[1], number=row.number,
                                           corrections=corrections, **values))
            if progress:
                progress(result.rows)
            vanished = [
                (number, values[1]) for number, values in existing.items()
                if number not in seen and values[2 + IMPORT_FIELDS.index("source")] == source
                and values[2 + IMPORT_FIELDS.index("status")] == Institution.Status.OPEN
            ]
            result.closed = sorted(number for number, _pk in vanished)
            if not dry_run:
                Institution.objects.bulk_create(creates, batch_size=IMPORT_BATCH)
                fields = [f.removesuffix("_id") if f.endswith("_id") else f
                          for f in IMPORT_FIELDS] + ["corrections"]
                Institution.objects.bulk_update(updates, fields, batch_size=IMPORT_BATCH)
                pks = [pk for _number, pk in vanished]
                for start in range(0, len(pks), IMPORT_BATCH):
                    Institution.objects.filter(pk__in=pks[start:start + IMPORT_BATCH]).update(
                        status=Institution.Status.CLOSED, closed_at=now)
                audit(actor=actor, action="institution.imported", target_type="import",
                      target_id=source, new={
                          "file": file_name, "rows": result.rows,
                          "added": len(result.added), "changed": len(result.changed),
                          "closed": len(result.closed), "refused": len(result.refused),
                          "closed_numbers": result.closed[:1000],
                          "corrections_kept": len(result.kept),
                          "corrections_kept_numbers": sorted(
                              {number for number, *_rest in result.kept})[:1000],
                          "corrections_agreed": len(result.agreed),
                      })
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return result


class _DryRun(Exception):
    """Rolls a dry run's transaction back."""


# ------------------------------------------------------------- 기관등록 신청

REQUEST_FIELDS = ("name", "type", "business_number", "postcode", "address", "sigungu_code",
                  "dong", "phone")


def _request_snapshot(req) -> dict:
    return {"name": req.name, "type": req.type.code if req.type_id else None,
            "business_number": req.business_number, "postcode": req.postcode,
            "address": req.address, "sigungu_code": req.sigungu_code, "dong": req.dong,
            "phone": req.phone, "body": req.body.code if req.body_id else None}


def _request_body(*, sigungu_code: str, dong: str, address: str) -> ApprovingBody:
    from institutions.selectors import health_center_for

    body = health_center_for(sigungu_code=sigungu_code, dong=dong, address=address)
    if body is None:
        raise InstitutionError(_("주소의 시군구를 확인하세요. 관할 보건소를 찾을 수 없습니다."),
                               code="sigungu")
    return body


def _notify(req, text: str) -> None:
    from kdcis.sms import InvalidPhoneNumber, send_sms

    if req.applicant_mobile:
        try:
            send_sms(to=req.applicant_mobile, text=text)
        except InvalidPhoneNumber:
            pass  # checked by the form; a number that went bad is no reason to fail a decision


def institution_request_submit(*, data: dict, applicant_name: str, applicant_mobile: str,
                               draft_key: str, ip: str | None = None):
    """An applicant asks the health center of the institution's address to register it.

    `data` is a validated InstitutionRequestForm's: name, type, business_number, postcode,
    address, sigungu_code, dong, phone. The body is the address's health center (the
    jurisdiction rules). One open request per signup draft: a second submission while one
    waits replaces nothing and is refused (the applicant changes it by cancelling).
    """
    from institutions.models import InstitutionRequest

    body = _request_body(sigungu_code=data["sigungu_code"], dong=data.get("dong", ""),
                         address=data["address"])
    with transaction.atomic():
        if draft_key and InstitutionRequest.objects.select_for_update().filter(
                draft_key=draft_key, status=InstitutionRequest.Status.REQUESTED).exists():
            raise InstitutionError(_("이미 접수된 기관등록 신청이 있습니다. 처리 결과를 기다리거나 "
                                     "신청을 취소한 뒤 다시 신청하세요."), code="open_request")
        req = InstitutionRequest.objects.create(
            **{k: data.get(k, "") for k in REQUEST_FIELDS}, region_id=data["sigungu_code"][:2],
            body=body, applicant_name=applicant_name[:30],
            applicant_mobile=applicant_mobile or "", draft_key=draft_key,
        )
        audit(actor=None, action="institution_request.submitted", target=req,
              new={**_request_snapshot(req), "applicant": mask_name(applicant_name)}, ip=ip)
    return req


def _locked_request(pk: int):
    from institutions.models import InstitutionRequest

    return (InstitutionRequest.objects.select_for_update(of=("self",))
            .select_related("type", "body").get(pk=pk))


def _officer_may(officer_user, req) -> None:
    officer = getattr(officer_user, "officer", None)
    if officer is None or officer.body_id != req.body_id:
        raise InstitutionError(_("관할 보건소의 담당자만 처리할 수 있습니다."), code="forbidden")


def institution_request_register(*, request_id: int, actor, category=None,
                                 ip: str | None = None):
    """The health center registers the requested institution: the institution is created
    (open, its jurisdiction the deciding center), the request points at it, the applicant
    is told by SMS. Two officers at once: the second finds it decided and is refused."""
    from institutions.models import InstitutionRequest

    with transaction.atomic():
        req = _locked_request(request_id)
        _officer_may(actor, req)
        if req.status != InstitutionRequest.Status.REQUESTED:
            raise InstitutionError(_("이미 처리된 신청입니다."), code="decided")
        institution = Institution.objects.create(
            number=f"REG{req.pk:07d}", name=req.name, type=req.type, category=category,
            postcode=req.postcode, address=req.address, region_id=req.region_id,
            sigungu_code=req.sigungu_code, dong=req.dong, jurisdiction=req.body,
            phone=req.phone, source=Institution.Source.REGISTRATION,
        )
        req.status = InstitutionRequest.Status.REGISTERED
        req.institution = institution
        req.decided_at = timezone.now()
        req.decided_by = actor
        req.save(update_fields=["status", "institution", "decided_at", "decided_by"])
        audit(actor=actor, action="institution.registered", target=institution,
              new={"number": institution.number, "name": institution.name,
                   "request": req.reference, "body": req.body.code}, ip=ip)
        audit(actor=actor, action="institution_request.registered", target=req,
              old={"status": "requested"}, new={"status": "registered",
                                                "institution": institution.number}, ip=ip)
        _notify(req, _("[질병보건통합관리시스템] 기관등록 신청(%(ref)s)한 %(name)s "
                       "등록되었습니다. 가입 화면에서 이어서 진행하거나 기관명으로 검색해 "
                       "선택하세요.") % {"ref": req.reference,
                                        "name": particle(req.name, "이/가")})
    return req


def institution_request_reject(*, request_id: int, actor, reason: str, ip: str | None = None):
    """The health center rejects the request with a reason the applicant sees and gets by
    SMS."""
    from institutions.models import InstitutionRequest

    reason = " ".join((reason or "").split())
    if not reason:
        raise InstitutionError(_("반려 사유를 입력하세요."), code="reason_required")
    if len(reason) > 500:
        raise InstitutionError(_("반려 사유는 500자 이내로 입력하세요."), code="reason_too_long")
    with transaction.atomic():
        req = _locked_request(request_id)
        _officer_may(actor, req)
        if req.status != InstitutionRequest.Status.REQUESTED:
            raise InstitutionError(_("이미 처리된 신청입니다."), code="decided")
        req.status = InstitutionRequest.Status.REJECTED
        req.reason = reason
        req.decided_at = timezone.now()
        req.decided_by = actor
        req.save(update_fields=["status", "reason", "decided_at", "decided_by"])
        audit(actor=actor, action="institution_request.rejected", target=req,
              old={"status": "requested"}, new={"status": "rejected"}, reason=reason, ip=ip)
        _notify(req, _("[질병보건통합관리시스템] 기관등록 신청(%(ref)s)이 반려되었습니다. "
                       "사유: %(reason)s") % {"ref": req.reference, "reason": reason[:60]})
    return req


def institution_request_cancel(*, request_id: int, draft_key: str, ip: str | None = None):
    """The applicant withdraws a waiting request (to correct it and ask again)."""
    from institutions.models import InstitutionRequest

    with transaction.atomic():
        req = _locked_request(request_id)
        if not draft_key or req.draft_key != draft_key:
            raise InstitutionError(_("본인이 신청한 건만 취소할 수 있습니다."), code="forbidden")
        if req.status != InstitutionRequest.Status.REQUESTED:
            raise InstitutionError(_("이미 처리된 신청입니다."), code="decided")
        req.status = InstitutionRequest.Status.CANCELLED
        req.decided_at = timezone.now()
        req.save(update_fields=["status", "decided_at"])
        audit(actor=None, action="institution_request.cancelled", target=req,
              old={"status": "requested"}, new={"status": "cancelled"}, ip=ip)
    return req


def institution_request_correct(*, request_id: int, actor, data: dict, reason: str,
                                ip: str | None = None):
    """The helpdesk corrects a waiting request on the applicant's call (a typo in the name
    or the address). A new address may move it to another health center."""
    from institutions.models import InstitutionRequest

    if not (getattr(actor, "pk", None) and getattr(actor, "is_helpdesk", False)):
        raise InstitutionError(_("헬프데스크만 수정할 수 있습니다."), code="forbidden")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InstitutionError(_("수정 사유를 입력하세요."), code="reason_required")
    if len(reason) > 500:
        raise InstitutionError(_("수정 사유는 500자 이내로 입력하세요."), code="reason_too_long")
    with transaction.atomic():
        req = _locked_request(request_id)
        if req.status != InstitutionRequest.Status.REQUESTED:
            raise InstitutionError(_("처리가 끝난 신청은 수정할 수 없습니다."), code="decided")
        old = _request_snapshot(req)
        for key in REQUEST_FIELDS:
            if key in data:
                setattr(req, key, data[key])
        req.region_id = req.sigungu_code[:2]
        req.body = _request_body(sigungu_code=req.sigungu_code, dong=req.dong,
                                 address=req.address)
        new = _request_snapshot(req)
        changed = [k for k in new if new[k] != old[k]]
        if not changed:
            return req
        req.save()
        audit(actor=actor, action="institution_request.corrected", target=req,
              old={k: old[k] for k in changed}, new={k: new[k] for k in changed},
              reason=reason, ip=ip)
    return req
