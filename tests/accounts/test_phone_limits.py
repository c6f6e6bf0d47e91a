"""The caps on verification codes (issue 16, item 3): per number even when sends arrive at
the same moment, and per browser session."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts.models import PhoneVerification
from accounts.services import PhoneVerificationError, phone_code_send
from kdcis.models import SmsMessage

THREAD_TIMEOUT = 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_sends_to_one_number_queue_at_most_the_daily_cap(settings):
    """16 sends to one number at once queued 16 SMS against a cap of 5: the cap was counted
    before any of them had inserted its row."""
    settings.PHONE_CODE_MAX_PER_NUMBER_PER_DAY = 5
    phone, senders = "01077770000", 16
    barrier = threading.Barrier(senders)
    outcomes: list[str] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        try:
            barrier.wait(timeout=THREAD_TIMEOUT)
            phone_code_send(session_key=f"race-session-{n}", phone=phone, ip=f"10.2.0.{n + 1}")
            outcome = "sent"
        except PhoneVerificationError as exc:
            outcome = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=THREAD_TIMEOUT)
    assert len(outcomes) == senders
    assert outcomes.count("sent") == 5
    assert set(outcomes) == {"sent", "number_limit"}
    assert SmsMessage.objects.filter(to=phone).count() == 5
    assert PhoneVerification.objects.filter(phone=phone).count() == 5


@pytest.mark.django_db
def test_one_session_cannot_send_codes_to_number_after_number(settings):
    """The per-number cap alone let one session send codes to every number of a list."""
    settings.PHONE_CODE_MAX_PER_SESSION_PER_DAY = 3
    for n in range(3):
        phone_code_send(session_key="one-session", phone=f"0107777100{n}", ip="10.3.0.1")
    with pytest.raises(PhoneVerificationError) as info:
        phone_code_send(session_key="one-session", phone="01077771009", ip="10.3.0.1")
    assert info.value.code == "session_limit"
    assert "인증번호를 너무 많이 요청했습니다" in str(info.value.message)
    assert not SmsMessage.objects.filter(to="01077771009").exists()
    # Another session may still send to that number.
    phone_code_send(session_key="other-session", phone="01077771009", ip="10.3.0.2")
