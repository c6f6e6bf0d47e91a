"""SMS gateway: the outbox writer, the delivery backends and the delivery loop.

`send_sms()` only writes a queued `SmsMessage` row in the caller's transaction, so an SMS is
sent if and only if the business change that asked for it commits. After the commit it tries
to deliver that one message at once (verification codes must not wait for the worker); if that
fails for any reason the row simply stays queued and `manage.py deliver_sms` picks it up.

Delivery rules (shared by `deliver_pending()` and `deliver_one()`):

* A message is claimed by moving its `next_attempt_at` forward by a short lease. The claim is
  made under `SELECT ... FOR UPDATE SKIP LOCKED` where the database supports it, and every later
  step is a compare-and-set on the row, so two workers never send the same message; a worker
  that dies mid-batch only delays its messages until the lease runs out.
* No database lock or transaction is held while the provider is called.
* A message leaves `queued` only when the provider accepted it (`sent`) or definitively refused
  it / it ran out of attempts (`failed`). Retryable errors reschedule it with exponential
  backoff (30 s, 60 s, 120 s ... capped at one hour).
* Delivery is at least once: if the provider accepted a message but the answer was lost (a
  timeout), the retry sends it again. For verification codes that is the right trade-off.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from twilio.http.http_client import TwilioHttpClient

from kdcis.models import SmsMessage

# The phone rules live in kdcis.phones; callers of the outbox may import them from here.
from kdcis.phones import (  # noqa: F401
    MOBILE_PATTERN,
    SEPARATORS_PATTERN,
    InvalidPhoneNumber,
    normalize_mobile,
    to_e164,
)

logger = logging.getLogger("kdcis.sms")

#: How long a claimed message is reserved for the worker that claimed it.
LEASE = timedelta(minutes=2)
#: First retry delay; doubled on every further attempt.
BACKOFF_BASE = timedelta(seconds=30)
#: Longest retry delay.
BACKOFF_CAP = timedelta(hours=1)

_MAX_ERROR_LENGTH = 2000


# --------------------------------------------------------------------------------------------
# Errors and the outbox writer
# --------------------------------------------------------------------------------------------


class SmsDeliveryError(Exception):
    """A backend could not deliver a message.

    `retryable` tells the delivery loop whether trying again later can help (outage, timeout,
    rate limit) or not (the provider refused this message for good, e.g. an invalid number).
    """

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


def send_sms(*, to: str, text: str) -> SmsMessage:
    """Queue an SMS in the caller's transaction and try to deliver it right after the commit.

    Nothing is sent if the caller's transaction rolls back. Raises `InvalidPhoneNumber` for a
    number that is not a Korean mobile number and `ValueError` for an empty text.
    """
    number = normalize_mobile(to)
    if not text or not text.strip():
        raise ValueError("an SMS needs a text")
    message = SmsMessage.objects.create(to=number, text=text)
    transaction.on_commit(partial(_deliver_after_commit, message.pk))
    return message


def _deliver_after_commit(message_id: int) -> None:
    """The on-commit fast path: never raises, the worker retries whatever is left queued."""
    try:
        deliver_one(message_id)
    except Exception:
        logger.exception("immediate delivery of SMS #%s failed; it stays queued", message_id)


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------


class SmsBackend(Protocol):
    def send(self, *, to: str, text: str) -> str:
        """Deliver one message; return the provider's id. Raise `SmsDeliveryError`."""
        ...


class ConsoleBackend:
    """Development backend: writes `SMS to=<number> text=<text>` to the `kdcis.sms` log.

    The line carries the full number and text on purpose (tests and the browser test read the
    verification code from it); line breaks in the text are escaped to keep it one line.
    """

    def send(self, *, to: str, text: str) -> str:
        one_line = text.replace("\r", "\\r").replace("\n", "\\n")
        logger.info("SMS to=%s text=%s", to, one_line)
        return f"console-{uuid.uuid4().hex[:16]}"


class RedirectingTwilioHttpClient(TwilioHttpClient):
    """A TwilioHttpClient that sends every request for a `*.twilio.com` host to `base_url`.

    Used when `TWILIO_API_BASE_URL` is set: a fake Twilio server in tests and load tests.
    The path and query are kept, so `https://api.twilio.com/2010-04-01/...` becomes
    `http://127.0.0.1:PORT/2010-04-01/...` (a path in `base_url` is put in front).
    """

    def __init__(self, base_url: str, timeout: float | None = None, **kwargs):
        super().__init__(timeout=timeout, **kwargs)
        base = urlsplit(base_url)
        if base.scheme not in ("http", "https") or not base.netloc:
            raise ImproperlyConfigured(f"TWILIO_API_BASE_URL is not an http(s) URL: {base_url!r}")
        self.base_url = base_url
        self._base = base
        if self.session is not None:
            # The target is an explicit local endpoint: ignore HTTP(S)_PROXY from the environment.
            self.session.trust_env = False

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host != "twilio.com" and not host.endswith(".twilio.com"):
            return url
        path = self._base.path.rstrip("/") + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))

    def request(self, method, url, *args, **kwargs):
        return super().request(method, self.rewrite(url), *args, **kwargs)


class TwilioBackend:
    """Production backend: Twilio's Programmable Messaging through the official client."""

    #: HTTP statuses worth retrying: rate limiting, timeouts, and credentials or account
    #: problems (not the message's fault: keep it queued while an operator fixes them).
    RETRYABLE_STATUSES = frozenset({401, 403, 408, 409, 425, 429})

    def __init__(self, client=None, *, from_number: str | None = None,
                 messaging_service_sid: str | None = None):
        self.from_number = (
            settings.TWILIO_FROM_NUMBER if from_number is None else from_number
        )
        self.messaging_service_sid = (
            settings.TWILIO_MESSAGING_SERVICE_SID
            if messaging_service_sid is None
            else messaging_service_sid
        )
        if not self.from_number and not self.messaging_service_sid:
            raise ImproperlyConfigured(
                "Set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID for SMS_BACKEND=twilio."
            )
        self.client = client if client is not None else self._client_from_settings()

    @staticmethod
    def _client_from_settings():
        from twilio.rest import Client

        sid, token = settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
        if not sid or not token:
            raise ImproperlyConfigured(
                "Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN for SMS_BACKEND=twilio."
            )
        timeout = settings.TWILIO_TIMEOUT_SECONDS or None
        if settings.TWILIO_API_BASE_URL:
            http_client = RedirectingTwilioHttpClient(settings.TWILIO_API_BASE_URL, timeout)
        else:
            http_client = TwilioHttpClient(timeout=timeout)
        return Client(sid, token, http_client=http_client)

    def send(self, *, to: str, text: str) -> str:
        import requests
        from twilio.base.exceptions import (
            TwilioException,
            TwilioRestException,
            TwilioServiceException,
        )

        try:
            number = to_e164(to)
        except InvalidPhoneNumber as exc:
            raise SmsDeliveryError(str(exc), retryable=False) from exc
        sender = (
            {"from_": self.from_number}
            if self.from_number
            else {"messaging_service_sid": self.messaging_service_sid}
        )
        try:
            message = self.client.messages.create(to=number, body=text, **sender)
        except (TwilioRestException, TwilioServiceException) as exc:
            status = int(getattr(exc, "status", 0) or 0)
            code = getattr(exc, "code", None)
            detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or ""
            raise SmsDeliveryError(
                f"Twilio HTTP {status} code {code}: {detail}".strip(),
                retryable=status >= 500 or status in self.RETRYABLE_STATUSES or status == 0,
            ) from exc
        except requests.Timeout as exc:
            raise SmsDeliveryError(f"Twilio timeout: {exc}", retryable=True) from exc
        except (requests.RequestException, OSError) as exc:
            raise SmsDeliveryError(f"Twilio connection error: {exc}", retryable=True) from exc
        except TwilioException as exc:
            raise SmsDeliveryError(f"Twilio client error: {exc}", retryable=True) from exc
        if not message.sid:
            raise SmsDeliveryError("Twilio answered without a message sid", retryable=True)
        return message.sid


def get_backend() -> SmsBackend:
    """The backend named by `settings.SMS_BACKEND` ('console' or 'twilio')."""
    name = (settings.SMS_BACKEND or "console").strip().lower()
    if name == "console":
        return ConsoleBackend()
    if name == "twilio":
        return TwilioBackend()
    raise ImproperlyConfigured(f"Unknown SMS_BACKEND {settings.SMS_BACKEND!r}")


# --------------------------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    """What one delivery run did. `skipped`: claimed but taken over by another worker."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def __iadd__(self, other: DeliveryReport) -> DeliveryReport:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.skipped += other.skipped
        return self

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.failed

    def __str__(self) -> str:
        return f"sent {self.sent}, retried {self.retried}, failed {self.failed}"


def backoff_delay(attempts: int, *, jitter: bool = True) -> timedelta:
    """Wait before the next try after `attempts` tries: 30 s x 2^(attempts-1), at most 1 h.

    With `jitter`, up to 10 % is added so a burst of failures does not retry in lockstep.
    """
    exponent = max(attempts - 1, 0)
    seconds = min(BACKOFF_BASE.total_seconds() * (2 ** min(exponent, 20)),
                  BACKOFF_CAP.total_seconds())
    if jitter:
        seconds += random.uniform(0, seconds * 0.1)
    return timedelta(seconds=seconds)


def _clock(now: datetime | None) -> Callable[[], datetime]:
    """A clock that starts at `now` (for tests and catch-up runs) and then runs in real time."""
    if now is None:
        return timezone.now
    offset = now - timezone.now()
    return lambda: timezone.now() + offset


def _lease_until(current: datetime) -> datetime:
    # A few random microseconds make every lease value unique: it doubles as a claim token.
    return current + LEASE + timedelta(microseconds=random.randrange(1, 1_000_000))


def _claim_due(*, limit: int, current: datetime, message_id: int | None = None
               ) -> tuple[datetime, list[tuple[int, int]]]:
    """Reserve up to `limit` due messages; return the lease (claim token) and (id, attempts)."""
    lease = _lease_until(current)
    with transaction.atomic():
        due = SmsMessage.objects.filter(
            status=SmsMessage.Status.QUEUED, next_attempt_at__lte=current
        )
        if message_id is not None:
            due = due.filter(pk=message_id)
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        candidates = list(
            due.order_by("next_attempt_at", "id").values_list("id", "attempts")[:limit]
        )
        if not candidates:
            return lease, []
        # Conditional update: where rows are not locked (SQLite), a concurrent claimer that
        # got there first has already moved next_attempt_at and the start step will skip it.
        SmsMessage.objects.filter(
            pk__in=[pk for pk, _ in candidates],
            status=SmsMessage.Status.QUEUED,
            next_attempt_at__lte=current,
        ).update(next_attempt_at=lease)
    return lease, candidates


def _deliver_claimed(*, message_id: int, lease: datetime, attempts: int,
                     backend: SmsBackend, clock: Callable[[], datetime]) -> str:
    """Send one claimed message and record the outcome: 'sent', 'retried', 'failed', 'skipped'."""
    queued = SmsMessage.Status.QUEUED
    # Start: count the attempt and renew the lease, only if the claim is still ours.
    started = clock()
    attempt_lease = _lease_until(started)
    taken = SmsMessage.objects.filter(
        pk=message_id, status=queued, next_attempt_at=lease, attempts=attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=attempt_lease)
    if not taken:
        return "skipped"
    attempt = attempts + 1
    message = SmsMessage.objects.only("to", "text").get(pk=message_id)
    ours = SmsMessage.objects.filter(pk=message_id, status=queued, attempts=attempt)

    try:
        provider_id = backend.send(to=message.to, text=message.text)
    except SmsDeliveryError as exc:
        error, retryable = str(exc), exc.retryable
    except Exception as exc:  # a bug or an unexpected library error: retry, never lose it
        logger.exception("SMS #%s: unexpected error from the backend", message_id)
        error, retryable = f"{type(exc).__name__}: {exc}", True
    else:
        finished = clock()
        # Whatever happened meanwhile, the provider accepted it: record that truthfully.
        SmsMessage.objects.filter(pk=message_id).exclude(status=SmsMessage.Status.SENT).update(
            status=SmsMessage.Status.SENT, sent_at=finished, provider_id=provider_id[:64],
            last_error="", next_attempt_at=finished,
        )
        logger.debug("SMS #%s sent (%s)", message_id, provider_id)
        return "sent"

    error = error[:_MAX_ERROR_LENGTH]
    finished = clock()
    if not retryable or attempt >= settings.SMS_MAX_ATTEMPTS:
        updated = ours.update(status=SmsMessage.Status.FAILED, last_error=error,
                              next_attempt_at=finished)
        outcome = "failed"
        logger.warning("SMS #%s failed for good after %s attempt(s): %s",
                       message_id, attempt, error)
    else:
        updated = ours.update(next_attempt_at=finished + backoff_delay(attempt),
                              last_error=error)
        outcome = "retried"
        logger.warning("SMS #%s attempt %s failed, will retry: %s", message_id, attempt, error)
    if not updated:
        # Our lease ran out during the provider call and another worker took the message over.
        logger.warning("SMS #%s was taken over by another worker; its outcome stands", message_id)
        return "skipped"
    return outcome


def deliver_pending(*, limit: int = 100, now: datetime | None = None,
                    backend: SmsBackend | None = None,
                    should_stop: Callable[[], bool] | None = None) -> DeliveryReport:
    """Deliver up to `limit` due queued messages, oldest first; safe to run in many workers.

    `now` shifts the clock (tests, catching up); `should_stop` is checked before each message
    so a worker being shut down stops early and hands back what it claimed but did not start.
    """
    clock = _clock(now)
    backend = backend if backend is not None else get_backend()
    report = DeliveryReport()
    lease, claimed = _claim_due(limit=limit, current=clock())
    for index, (message_id, attempts) in enumerate(claimed):
        if should_stop is not None and should_stop():
            # Hand back what was claimed but not started, so another worker need not wait
            # for the lease to run out.
            SmsMessage.objects.filter(
                pk__in=[pk for pk, _ in claimed[index:]],
                status=SmsMessage.Status.QUEUED, next_attempt_at=lease,
            ).update(next_attempt_at=clock())
            break
        report.add(_deliver_claimed(message_id=message_id, lease=lease, attempts=attempts,
                                    backend=backend, clock=clock))
    return report


def deliver_one(message_id: int, backend: SmsBackend | None = None, *,
                now: datetime | None = None) -> DeliveryReport:
    """Deliver one message if it is queued and due (the same rules as `deliver_pending`).

    A message another worker is sending, or one waiting for its retry time, is left alone.
    """
    clock = _clock(now)
    backend = backend if backend is not None else get_backend()
    report = DeliveryReport()
    lease, claimed = _claim_due(limit=1, current=clock(), message_id=message_id)
    for pk, attempts in claimed:
        report.add(_deliver_claimed(message_id=pk, lease=lease, attempts=attempts,
                                    backend=backend, clock=clock))
    return report


def scrub_finished(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Blank the number and text of messages sent or given up on before `older_than` ago:
    the outbox then keeps only that a message was sent, when, and how it went."""
    current = (now or timezone.now()) - older_than
    return (SmsMessage.objects
            .filter(status__in=(SmsMessage.Status.SENT, SmsMessage.Status.FAILED),
                    created_at__lt=current)
            .exclude(to="", text="")
            .update(to="", text=""))
