"""A person's audit trail as sentences the helpdesk reads out on the phone:
"2026-12-02 14:03 종로구보건소 김보건: 예방접종관리 User 승인". Never a raw event code or a
Python dict; an action this module does not know reads '기타 처리'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from institutions.models import ApprovingBody
from permissions.models import Grant

REVEALED_FIELDS = {"name": "이름", "mobile": "휴대폰번호", "office_phone": "기관(부서) 전화번호",
                   "search": "검색 결과로 특정", "all": "보유 개인정보 전체"}


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    who: str
    what: str
    reason: str

    @property
    def sentence(self) -> str:
        return f"{timezone.localtime(self.at):%Y-%m-%d %H:%M} {self.who}: {self.what}"


def _who(event, subject: User, actors: dict[int, User]) -> str:
    if event.actor_id is None:
        return _("시스템")
    if event.actor_id == subject.pk:
        return _("본인")
    actor = actors.get(event.actor_id)
    if actor is None:
        return _("탈퇴한 사용자")
    officer = getattr(actor, "officer", None) if hasattr(actor, "officer") else None
    if officer is not None:
        return f"{officer.body.name} {actor.display_name}"
    if actor.is_helpdesk:
        return _("헬프데스크 %(name)s") % {"name": actor.display_name}
    if actor.is_superuser:
        return _("관리자 %(name)s") % {"name": actor.display_name}
    return actor.display_name


def _what(event, grants: dict[str, Grant], bodies: dict[str, str]) -> str:
    grant = grants.get(event.target_id) if event.target_type == "permissions.grant" else None
    perm = grant.permission_type.name if grant else _("권한")
    body = grant.body.name if grant else ""
    new, old = event.new or {}, event.old or {}
    simple = {
        "account.signup": _("가입 신청"),
        "account.activated": _("계정 사용 시작 (첫 권한 승인)"),
        "account.login": _("인증서 로그인"),
        "account.created_by_admin": _("관리자가 계정 생성"),
        "account.withdrawn": _("탈퇴"),
        "certificate.rebound": _("갱신 인증서 재등록"),
        "phone.code_sent": _("휴대폰 인증번호 발송"),
        "phone.verified": _("휴대폰번호 인증 완료"),
        "phone.code_wrong": _("휴대폰 인증번호 오입력"),
        "helpdesk.viewed": _("헬프데스크 상세 조회"),
        "account.data_viewed": _("보유 개인정보 열람"),
        "account.data_downloaded": _("보유 개인정보 내려받기"),
        "helpdesk.assigned": _("헬프데스크 권한 부여"),
        "officer.unassigned": _("승인 담당자 지정 해제"),
    }
    if event.action in simple:
        return str(simple[event.action])
    if event.action == "grant.requested":
        return _("%(perm)s 신청 (%(body)s)") % {"perm": perm, "body": body}
    if event.action == "grant.approved":
        return _("%(perm)s 승인") % {"perm": perm}
    if event.action == "grant.rejected":
        return _("%(perm)s 반려") % {"perm": perm}
    if event.action == "grant.cancelled":
        return _("%(perm)s 신청취소") % {"perm": perm}
    if event.action == "grant.revoked":
        return _("%(perm)s 미승인") % {"perm": perm}
    if event.action == "grant.body_changed":
        return _("%(perm)s 승인기관 변경 (%(old)s → %(new)s)") % {
            "perm": perm, "old": bodies.get(old.get("body"), old.get("body", "")),
            "new": bodies.get(new.get("body"), new.get("body", ""))}
    if event.action == "officer.assigned":
        return _("승인 담당자 지정 (%(body)s)") % {
            "body": bodies.get(new.get("body"), new.get("body", ""))}
    if event.action == "helpdesk.revealed":
        field = REVEALED_FIELDS.get(new.get("field"), new.get("field", ""))
        return _("헬프데스크 개인정보 확인: %(field)s") % {"field": field}
    return str(_("기타 처리"))


def timeline_for(subject: User, events) -> list[TimelineRow]:
    """The rows for `events` (newest first), with three queries for every name they need."""
    events = list(events)
    actor_ids = {e.actor_id for e in events if e.actor_id}
    actors = {u.pk: u for u in User.objects.filter(pk__in=actor_ids).select_related(
        "officer__body")}
    grant_ids = {e.target_id for e in events if e.target_type == "permissions.grant"}
    grants = {str(g.pk): g for g in Grant.objects.filter(
        pk__in=[int(i) for i in grant_ids if i.isdigit()]).select_related(
        "permission_type", "body")}
    codes = {v.get("body") for e in events for v in (e.old or {}, e.new or {})
             if isinstance(v, dict) and v.get("body")}
    bodies = dict(ApprovingBody.objects.filter(code__in=codes).values_list("code", "name"))
    return [TimelineRow(at=e.at, who=_who(e, subject, actors), what=_what(e, grants, bodies),
                        reason=e.reason) for e in events]
