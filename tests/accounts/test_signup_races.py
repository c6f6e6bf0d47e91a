"""Simultaneous signups: the database's unique constraints decide, and nothing is left behind.

The thread races need PostgreSQL (real row locks and concurrent transactions); the double
submission through the test client runs everywhere.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import CertificateBinding, Consent, User
from accounts.services import RequestedPermission, SignupError, signup_submit
from kdcis.models import AuditEvent
from permissions.models import Grant
from tests.accounts.helpers import complete_profile, walk_to_profile

ROUNDS = 5
THREAD_TIMEOUT = 60


# ------------------------------------------------------------------------------------ helpers


def _signup_kwargs(cert, username: str, *, with_education: bool = False) -> dict:
    from institutions.models import ApprovingBody, Institution
    from permissions.models import PermissionType

    institution = Institution.objects.select_related("jurisdiction").get(number="11110101")
    permissions = [RequestedPermission(
        permission_type=PermissionType.objects.get(code="vaccination_user"),
        body=institution.jurisdiction)]
    if with_education:
        permissions.append(RequestedPermission(
            permission_type=PermissionType.objects.get(code="education_learner"),
            body=ApprovingBody.objects.get(kind="central")))
    return {
        "certificate": cert, "name": cert.name, "username": username,
        "institution": institution, "mobile": "01055556666", "office_phone": "0221483500",
        "consent_at": timezone.now(), "consent_version": settings.CONSENT_NOTICE_VERSION,
        "permissions": permissions, "ip": "127.0.0.1",
    }


class Race:
    """How many rounds really overlapped (both calls inside signup_submit at one moment)."""

    def __init__(self) -> None:
        self.overlapping = 0

    def __call__(self, calls: list[dict]) -> list[tuple[str, object]]:
        results, spans = _race(calls)
        if max(start for start, _end in spans) < min(end for _start, end in spans):
            self.overlapping += 1
        return results


def _race(calls: list[dict]):
    """Run signup_submit once per kwargs dict, all threads released by one barrier.

    Returns one ("user", pk) / ("error", code) / ("crash", repr) per call, in call order,
    and the (start, end) time of each call."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[str, object] | None] = [None] * len(calls)
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * len(calls)

    def run(index: int, kwargs: dict) -> None:
        start = 0.0
        try:
            connection.ensure_connection()  # connect before the barrier, not inside the race
            barrier.wait(timeout=THREAD_TIMEOUT)
            start = time.monotonic()
            user = signup_submit(**kwargs)
            results[index] = ("user", user.pk)
        except SignupError as exc:
            results[index] = ("error", exc.code)
        except Exception as exc:  # reported by the assertions below
            results[index] = ("crash", repr(exc))
        finally:
            spans[index] = (start, time.monotonic())
            connection.close()

    threads = [threading.Thread(target=run, args=(i, kw)) for i, kw in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a signup thread hung"
    return results, spans


def _assert_no_orphans(winners: set[int], *, grants_per_user: int = 1) -> None:
    """Every row a signup writes belongs to a user that exists, and only winners have any."""
    assert set(User.objects.filter(status=User.Status.PENDING).values_list(
        "pk", flat=True)) == winners
    assert set(CertificateBinding.objects.values_list("user_id", flat=True)) == winners
    assert CertificateBinding.objects.count() == len(winners)
    assert set(Consent.objects.values_list("user_id", flat=True)) == winners
    assert Consent.objects.count() == len(winners)
    assert set(Grant.objects.values_list("user_id", flat=True)) == winners
    assert Grant.objects.count() == len(winners) * grants_per_user
    refs = {str(ref) for ref in User.objects.filter(pk__in=winners).values_list("ref", flat=True)}
    signups = AuditEvent.objects.filter(action="account.signup")
    assert signups.count() == len(winners)
    assert set(signups.values_list("subject_ref", flat=True)) == refs
    requested = AuditEvent.objects.filter(action="grant.requested")
    assert requested.count() == len(winners) * grants_per_user
    assert set(requested.values_list("subject_ref", flat=True)) == refs


def _outcomes(results) -> tuple[list[int], list[str]]:
    crashes = [value for kind, value in results if kind == "crash"]
    assert not crashes, f"a signup crashed instead of raising SignupError: {crashes}"
    users = [value for kind, value in results if kind == "user"]
    errors = [value for kind, value in results if kind == "error"]
    return users, errors


# ------------------------------------------------------------------------- races (PostgreSQL)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_certificates_racing_for_one_id_make_one_user_and_the_other_gets_username_taken(
    reference_data, make_verified
):
    winners: set[int] = set()
    race = Race()
    for round_ in range(ROUNDS):
        _a, first = make_verified(f"가경쟁()00100412008052871{round_:05d}")
        _b, second = make_verified(f"나경쟁()00100412008052872{round_:05d}")
        username = f"sameid{round_:02d}"
        users, errors = _outcomes(race([
            _signup_kwargs(first, username, with_education=True),
            _signup_kwargs(second, username, with_education=True),
        ]))
        assert len(users) == 1, (round_, users, errors)
        assert errors == ["username_taken"]
        user = User.objects.get(username=username)
        assert user.pk == users[0]
        assert user.certificate.fingerprint in (first.fingerprint, second.fingerprint)
        loser = second if user.certificate.fingerprint == first.fingerprint else first
        assert not CertificateBinding.objects.filter(fingerprint=loser.fingerprint).exists()
        winners.add(user.pk)
    assert race.overlapping, "the calls never ran at the same time: nothing was raced"
    _assert_no_orphans(winners, grants_per_user=2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_certificate_racing_under_two_ids_makes_one_account_and_certificate_taken(
    reference_data, make_verified
):
    winners: set[int] = set()
    race = Race()
    for round_ in range(ROUNDS):
        _issued, cert = make_verified(f"다중복()00100412008052873{round_:05d}")
        ids = (f"firstid{round_:02d}", f"secondid{round_:02d}")
        users, errors = _outcomes(race([_signup_kwargs(cert, ids[0]),
                                         _signup_kwargs(cert, ids[1])]))
        assert len(users) == 1, (round_, users, errors)
        assert errors == ["certificate_taken"]
        assert User.objects.filter(username__in=ids).count() == 1
        binding = CertificateBinding.objects.get(fingerprint=cert.fingerprint)
        assert binding.user_id == users[0]
        winners.add(users[0])
    assert race.overlapping, "the calls never ran at the same time: nothing was raced"
    _assert_no_orphans(winners)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_signup_sent_twice_at_once_makes_one_account_and_the_second_gets_username_taken(
    reference_data, make_verified
):
    """A double click that reaches the service twice: the view recognises 'username_taken'
    with its own certificate as its own submission."""
    winners: set[int] = set()
    race = Race()
    for round_ in range(ROUNDS):
        _issued, cert = make_verified(f"라두번()00100412008052874{round_:05d}")
        username = f"twice{round_:02d}"
        users, errors = _outcomes(race([_signup_kwargs(cert, username),
                                         _signup_kwargs(cert, username)]))
        assert len(users) == 1, (round_, users, errors)
        assert errors == ["username_taken"]
        assert CertificateBinding.objects.get(fingerprint=cert.fingerprint).user_id == users[0]
        winners.add(users[0])
    assert race.overlapping, "the calls never ran at the same time: nothing was raced"
    _assert_no_orphans(winners)


# --------------------------------------------------------------- double submission (any DB)


def _ready_for_permissions(client, test_pki, username: str):
    walk_to_profile(client, test_pki, cn="이두번()0010041200805281000090")
    response = complete_profile(client, username=username)
    assert response.status_code == 302 and response.url == "/signup/permissions/", response


def _permissions_post() -> dict:
    from institutions.models import Institution

    jurisdiction = Institution.objects.get(number="11110101").jurisdiction
    return {"perm_vaccination_user": "on", "body_vaccination_user": str(jurisdiction.pk)}


@pytest.mark.django_db
def test_posting_the_permissions_step_twice_in_one_session_makes_one_account_and_lands_on_done(
    client, test_pki, reference_data
):
    _ready_for_permissions(client, test_pki, "twoclick01")
    first = client.post("/signup/permissions/", _permissions_post())
    assert first.status_code == 302 and first.url == "/signup/done/"
    second = client.post("/signup/permissions/", _permissions_post(), follow=True)
    assert second.redirect_chain == [("/signup/done/", 302)]
    assert second.status_code == 200
    assert "가입 신청이 접수되었습니다" in second.content.decode()
    assert User.objects.filter(username="twoclick01").count() == 1
    assert CertificateBinding.objects.count() == 1
    assert Consent.objects.count() == 1
    assert Grant.objects.count() == 1
    assert AuditEvent.objects.filter(action="account.signup").count() == 1


@pytest.mark.django_db
def test_a_second_click_that_read_the_session_before_the_first_finished_still_lands_on_done(
    client, test_pki, reference_data
):
    """Two requests of one double click both read the session before either wrote it; the
    second one (refused by the unique ID, recognised as our own submission) saves the session
    last. Emulated by putting the draft back as it was before the first post."""
    from accounts.models import SignupDraft

    _ready_for_permissions(client, test_pki, "twoclick02")
    before = SignupDraft.objects.get().data

    first = client.post("/signup/permissions/", _permissions_post())
    assert first.status_code == 302 and first.url == "/signup/done/"
    SignupDraft.objects.update(data=before)  # the second request's view of the draft

    second = client.post("/signup/permissions/", _permissions_post(), follow=True)
    assert User.objects.filter(username="twoclick02").count() == 1
    assert Grant.objects.count() == 1
    assert second.redirect_chain[0] == ("/signup/done/", 302)
    # The applicant must end on the done page, not be sent back to the permissions form
    # (where every further press ends the same way).
    assert second.redirect_chain == [("/signup/done/", 302)], second.redirect_chain
    assert "가입 신청이 접수되었습니다" in second.content.decode()
