"""The cross-cutting tables in the national admins' site.

The audit trail, the SMS outbox and the rate counters are written only by the code: here they
can be read, never added, changed or deleted. Notices (공지 and 업무연락), the 자주묻는 질문 and
library files are edited here.
"""

from __future__ import annotations

import json
import re

from django.contrib import admin
from django.utils.translation import gettext_lazy

from kdcis.admin_site import ReadOnlyAdmin, kdcis_admin_site, shown, titled
from kdcis.models import AuditEvent, Faq, LibraryFile, Notice, RateCounter, SmsMessage
from kdcis.phones import mask_mobile

_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


@admin.register(AuditEvent, site=kdcis_admin_site)
class AuditEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("at_", "action_", "actor_", "target", "subject_ref_", "change", "reason_",
                    "ip_")
    list_filter = (("action", titled(gettext_lazy("작업"))),
                   ("target_type", titled(gettext_lazy("대상 종류"))),
                   ("at", titled(gettext_lazy("일시"))))
    search_fields = ("action", "=target_id", "=subject_ref", "=actor_ref", "actor__username",
                     "=ip")
    search_help_text = gettext_lazy(
        "작업명, 대상 ID(전체), 가명 참조(전체), 처리자 아이디 또는 IP(전체)로 검색합니다."
    )
    list_select_related = ("actor",)
    # No date_hierarchy: its year/month lists are a scan of the whole trail on every page.
    show_full_result_count = False  # the trail grows without end; no COUNT(*) on every page
    fields = readonly_fields = ("at_", "action_", "actor_", "actor_ref_", "target",
                                "subject_ref_", "old_", "new_", "reason_", "ip_", "seq_",
                                "prev_hash_", "hash_")

    at_ = shown("at", gettext_lazy("일시"))
    action_ = shown("action", gettext_lazy("작업"))
    actor_ref_ = shown("actor_ref", gettext_lazy("처리자 가명 참조"), ordering=False)
    subject_ref_ = shown("subject_ref", gettext_lazy("대상자 가명 참조"), ordering=False)
    reason_ = shown("reason", gettext_lazy("사유"), ordering=False)
    ip_ = shown("ip", gettext_lazy("IP"), ordering=False)
    seq_ = shown("seq", gettext_lazy("순번"), ordering=False)
    prev_hash_ = shown("prev_hash", gettext_lazy("앞 기록의 해시"), ordering=False)
    hash_ = shown("hash", gettext_lazy("해시(SHA-256)"), ordering=False)

    @admin.display(description=gettext_lazy("처리자"), ordering="actor__username")
    def actor_(self, obj: AuditEvent) -> str:
        if obj.actor is not None:
            return obj.actor.username
        return obj.actor_ref or gettext_lazy("시스템")

    @admin.display(description=gettext_lazy("대상"))
    def target(self, obj: AuditEvent) -> str:
        return f"{obj.target_type}:{obj.target_id}"

    @admin.display(description=gettext_lazy("변경"))
    def change(self, obj: AuditEvent) -> str:
        if not obj.old and not obj.new:
            return ""
        return f"{_compact(obj.old)} → {_compact(obj.new)}"

    @admin.display(description=gettext_lazy("이전 값"))
    def old_(self, obj: AuditEvent) -> str:
        return _compact(obj.old)

    @admin.display(description=gettext_lazy("새 값"))
    def new_(self, obj: AuditEvent) -> str:
        return _compact(obj.new)


def _compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else "-"


@admin.register(SmsMessage, site=kdcis_admin_site)
class SmsMessageAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("id", "masked_to", "status_", "attempts_", "created", "sent", "next_attempt",
                    "error")
    list_filter = (("status", titled(gettext_lazy("상태"))),
                   ("created_at", titled(gettext_lazy("등록일시"))))
    search_fields = ("=to", "=provider_id")
    search_help_text = gettext_lazy("받는 번호(숫자만, 전체) 또는 발송사 ID로 검색합니다.")
    ordering = ("-id",)
    show_full_result_count = False
    fields = readonly_fields = ("masked_to", "masked_text", "status_", "attempts_", "created",
                                "next_attempt", "sent", "provider_id_", "error")

    status_ = shown("get_status_display", gettext_lazy("상태"), ordering="status")
    attempts_ = shown("attempts", gettext_lazy("시도 횟수"))
    created = shown("created_at", gettext_lazy("등록일시"))
    sent = shown("sent_at", gettext_lazy("발송일시"))
    next_attempt = shown("next_attempt_at", gettext_lazy("다음 시도"))
    provider_id_ = shown("provider_id", gettext_lazy("발송사 ID"), ordering=False)

    @admin.display(description=gettext_lazy("받는 번호"))
    def masked_to(self, obj: SmsMessage) -> str:
        return mask_mobile(obj.to)

    @admin.display(description=gettext_lazy("내용"))
    def masked_text(self, obj: SmsMessage) -> str:
        # Verification codes are still valid for a few minutes: never shown to anyone.
        return _CODE.sub("******", obj.text)

    @admin.display(description=gettext_lazy("오류"))
    def error(self, obj: SmsMessage) -> str:
        return obj.last_error[:120]


@admin.register(RateCounter, site=kdcis_admin_site)
class RateCounterAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("key_", "window", "count_")
    list_filter = (("window_start", titled(gettext_lazy("구간 시작"))),)
    search_fields = ("key",)
    ordering = ("-window_start", "key")
    show_full_result_count = False
    fields = readonly_fields = ("key_", "window", "count_")

    key_ = shown("key", gettext_lazy("키"))
    window = shown("window_start", gettext_lazy("구간 시작"))
    count_ = shown("count", gettext_lazy("횟수"))


@admin.register(Notice, site=kdcis_admin_site)
class NoticeAdmin(admin.ModelAdmin):
    """공지 (public) and 업무연락 (signed-in users only), told apart by 구분."""

    list_display = ("title", "kind", "published_at", "is_published")
    list_filter = ("kind", "is_published", "published_at")
    search_fields = ("title", "body")
    date_hierarchy = "published_at"
    fields = ("kind", "title", "body", "published_at", "is_published")


@admin.register(Faq, site=kdcis_admin_site)
class FaqAdmin(admin.ModelAdmin):
    """자주묻는 질문: shown on /faq/ by 분류, then 순서."""

    list_display = ("question", "category", "order", "is_published")
    list_editable = ("order", "is_published")
    list_filter = ("category", "is_published")
    search_fields = ("question", "answer")
    ordering = ("category", "order", "pk")
    fields = ("category", "question", "answer", "order", "is_published")


@admin.register(LibraryFile, site=kdcis_admin_site)
class LibraryFileAdmin(admin.ModelAdmin):
    list_display = ("title", "file", "published_at")
    list_filter = ("published_at",)
    search_fields = ("title", "description")
    date_hierarchy = "published_at"
