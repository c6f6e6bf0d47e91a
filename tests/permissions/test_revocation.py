"""The nightly revocation of permissions unused for three months (issue 6, seed 3-2)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from institutions.models import ApprovingBody
from kdcis.models import AuditEvent, SmsMessage
from permissions.models import Grant, PermissionType
from permissions.revocation import (
    RevocationAlreadyRunning,
    months_before,
    revocation_day,
    revocation_lock,
    revoke_inactive,
    warn_before_revocation,
)
from permissions.services import grant_approve
from tests.concurrency import at_once

AS_OF = dt.date(2026, 5, 15)
THREE_MONTHS_BEFORE = dt.date(2026, 2, 15)

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------------ helpers


class World:
    def __init__(self) -> None:
        self.vaccination = PermissionType.objects.get(code="vaccination_user")
        self.education = PermissionType.objects.get(code="education_learner")
        self.jongno = ApprovingBody.objects.get(code="HC-11110-1")
        self.central = ApprovingBody.objects.get(kind="central")
        self._serial = 0

    def user(self, *, mobile: str | None = None) -> User:
        self._serial += 1
        number = self._serial
        return User.objects.create(
            username=f"user{number:05d}", name=f"사용자{number}", status=User.Status.ACTIVE,
            mobile=f"0105555{number:04d}" if mobile is None else mobile,
        )

    def grant(self, user: User, *, last_used_on: dt.date | None, ptype=None,
              status: str = Grant.Status.APPROVED, decided_on: dt.date | None = None) -> Grant:
        ptype = ptype or self.vaccination
        body = self.central if ptype.approver == "central" else self.jongno
        decided_on = decided_on or last_used_on or AS_OF - dt.timedelta(days=200)
        decided_at = timezone.make_aware(dt.datetime.combine(decided_on, dt.time(10, 0)))
        return Grant.objects.create(
            user=user, permission_type=ptype, body=body, status=status,
            requested_at=decided_at - dt.timedelta(days=1), decided_at=decided_at,
            last_used_on=last_used_on,
        )


@pytest.fixture
def world(reference_data) -> World:
    return World()


def _status(grant: Grant) -> str:
    grant.refresh_from_db()
    return grant.status


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("revoke_inactive_permissions", *args, stdout=out, stderr=out)
    return out.getvalue()


# -------------------------------------------------------------------------------- the cut-off


@pytest.mark.parametrize(("day", "expected"), [
    (dt.date(2026, 5, 15), dt.date(2026, 2, 15)),
    (dt.date(2026, 5, 31), dt.date(2026, 2, 28)),
    (dt.date(2024, 5, 31), dt.date(2024, 2, 29)),
    (dt.date(2026, 1, 31), dt.date(2025, 10, 31)),
    (dt.date(2026, 3, 1), dt.date(2025, 12, 1)),
    (dt.date(2026, 7, 31), dt.date(2026, 4, 30)),
])
def test_three_calendar_months_before_a_day_clamps_to_the_end_of_a_shorter_month(day, expected):
    assert months_before(day, 3) == expected


def test_the_revocation_day_is_the_first_day_the_grant_is_stale():
    assert revocation_day(dt.date(2026, 2, 15), 3) == dt.date(2026, 5, 15)
    # 2025-11-30 + 3 months is clamped to 2026-02-28, but 2026-02-28 - 3 months is 2025-11-28.
    assert revocation_day(dt.date(2025, 11, 30), 3) == dt.date(2026, 3, 1)
    for offset in range(0, 400, 7):
        last_used = dt.date(2025, 1, 1) + dt.timedelta(days=offset)
        first = revocation_day(last_used, 3)
        assert months_before(first, 3) >= last_used > months_before(first - dt.timedelta(1), 3)


# ------------------------------------------------------------------------------- boundaries


def test_a_grant_used_three_months_minus_a_day_ago_is_kept(world):
    grant = world.grant(world.user(), last_used_on=THREE_MONTHS_BEFORE + dt.timedelta(days=1))
    report = revoke_inactive(as_of=AS_OF)
    assert report.grants_revoked == 0
    assert _status(grant) == Grant.Status.APPROVED


def test_a_grant_used_exactly_three_months_ago_is_revoked_with_the_inactivity_reason(world):
    user = world.user()
    grant = world.grant(user, last_used_on=THREE_MONTHS_BEFORE)
    report = revoke_inactive(as_of=AS_OF)
    grant.refresh_from_db()
    assert report.grants_revoked == 1
    assert grant.status == Grant.Status.REVOKED
    assert grant.revoked_at is not None
    assert "장기간(3개월 이상) 미사용" in grant.reason
    event = AuditEvent.objects.get(action="grant.revoked", target_id=str(grant.pk))
    assert event.actor is None
    assert event.reason == "inactivity"
    assert event.subject_ref == str(user.ref)
    assert event.old["status"] == "approved" and event.new == {"status": "revoked"}


def test_a_grant_never_used_since_an_approval_three_months_ago_is_revoked(world, personas):
    grant = personas.alice.grants.get(permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
    approved_at = timezone.make_aware(dt.datetime.combine(THREE_MONTHS_BEFORE, dt.time(17, 30)))
    # The approval counts as a use on its day; also a row with no last use at all counts from
    # its approval day.
    Grant.objects.filter(pk=grant.pk).update(decided_at=approved_at,
                                             last_used_on=THREE_MONTHS_BEFORE)
    unused = world.grant(world.user(), last_used_on=None, decided_on=THREE_MONTHS_BEFORE)
    fresher = world.grant(world.user(), last_used_on=None,
                          decided_on=THREE_MONTHS_BEFORE + dt.timedelta(days=1))

    report = revoke_inactive(as_of=AS_OF)

    assert report.grants_revoked == 2
    assert _status(grant) == Grant.Status.REVOKED
    assert _status(unused) == Grant.Status.REVOKED
    assert _status(fresher) == Grant.Status.APPROVED


def test_the_cut_off_at_a_month_end_is_the_last_day_of_the_shorter_month(world):
    end_of_february = world.grant(world.user(), last_used_on=dt.date(2026, 2, 28))
    first_of_march = world.grant(world.user(), last_used_on=dt.date(2026, 3, 1))
    revoke_inactive(as_of=dt.date(2026, 5, 31))
    assert _status(end_of_february) == Grant.Status.REVOKED
    assert _status(first_of_march) == Grant.Status.APPROVED


def test_non_revocable_permission_types_are_never_revoked(world):
    learner = world.grant(world.user(), ptype=world.education, last_used_on=dt.date(2025, 1, 1))
    report = revoke_inactive(as_of=AS_OF)
    assert report.grants_revoked == 0
    assert _status(learner) == Grant.Status.APPROVED


def test_grants_in_other_states_are_left_alone(world):
    old = dt.date(2025, 1, 1)
    others = [world.grant(world.user(), last_used_on=old, status=status)
              for status in ("requested", "rejected", "revoked", "cancelled")]
    report = revoke_inactive(as_of=AS_OF)
    assert report.grants_revoked == 0
    assert [_status(g) for g in others] == ["requested", "rejected", "revoked", "cancelled"]
    assert not AuditEvent.objects.filter(action="grant.revoked").exists()


# ------------------------------------------------------------------------ audit rows and SMS


def test_each_grant_gets_one_audit_row_and_each_user_one_sms_naming_the_permissions(world):
    registry = PermissionType.objects.create(code="registry_user", name="감염병등록 User",
                                             approver="health_center", revocable=True)
    two = world.user(mobile="01012340001")
    world.grant(two, last_used_on=dt.date(2025, 12, 1))
    world.grant(two, ptype=registry, last_used_on=dt.date(2026, 1, 2))
    one = world.user(mobile="01012340002")
    world.grant(one, last_used_on=dt.date(2026, 1, 3))

    # Batches of one grant: a user's grants still share one batch (and one SMS).
    report = revoke_inactive(as_of=AS_OF, batch_size=1)

    assert (report.grants_revoked, report.users_affected, report.sms_queued) == (3, 2, 2)
    assert AuditEvent.objects.filter(action="grant.revoked").count() == 3
    messages = {m.to: m.text for m in SmsMessage.objects.all()}
    assert set(messages) == {"01012340001", "01012340002"}
    assert "'예방접종관리 User'" in messages["01012340001"]
    assert "'감염병등록 User'" in messages["01012340001"]
    assert "권한 부가정보" in messages["01012340001"]
    assert all(m.status == SmsMessage.Status.QUEUED for m in SmsMessage.objects.all())


def test_a_user_without_a_valid_mobile_loses_the_grant_but_gets_no_sms(world):
    grant = world.grant(world.user(mobile=""), last_used_on=dt.date(2025, 12, 1))
    world.grant(world.user(mobile="0212345678"), last_used_on=dt.date(2025, 12, 1))
    report = revoke_inactive(as_of=AS_OF)
    assert _status(grant) == Grant.Status.REVOKED
    assert report.grants_revoked == 2 and report.sms_queued == 0
    assert not SmsMessage.objects.exists()


def test_the_report_counts_the_users_left_with_no_permission(world):
    lonely = world.user()
    world.grant(lonely, last_used_on=dt.date(2025, 12, 1))
    learner = world.user()
    world.grant(learner, last_used_on=dt.date(2025, 12, 1))
    world.grant(learner, ptype=world.education, last_used_on=dt.date(2025, 12, 1))
    report = revoke_inactive(as_of=AS_OF)
    assert (report.grants_revoked, report.users_affected,
            report.users_left_without_permission) == (2, 2, 1)


def test_the_statements_per_batch_do_not_grow_with_the_number_of_grants(world):
    def queries_for(count: int, as_of: dt.date) -> int:
        for _ in range(count):
            world.grant(world.user(), last_used_on=months_before(as_of, 4))
        with CaptureQueriesContext(connection) as captured:
            report = revoke_inactive(as_of=as_of, batch_size=1000)
        assert report.grants_revoked == count
        return len(captured.captured_queries)

    few = queries_for(3, dt.date(2026, 5, 1))
    many = queries_for(60, dt.date(2026, 6, 1))
    assert many == few


# --------------------------------------------------------------- idempotency, dry run, --as-of


def test_a_second_run_the_same_day_changes_nothing(world):
    for _ in range(3):
        world.grant(world.user(), last_used_on=dt.date(2025, 12, 1))
    first = revoke_inactive(as_of=AS_OF)
    revoked_at = dict(Grant.objects.values_list("pk", "revoked_at"))
    audits, sms = AuditEvent.objects.count(), SmsMessage.objects.count()

    second = revoke_inactive(as_of=AS_OF)

    assert first.grants_revoked == 3 and second.grants_revoked == 0
    assert dict(Grant.objects.values_list("pk", "revoked_at")) == revoked_at
    assert (AuditEvent.objects.count(), SmsMessage.objects.count()) == (audits, sms)


def test_a_dry_run_lists_what_would_change_and_changes_nothing(world):
    stale = world.grant(world.user(), last_used_on=dt.date(2025, 12, 1))
    world.grant(world.user(), last_used_on=dt.date(2026, 5, 1))

    output = _run("--dry-run", "--as-of", AS_OF.isoformat())

    assert f"would revoke grant #{stale.pk} '예방접종관리 User'" in output
    assert "would revoke 1 grants, 1 users affected, 1 users left with no permission" in output
    assert _status(stale) == Grant.Status.APPROVED
    assert not AuditEvent.objects.filter(action="grant.revoked").exists()
    assert not SmsMessage.objects.exists()


def test_the_command_revokes_as_of_the_given_date_and_prints_the_summary(world):
    grant = world.grant(world.user(), last_used_on=dt.date(2026, 1, 10))

    before = _run("--as-of", "2026-04-09", "--warn-days", "0")
    assert _status(grant) == Grant.Status.APPROVED
    assert "revoked 0 grants, 0 users affected, 0 users left with no permission" in before

    after = _run("--as-of", "2026-04-10", "--warn-days", "0")
    assert _status(grant) == Grant.Status.REVOKED
    assert "revoked 1 grants, 1 users affected, 1 users left with no permission" in after


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "15/05/2026"])
def test_a_bad_as_of_date_is_refused_with_a_clear_message(world, value):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        _run("--as-of", value)


def test_the_command_without_as_of_runs_as_of_today(world):
    today = timezone.localdate()
    grant = world.grant(world.user(), last_used_on=months_before(today, 3))
    output = _run("--warn-days", "0")
    assert _status(grant) == Grant.Status.REVOKED
    assert f"As of {today.isoformat()}" in output


# ---------------------------------------------------------------------------------- warnings


def test_a_warning_is_sent_once_per_grant_and_again_after_a_new_use_and_a_new_period(world):
    user = world.user(mobile="01077770001")
    grant = world.grant(user, last_used_on=dt.date(2026, 2, 20))  # revoked on 2026-05-20
    world.grant(world.user(), last_used_on=dt.date(2026, 3, 20))  # far from its revocation

    assert warn_before_revocation(as_of=dt.date(2026, 5, 5), warn_days=14) == 0
    assert warn_before_revocation(as_of=dt.date(2026, 5, 6), warn_days=14) == 1
    assert warn_before_revocation(as_of=dt.date(2026, 5, 6), warn_days=14) == 0
    assert warn_before_revocation(as_of=dt.date(2026, 5, 7), warn_days=14) == 0
    grant.refresh_from_db()
    assert grant.warned_for == dt.date(2026, 2, 20)
    (message,) = SmsMessage.objects.all()
    assert message.to == "01077770001"
    assert "'예방접종관리 User'" in message.text and "2026-05-20" in message.text
    assert "'예방접종관리' 메뉴" in message.text

    # A new use starts a new period: warned again when that one nears its end, once.
    Grant.objects.filter(pk=grant.pk).update(last_used_on=dt.date(2026, 5, 10))
    assert warn_before_revocation(as_of=dt.date(2026, 7, 27), warn_days=14) == 1
    assert warn_before_revocation(as_of=dt.date(2026, 7, 28), warn_days=14) == 0
    assert SmsMessage.objects.filter(to="01077770001").count() == 2
    revoke_inactive(as_of=dt.date(2026, 8, 9))
    assert _status(grant) == Grant.Status.APPROVED
    revoke_inactive(as_of=dt.date(2026, 8, 10))
    assert _status(grant) == Grant.Status.REVOKED


def test_grants_never_used_since_approval_are_warned_from_their_approval_day(world):
    grant = world.grant(world.user(), last_used_on=None, decided_on=dt.date(2026, 2, 20))
    assert warn_before_revocation(as_of=dt.date(2026, 5, 6), warn_days=14) == 1
    assert warn_before_revocation(as_of=dt.date(2026, 5, 7), warn_days=14) == 0
    grant.refresh_from_db()
    assert grant.warned_for == dt.date(2026, 2, 20)


def test_stale_non_revocable_and_other_state_grants_get_no_warning(world):
    world.grant(world.user(), last_used_on=dt.date(2026, 1, 1))  # already stale
    world.grant(world.user(), ptype=world.education, last_used_on=dt.date(2026, 2, 20))
    world.grant(world.user(), last_used_on=dt.date(2026, 2, 20), status="requested")
    assert warn_before_revocation(as_of=dt.date(2026, 5, 6), warn_days=14) == 0
    assert not SmsMessage.objects.exists()


def test_the_command_revokes_then_warns_with_warn_days(world):
    world.grant(world.user(), last_used_on=dt.date(2026, 1, 1))
    soon = world.grant(world.user(), last_used_on=dt.date(2026, 2, 20))
    later = world.grant(world.user(), last_used_on=dt.date(2026, 3, 1))

    output = _run("--as-of", "2026-05-10", "--warn-days", "10")

    assert "warned 1 grants due within 10 days" in output
    assert "revoked 1 grants" in output
    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.warned_for == dt.date(2026, 2, 20) and later.warned_for is None
    assert SmsMessage.objects.count() == 2  # one revocation notice, one warning
    assert "warned 0 grants" in _run("--as-of", "2026-05-10", "--warn-days", "10")


def test_a_dry_run_sends_no_warning(world):
    grant = world.grant(world.user(), last_used_on=dt.date(2026, 2, 20))
    output = _run("--dry-run", "--as-of", "2026-05-10")
    assert "would warn 1 grants due within 14 days" in output
    grant.refresh_from_db()
    assert grant.warned_for is None and not SmsMessage.objects.exists()


# ------------------------------------------------------------------------- what the user sees


def _menu(html: str) -> str:
    return html.split('<nav class="side-menu"', 1)[1].split("</nav>", 1)[0]


def test_a_revoked_user_loses_the_vaccination_menu_and_sees_requestable_permissions(
        client, personas):
    alice = personas.alice
    grant = alice.grants.get(permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
    client.force_login(alice)
    # The first page after a login may be the 의료기관 부가정보 form (a redirect): go past it.
    client.get("/")
    assert "예방접종관리" in _menu(client.get("/").content.decode())

    today = timezone.localdate()
    Grant.objects.filter(pk=grant.pk).update(last_used_on=months_before(today, 3))
    report = revoke_inactive(as_of=today)
    assert report.grants_revoked == 1 and report.users_left_without_permission == 1

    html = client.get("/").content.decode()
    assert "예방접종관리" not in _menu(html)
    assert "신청 가능한 권한" in html and "예방접종관리 User" in html
    refused = client.get("/vaccination/")
    assert refused.status_code == 403
    assert "이 메뉴를 사용할 권한이 없습니다" in refused.content.decode()
    page = client.get("/permissions/?status=revoked").content.decode()
    assert "장기간(3개월 이상) 미사용" in page


# ---------------------------------------------------------------------- concurrent runs (PG)


def _stale_population(count: int) -> list[int]:
    world = World()
    users = User.objects.bulk_create([
        User(username=f"race{n:04d}", status=User.Status.ACTIVE, mobile=f"0106666{n:04d}")
        for n in range(count)
    ])
    decided = timezone.make_aware(dt.datetime(2025, 11, 1, 9, 0))
    grants = Grant.objects.bulk_create([
        Grant(user=user, permission_type=world.vaccination, body=world.jongno,
              status=Grant.Status.APPROVED, requested_at=decided, decided_at=decided,
              last_used_on=dt.date(2025, 12, 1))
        for user in users
    ])
    return [g.pk for g in grants]


def _in_threads(target, count: int = 2) -> list[object]:
    return at_once(lambda _index: target(), count)


def _assert_each_grant_revoked_once(grant_ids: list[int]) -> None:
    assert set(Grant.objects.filter(pk__in=grant_ids).values_list("status", flat=True)) == {
        "revoked"}
    per_grant = {}
    for target_id in AuditEvent.objects.filter(action="grant.revoked").values_list(
            "target_id", flat=True):
        per_grant[target_id] = per_grant.get(target_id, 0) + 1
    assert per_grant == {str(pk): 1 for pk in grant_ids}
    numbers = list(SmsMessage.objects.values_list("to", flat=True))
    assert len(numbers) == len(grant_ids) == len(set(numbers))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_row_locks_alone_keep_two_concurrent_runs_from_revoking_a_grant_twice(reference_data):
    grant_ids = _stale_population(300)

    results = _in_threads(lambda: revoke_inactive(as_of=AS_OF, batch_size=7, lock=False))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.grants_revoked for r in results) == 300
    _assert_each_grant_revoked_once(grant_ids)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_small_batches_revoke_each_grant_once_with_one_sms_per_user(reference_data):
    grant_ids = _stale_population(300)
    world = World()
    # Users with two stale grants: both must go in the same batch (one SMS).
    doubles = User.objects.filter(pk__in=Grant.objects.filter(pk__in=grant_ids[:40])
                                  .values("user_id"))
    registry = PermissionType.objects.create(code="registry_user", name="감염병등록 User",
                                             approver="health_center", revocable=True)
    second = [world.grant(user, ptype=registry, last_used_on=dt.date(2025, 12, 2)).pk
              for user in doubles]

    report = revoke_inactive(as_of=AS_OF, batch_size=7)

    assert (report.grants_revoked, report.users_affected, report.sms_queued) == (340, 300, 300)
    assert report.users_left_without_permission == 300
    assert set(Grant.objects.filter(pk__in=grant_ids + second)
               .values_list("status", flat=True)) == {"revoked"}
    assert AuditEvent.objects.filter(action="grant.revoked").count() == 340
    numbers = list(SmsMessage.objects.values_list("to", flat=True))
    assert len(numbers) == len(set(numbers)) == 300
    both = SmsMessage.objects.filter(to__in=[u.mobile for u in doubles])
    assert all("'감염병등록 User'" in m.text and "'예방접종관리 User'" in m.text for m in both)
    assert revoke_inactive(as_of=AS_OF).grants_revoked == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_commands_revoke_each_grant_once(reference_data):
    grant_ids = _stale_population(300)

    outputs = _in_threads(lambda: _run("--as-of", AS_OF.isoformat(), "--batch-size", "7"))

    assert not [o for o in outputs if isinstance(o, Exception)], outputs
    _assert_each_grant_revoked_once(grant_ids)
    assert "revoked 0 grants" in "".join(outputs) or "in progress" in "".join(outputs)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_while_another_holds_the_lock_exits_saying_so(reference_data):
    grant_ids = _stale_population(3)
    with revocation_lock():
        (blocked,) = _in_threads(lambda: revoke_inactive(as_of=AS_OF), count=1)
        (output,) = _in_threads(lambda: _run("--as-of", AS_OF.isoformat()), count=1)
    assert isinstance(blocked, RevocationAlreadyRunning)
    assert "another revoke_inactive_permissions run is in progress" in output.lower()
    assert set(Grant.objects.filter(pk__in=grant_ids).values_list("status", flat=True)) == {
        "approved"}
    assert revoke_inactive(as_of=AS_OF).grants_revoked == 3


# ------------------------------------------------------------- the SQL path's rows, checked


@pytest.mark.postgres
def test_the_sql_path_queues_the_very_sms_row_send_sms_would(world):
    """The set-based statement writes SMS rows itself; they must be what the outbox's one
    writer (kdcis.sms.send_sms) would have written for the same number and text, column for
    column, or the delivery worker would see two kinds of row."""
    from django.forms.models import model_to_dict

    from kdcis.sms import send_sms

    user = world.user(mobile="01055550101")
    world.grant(user, last_used_on=dt.date(2025, 12, 1))
    assert revoke_inactive(as_of=AS_OF).sms_queued == 1
    written = SmsMessage.objects.get()
    reference = send_sms(to=user.mobile, text=written.text)

    def shape(message):
        row = model_to_dict(message, exclude=["id"])
        row.update(created_at=None, next_attempt_at=None)  # the moment each was written
        return row

    assert shape(written) == shape(reference)
    assert written.to == "01055550101"
    assert f"'{world.vaccination.name}'" in written.text
