import datetime as dt

import pytest

from kdcis import ratelimit
from kdcis.audit import audit
from kdcis.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_audit_rows_refer_to_users_by_their_pseudonym(personas):
    event = audit(actor=personas.oscar, action="test.action", target=personas.alice,
                  subject=personas.alice, new={"status": "x"}, reason="why", ip="127.0.0.1")
    event.refresh_from_db()
    assert event.actor_ref == str(personas.oscar.ref)
    assert event.subject_ref == str(personas.alice.ref)
    assert event.target_type == "accounts.user"
    assert personas.alice.username not in str(event.new)


def test_signup_writes_audit_rows_without_personal_data(personas):
    events = AuditEvent.objects.filter(subject_ref=str(personas.alice.ref))
    assert events.filter(action="account.signup").exists()
    assert events.filter(action="grant.requested").count() == 2
    for event in events:
        blob = f"{event.old} {event.new} {event.reason}"
        assert personas.alice.username not in blob
        assert personas.alice.name not in blob
        assert personas.alice.mobile not in blob


def test_rate_limit_counts_per_window():
    now = dt.datetime(2026, 11, 26, 10, 0, 5, tzinfo=dt.UTC)
    results = [ratelimit.hit("k", limit=3, window_seconds=60, now=now) for _ in range(4)]
    assert results == [True, True, True, False]
    later = now + dt.timedelta(seconds=60)
    assert ratelimit.hit("k", limit=3, window_seconds=60, now=later)



def test_the_nightly_purge_drops_old_counters_and_phone_verifications_only():
    import io

    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import PhoneVerification
    from kdcis.models import RateCounter

    now = timezone.now()
    old = now - dt.timedelta(days=3)
    ratelimit.hit("old", limit=5, window_seconds=3600, now=old)
    ratelimit.hit("current", limit=5, window_seconds=3600)
    for created, phone in ((old, "01000000001"), (now, "01000000002")):
        PhoneVerification.objects.create(session_key="s", phone=phone, code_hash="x",
                                          created_at=created, expires_at=created)
    from accounts.models import SignupDraft

    abandoned = SignupDraft.objects.create(key="abandoned", data={"profile": {"name": "홍길동"}})
    SignupDraft.objects.filter(pk=abandoned.pk).update(updated_at=now - dt.timedelta(hours=9))
    SignupDraft.objects.create(key="in-progress", data={})
    from importlib import import_module

    from django.conf import settings

    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore
    from kdcis.models import SmsMessage

    old_sms = SmsMessage.objects.create(to="01011112222", text="[인증번호 123456]",
                                        status=SmsMessage.Status.SENT)
    SmsMessage.objects.filter(pk=old_sms.pk).update(created_at=now - dt.timedelta(days=8))
    recent_sms = SmsMessage.objects.create(to="01033334444", text="최근",
                                           status=SmsMessage.Status.SENT)
    waiting_sms = SmsMessage.objects.create(to="01055556666", text="대기")
    SmsMessage.objects.filter(pk=waiting_sms.pk).update(created_at=now - dt.timedelta(days=8))
    expired = SessionStore()
    expired["signup_draft"] = "x"
    expired.set_expiry(-1)
    expired.save()
    out = io.StringIO()
    call_command("purge_expired_records", stdout=out)
    assert ("purged 1 rate-limit counters, 1 phone verifications, 1 signup drafts, "
            "0 used login challenges, 1 expired sessions; blanked 1 delivered SMS"
            in out.getvalue())
    assert list(SignupDraft.objects.values_list("key", flat=True)) == ["in-progress"]
    old_sms.refresh_from_db()
    assert (old_sms.to, old_sms.text, old_sms.status) == ("", "", "sent")
    assert SmsMessage.objects.get(pk=recent_sms.pk).to == "01033334444"
    assert SmsMessage.objects.get(pk=waiting_sms.pk).to == "01055556666"  # not delivered yet
    assert not SessionStore().exists(expired.session_key)
    assert list(RateCounter.objects.values_list("key", flat=True)) == [ratelimit.stored_key("current")]
    assert list(PhoneVerification.objects.values_list("phone", flat=True)) == ["01000000002"]


def test_rate_limit_keys_are_stored_as_digests_naming_no_one():
    from kdcis.models import RateCounter

    ratelimit.hit("sms-ip:203.0.113.9", limit=5, window_seconds=3600)
    ratelimit.hit("sms-ip:203.0.113.9", limit=5, window_seconds=3600)
    (key,) = RateCounter.objects.values_list("key", flat=True)
    assert key.startswith("sms-ip:") and "203.0.113.9" not in key
    assert ratelimit.count("sms-ip:203.0.113.9", window_seconds=3600) == 2
    assert ratelimit.count("sms-ip:203.0.113.10", window_seconds=3600) == 0
