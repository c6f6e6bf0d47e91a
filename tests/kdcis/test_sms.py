"""The SMS outbox: queueing in the caller's transaction, delivery, retries and workers."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from kdcis import sms
from kdcis.models import SmsMessage
from kdcis.sms import (
    ConsoleBackend,
    DeliveryReport,
    InvalidPhoneNumber,
    RedirectingTwilioHttpClient,
    SmsDeliveryError,
    TwilioBackend,
    backoff_delay,
    deliver_one,
    deliver_pending,
    get_backend,
    send_sms,
)

from .fake_twilio import FakeTwilio

SID = "AC11111111111111111111111111111111"
TOKEN = "test-auth-token"
FROM = "+15005550006"
CODE_TEXT = "[질병보건통합관리시스템] 인증번호 [123456]를 3분 안에 입력해 주세요."


def later(hours: float = 2) -> datetime:
    """A time past any backoff delay (one hour at most, plus jitter)."""
    return timezone.now() + timedelta(hours=hours)


class RecordingBackend:
    """A thread-safe backend that records what it sends, optionally slowly or failing."""

    def __init__(self, delay: float = 0.0, error: SmsDeliveryError | None = None):
        self.delay = delay
        self.error = error
        self.sent: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def send(self, *, to: str, text: str) -> str:
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        with self._lock:
            self.sent.append((to, text))
            return f"rec-{len(self.sent)}"


@pytest.fixture
def sms_log(caplog):
    caplog.set_level(logging.INFO, logger="kdcis.sms")
    return caplog


@pytest.fixture
def fake_twilio(settings):
    with FakeTwilio(account_sid=SID, auth_token=TOKEN) as fake:
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = SID
        settings.TWILIO_AUTH_TOKEN = TOKEN
        settings.TWILIO_FROM_NUMBER = FROM
        settings.TWILIO_MESSAGING_SERVICE_SID = ""
        settings.TWILIO_API_BASE_URL = fake.base_url
        settings.TWILIO_TIMEOUT_SECONDS = 2.0
        yield fake


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- numbers and the outbox writer ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "digits"),
    [("01012345678", "01012345678"), ("010-1234-5678", "01012345678"),
     ("010 1234 5678", "01012345678")],
)
def test_a_korean_mobile_number_is_accepted_with_or_without_dashes(raw, digits):
    assert sms.normalize_mobile(raw) == digits
    assert sms.to_e164(raw) == "+82" + digits[1:]


@pytest.mark.parametrize(
    "raw", ["0212345678", "01512345678", "0101234567890", "010123456", "+821012345678",
            "010-1234-567a", "", "011-123-4567", "01912345678", "0101234567"],
)
def test_anything_but_a_korean_mobile_number_is_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        sms.normalize_mobile(raw)


@pytest.mark.django_db
def test_send_sms_refuses_an_invalid_number_without_writing_a_row():
    with pytest.raises(InvalidPhoneNumber):
        send_sms(to="02-123-4567", text="안내")
    with pytest.raises(ValueError):
        send_sms(to="01012345678", text="   ")
    assert not SmsMessage.objects.exists()


@pytest.mark.django_db
def test_send_sms_writes_a_queued_row_and_delivers_nothing_before_the_commit(
    sms_log, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        message = send_sms(to="010-1234-5678", text=CODE_TEXT)

    message.refresh_from_db()
    assert message.to == "01012345678"
    assert message.text == CODE_TEXT
    assert message.status == SmsMessage.Status.QUEUED
    assert message.attempts == 0
    assert message.next_attempt_at <= timezone.now()
    assert len(callbacks) == 1
    assert "SMS to=" not in sms_log.text


@pytest.mark.django_db(transaction=True)
def test_nothing_is_queued_or_sent_when_the_callers_transaction_rolls_back(sms_log):
    with pytest.raises(RuntimeError), transaction.atomic():
        send_sms(to="01012345678", text=CODE_TEXT)
        raise RuntimeError("the approval failed")

    assert not SmsMessage.objects.exists()
    assert "SMS to=" not in sms_log.text


@pytest.mark.django_db(transaction=True)
def test_the_message_goes_out_at_once_when_the_callers_transaction_commits(sms_log):
    with transaction.atomic():
        message = send_sms(to="01012345678", text=CODE_TEXT)
        assert "SMS to=" not in sms_log.text

    message.refresh_from_db()
    assert message.status == SmsMessage.Status.SENT
    assert message.attempts == 1
    assert message.provider_id.startswith("console-")
    assert f"SMS to=01012345678 text={CODE_TEXT}" in sms_log.text


@pytest.mark.django_db
def test_a_failing_immediate_delivery_is_logged_and_leaves_the_message_queued(
    monkeypatch, sms_log, django_capture_on_commit_callbacks
):
    def broken_backend():
        raise ImproperlyConfigured("no credentials")

    monkeypatch.setattr(sms, "get_backend", broken_backend)
    with django_capture_on_commit_callbacks(execute=True):
        message = send_sms(to="01012345678", text=CODE_TEXT)

    message.refresh_from_db()
    assert message.status == SmsMessage.Status.QUEUED
    assert "immediate delivery of SMS" in sms_log.text


@pytest.mark.django_db
def test_a_failed_immediate_delivery_is_retried_by_the_worker(
    settings, fake_twilio, django_capture_on_commit_callbacks
):
    fake_twilio.fail_next(1, status=503)
    with django_capture_on_commit_callbacks(execute=True):
        message = send_sms(to="01012345678", text=CODE_TEXT)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (SmsMessage.Status.QUEUED, 1)

    assert deliver_pending(now=later()).sent == 1
    assert [m["body"] for m in fake_twilio.messages] == [CODE_TEXT]


# --- the console backend -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_console_backend_logs_a_greppable_line_and_marks_the_message_sent(sms_log, settings):
    settings.SMS_BACKEND = "console"
    message = send_sms(to="010-9876-5432", text=CODE_TEXT)

    report = deliver_pending()

    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    line = re.search(r"SMS to=(\d+) text=.*인증번호 \[(\d{6})\]", sms_log.text)
    assert line is not None and line.groups() == ("01098765432", "123456")
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.SENT
    assert message.sent_at is not None
    assert message.provider_id.startswith("console-")


def test_the_console_backend_keeps_a_multi_line_text_on_one_log_line(sms_log):
    ConsoleBackend().send(to="01012345678", text="첫 줄\n둘째 줄")
    assert "SMS to=01012345678 text=첫 줄\\n둘째 줄" in sms_log.text


def test_get_backend_follows_the_sms_backend_setting(settings, fake_twilio):
    settings.SMS_BACKEND = "console"
    assert isinstance(get_backend(), ConsoleBackend)
    settings.SMS_BACKEND = "twilio"
    assert isinstance(get_backend(), TwilioBackend)
    settings.SMS_BACKEND = "carrier-pigeon"
    with pytest.raises(ImproperlyConfigured):
        get_backend()


def test_the_twilio_backend_needs_a_sender(settings, fake_twilio):
    settings.TWILIO_FROM_NUMBER = ""
    with pytest.raises(ImproperlyConfigured):
        TwilioBackend()


# --- the Twilio backend against the fake server ---------------------------------------------


def test_the_redirecting_client_sends_twilio_hosts_to_the_base_url():
    client = RedirectingTwilioHttpClient("http://127.0.0.1:9999/fake", timeout=1.5)
    assert client.timeout == 1.5
    assert (client.rewrite("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json")
            == "http://127.0.0.1:9999/fake/2010-04-01/Accounts/AC1/Messages.json")
    assert (client.rewrite("https://messaging.twilio.com/v1/Services?PageSize=5")
            == "http://127.0.0.1:9999/fake/v1/Services?PageSize=5")
    assert client.rewrite("https://example.com/x") == "https://example.com/x"


@pytest.mark.django_db
def test_the_twilio_backend_delivers_with_the_e164_number_body_and_credentials(fake_twilio):
    message = send_sms(to="010-1234-5678", text=CODE_TEXT)

    report = deliver_pending()

    assert report == DeliveryReport(sent=1)
    assert len(fake_twilio.messages) == 1
    delivered = fake_twilio.messages[0]
    assert delivered["to"] == "+821012345678"
    assert delivered["body"] == CODE_TEXT
    assert delivered["from"] == FROM
    assert delivered["account_sid"] == SID
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.SENT
    assert message.provider_id == delivered["sid"]
    assert message.provider_id.startswith("SM")
    assert message.sent_at is not None


@pytest.mark.django_db
def test_a_messaging_service_is_used_when_no_sender_number_is_set(settings, fake_twilio):
    settings.TWILIO_FROM_NUMBER = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG22222222222222222222222222222222"
    send_sms(to="01012345678", text="안내")

    assert deliver_pending().sent == 1
    delivered = fake_twilio.messages[0]
    assert delivered["from"] is None
    assert delivered["messaging_service_sid"] == "MG22222222222222222222222222222222"


@pytest.mark.django_db
def test_wrong_credentials_are_refused_by_the_fake_and_kept_for_a_retry(settings, fake_twilio):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    message = send_sms(to="01012345678", text="안내")

    assert deliver_pending().retried == 1
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.QUEUED
    assert "401" in message.last_error
    assert fake_twilio.messages == []


@pytest.mark.parametrize("status", [500, 503, 429])
@pytest.mark.django_db
def test_a_provider_error_leaves_the_message_queued_for_a_later_run(fake_twilio, status):
    message = send_sms(to="01012345678", text=CODE_TEXT)
    fake_twilio.fail_next(1, status=status)
    before = timezone.now()

    report = deliver_pending()

    assert report == DeliveryReport(retried=1)
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.QUEUED
    assert message.attempts == 1
    assert str(status) in message.last_error
    assert before + timedelta(seconds=29) < message.next_attempt_at
    assert message.next_attempt_at < before + timedelta(seconds=40)
    # Not due yet: an immediate second run leaves it alone.
    assert deliver_pending() == DeliveryReport()

    assert deliver_pending(now=timezone.now() + timedelta(minutes=1)) == DeliveryReport(sent=1)
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.SENT
    assert message.attempts == 2
    assert message.last_error == ""
    assert [m["body"] for m in fake_twilio.messages] == [CODE_TEXT]


@pytest.mark.django_db
def test_a_timeout_leaves_the_message_queued_and_it_is_delivered_later(settings, fake_twilio):
    settings.TWILIO_TIMEOUT_SECONDS = 0.5
    message = send_sms(to="01012345678", text=CODE_TEXT)
    fake_twilio.stall_next(1, seconds=5)

    started = time.monotonic()
    report = deliver_pending()
    elapsed = time.monotonic() - started

    assert report == DeliveryReport(retried=1)
    assert elapsed < 3, "the client timeout must bound the provider call"
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.QUEUED
    assert "timeout" in message.last_error.lower()

    assert deliver_pending(now=later()).sent == 1
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.SENT
    assert [m["to"] for m in fake_twilio.messages] == ["+821012345678"]


@pytest.mark.django_db
def test_an_unreachable_provider_leaves_the_message_queued(settings, fake_twilio):
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"
    message = send_sms(to="01012345678", text=CODE_TEXT)

    assert deliver_pending() == DeliveryReport(retried=1)
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.QUEUED
    assert "connection" in message.last_error.lower()


@pytest.mark.django_db
def test_an_invalid_number_is_marked_failed_without_a_retry(fake_twilio):
    message = send_sms(to="01012345678", text=CODE_TEXT)
    fake_twilio.fail_next(1, status=400)

    assert deliver_pending() == DeliveryReport(failed=1)
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.FAILED
    assert message.attempts == 1
    assert "21211" in message.last_error
    assert message.sent_at is None

    assert deliver_pending(now=later(24)) == DeliveryReport()
    assert len(fake_twilio.requests) == 1


@pytest.mark.django_db
def test_a_message_is_failed_after_the_maximum_number_of_attempts(settings, fake_twilio):
    settings.SMS_MAX_ATTEMPTS = 3
    message = send_sms(to="01012345678", text=CODE_TEXT)
    fake_twilio.fail_next(10, status=500)

    outcomes = [deliver_pending(now=later(2 * run)) for run in range(4)]

    assert outcomes == [DeliveryReport(retried=1), DeliveryReport(retried=1),
                        DeliveryReport(failed=1), DeliveryReport()]
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.FAILED
    assert message.attempts == 3
    assert "500" in message.last_error
    assert len(fake_twilio.requests) == 3


def test_the_retry_delay_doubles_from_thirty_seconds_up_to_one_hour():
    delays = [backoff_delay(n, jitter=False).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    jittered = backoff_delay(2).total_seconds()
    assert 60 <= jittered <= 66


# --- claiming: one sender per message -----------------------------------------------------------


@pytest.mark.django_db
def test_an_unexpected_backend_error_keeps_the_message_queued():
    message = SmsMessage.objects.create(to="01012345678", text="안내")

    class Broken:
        def send(self, *, to, text):
            raise KeyError("bug")

    assert deliver_pending(backend=Broken()) == DeliveryReport(retried=1)
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.QUEUED
    assert "KeyError" in message.last_error


@pytest.mark.django_db
def test_deliver_one_sends_only_that_message_and_only_when_it_is_due():
    first = SmsMessage.objects.create(to="01011112222", text="하나")
    SmsMessage.objects.create(to="01033334444", text="둘")
    backend = RecordingBackend()

    assert deliver_one(first.pk, backend=backend) == DeliveryReport(sent=1)
    assert deliver_one(first.pk, backend=backend) == DeliveryReport()
    assert backend.sent == [("01011112222", "하나")]

    waiting = SmsMessage.objects.create(to="01055556666", text="셋")
    SmsMessage.objects.filter(pk=waiting.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert deliver_one(waiting.pk, backend=backend) == DeliveryReport()


@pytest.mark.django_db
def test_the_limit_caps_one_run_and_the_oldest_due_messages_go_first():
    for n in range(5):
        SmsMessage.objects.create(to="01012345678", text=f"#{n}")
    backend = RecordingBackend()

    assert deliver_pending(limit=3, backend=backend).sent == 3
    assert [text for _, text in backend.sent] == ["#0", "#1", "#2"]
    assert deliver_pending(limit=3, backend=backend).sent == 2


@pytest.mark.django_db
def test_a_stopping_worker_hands_back_the_messages_it_did_not_start():
    for n in range(3):
        SmsMessage.objects.create(to="01012345678", text=f"#{n}")
    backend = RecordingBackend()

    report = deliver_pending(backend=backend, should_stop=lambda: len(backend.sent) >= 1)

    assert report == DeliveryReport(sent=1)
    assert deliver_pending(backend=backend) == DeliveryReport(sent=2)
    assert [text for _, text in backend.sent] == ["#0", "#1", "#2"]


@pytest.mark.django_db
def test_a_message_taken_over_after_its_lease_ran_out_is_not_sent_twice():
    for n in range(3):
        SmsMessage.objects.create(to="01012345678", text=f"#{n}")

    class SlowWorker(RecordingBackend):
        """While sending the first message, the rest of its batch's lease runs out and
        another worker delivers them."""

        other_report = None

        def send(self, *, to, text):
            if self.other_report is None:
                self.other_report = DeliveryReport()
                SmsMessage.objects.exclude(text=text).update(
                    next_attempt_at=timezone.now() - timedelta(seconds=1)
                )
                self.other_report = deliver_pending(backend=self)
            return super().send(to=to, text=text)

    backend = SlowWorker()
    report = deliver_pending(backend=backend)

    assert backend.other_report == DeliveryReport(sent=2)
    assert report == DeliveryReport(sent=1, skipped=2)
    assert sorted(text for _, text in backend.sent) == ["#0", "#1", "#2"]
    assert set(SmsMessage.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_send_each_message_exactly_once():
    total = 40
    SmsMessage.objects.bulk_create(
        SmsMessage(to="01012345678", text=f"#{n}") for n in range(total)
    )
    backend = RecordingBackend(delay=0.01)
    workers = 4
    barrier = threading.Barrier(workers)
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []

    def work():
        try:
            barrier.wait()
            while True:
                report = deliver_pending(limit=3, backend=backend)
                reports.append(report)
                if not report.total and not report.skipped:
                    break
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    counts = Counter(text for _, text in backend.sent)
    assert len(counts) == total
    assert set(counts.values()) == {1}
    assert sum(r.sent for r in reports) == total
    assert SmsMessage.objects.filter(status=SmsMessage.Status.SENT, attempts=1).count() == total


# --- the management command --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_deliver_sms_command_prints_a_summary(settings, fake_twilio):
    send_sms(to="01012345678", text="하나")
    send_sms(to="01087654321", text="둘")
    send_sms(to="01055556666", text="셋")
    fake_twilio.fail_next(1, status=500)
    fake_twilio.invalid_numbers.add("+821055556666")
    out = StringIO()

    call_command("deliver_sms", stdout=out)

    assert out.getvalue().strip() == "sent 1, retried 1, failed 1"


@pytest.mark.django_db
def test_the_deliver_sms_command_respects_the_limit(settings):
    settings.SMS_BACKEND = "console"
    for n in range(3):
        SmsMessage.objects.create(to="01012345678", text=f"#{n}")
    out = StringIO()

    call_command("deliver_sms", "--limit", "2", stdout=out)

    assert out.getvalue().strip() == "sent 2, retried 0, failed 0"


@pytest.mark.django_db(transaction=True)
def test_the_deliver_sms_worker_keeps_delivering_until_sigterm(settings, monkeypatch):
    """The worker delivers what arrives while it runs and stops on SIGTERM. Each step waits
    for the worker's own pass, never for a clock, so a busy machine cannot change the story."""
    import queue

    from kdcis.management.commands import deliver_sms as command

    settings.SMS_BACKEND = "console"
    SmsMessage.objects.create(to="01012345678", text="먼저")
    previous_handler = signal.getsignal(signal.SIGTERM)
    delivered: queue.Queue[int] = queue.Queue()
    real_pass = command.deliver_pending

    def observed_pass(**kwargs):
        report = real_pass(**kwargs)
        if report.total:
            delivered.put(report.sent)
        return report

    monkeypatch.setattr(command, "deliver_pending", observed_pass)
    problems: list[BaseException] = []

    def add_then_terminate():
        try:
            delivered.get(timeout=60)  # the first message went out
            SmsMessage.objects.create(to="01012345678", text="나중")
            connection.close()
            delivered.get(timeout=60)  # and the one queued while it ran
        except BaseException as exc:  # reported by the test thread
            problems.append(exc)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    helper = threading.Thread(target=add_then_terminate)
    helper.start()
    out = StringIO()
    call_command("deliver_sms", "--loop", "--interval", "0.05", stdout=out)
    helper.join()

    assert not problems, problems
    assert out.getvalue().splitlines() == [
        "sent 1, retried 0, failed 0",
        "sent 1, retried 0, failed 0",
        "stopped; total sent 2, retried 0, failed 0",
    ]
    assert signal.getsignal(signal.SIGTERM) == previous_handler
    assert set(SmsMessage.objects.values_list("status", flat=True)) == {"sent"}
