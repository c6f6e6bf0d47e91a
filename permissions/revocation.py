"""The nightly revocation of permissions unused for a period (seed 3-2), set-based.

A grant is *stale* on `as_of` when its last use (`last_used_on`, or the approval day when it
was never used) is on or before the day `INACTIVITY_REVOCATION_MONTHS` calendar months before
`as_of`: with three months, a grant used 2026-02-15 is revoked from 2026-05-15 on and kept on
2026-05-14. Only approved grants of revocable permission types are touched.

Work is done in batches in (user, grant) order, cut at user boundaries so that a user gets one
SMS per run. Each batch is one transaction with a bounded number of statements whatever its
size, and nothing beyond one batch's ids is held in memory:

* PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` of the batch's ids, then one statement that
  UPDATEs them, INSERTs their SMS from the UPDATE's RETURNING rows, counts, and returns
  the revoked rows, whose audit rows are then appended to the hash chain (kdcis.audit) in
  one INSERT.
* Elsewhere (SQLite, for development and tests): the same SELECT without locks, one UPDATE,
  `bulk_create` of the audit rows and of the SMS, one count.

Why a grant is revoked exactly once even when two runs overlap, without the job's lease:
the batch's rows are locked (the other run skips them), the UPDATE keeps `status = 'approved'`
as its condition, and the audit rows and SMS are written only for the rows that UPDATE really
changed, in the same transaction. The lease on top (kdcis.leases) only spares a second run useless
work: it exits saying another run is in progress.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from kdcis import audit as audit_trail
from kdcis.leases import Lease, LeaseHeld, lease
from kdcis.models import AuditEvent, SmsMessage
from kdcis.phones import MOBILE_PATTERN, SEPARATORS_PATTERN, InvalidPhoneNumber, normalize_mobile
from permissions.models import Grant, PermissionType

#: The reason recorded in the audit trail (machine-readable).
AUDIT_REASON = "inactivity"
#: The job's lease (kdcis.leases).
LEASE_NAME = "revoke_inactive_permissions"


class RevocationAlreadyRunning(Exception):
    """Another run holds the job's lease; this one did nothing."""


# ------------------------------------------------------------------------------ calendar


def months_before(day: date, months: int) -> date:
    """`day` minus `months` calendar months, the day clamped to the end of a shorter month.

    2026-05-31 minus 3 months is 2026-02-28; 2024-05-31 minus 3 months is 2024-02-29.
    """
    index = day.year * 12 + (day.month - 1) - months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def months_after(day: date, months: int) -> date:
    """`day` plus `months` calendar months, clamped like `months_before`."""
    return months_before(day, -months)


def revocation_cutoff(as_of: date, months: int | None = None) -> date:
    """The latest last-use day that makes a grant stale on `as_of`."""
    return months_before(as_of, _months(months))


def revocation_day(last_used: date, months: int | None = None) -> date:
    """The first run date on which a grant last used on `last_used` is stale."""
    months = _months(months)
    day = months_after(last_used, months)
    # months_before() is monotone but clamping makes it lose days at month ends: adjust.
    while months_before(day - timedelta(days=1), months) >= last_used:
        day -= timedelta(days=1)
    while months_before(day, months) < last_used:
        day += timedelta(days=1)
    return day


def _months(months: int | None) -> int:
    return settings.INACTIVITY_REVOCATION_MONTHS if months is None else months


def _start_of(day: date) -> datetime:
    """Midnight at the start of `day` in the current (Seoul) time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


# ------------------------------------------------------------------------------ querysets


def _revocable_type_ids() -> list[int]:
    return list(PermissionType.objects.filter(revocable=True).values_list("pk", flat=True))


def _last_use_on_or_before(day: date) -> Q:
    """Grants whose effective last use is on or before `day`.

    The effective last use is `last_used_on`, else the local approval day, else (rows from
    before usage tracking with no decision time) the request day. Written as plain column
    comparisons so PostgreSQL can use the partial index on approved grants' last_used_on.
    """
    end = _start_of(day + timedelta(days=1))
    return (
        Q(last_used_on__lte=day)
        | Q(last_used_on__isnull=True, decided_at__lt=end)
        | Q(last_used_on__isnull=True, decided_at__isnull=True, requested_at__lt=end)
    )


def stale_grants(*, as_of: date, months: int | None = None) -> QuerySet[Grant]:
    """Approved grants of revocable types that are stale on `as_of`."""
    return Grant.objects.filter(
        _last_use_on_or_before(revocation_cutoff(as_of, months)),
        status=Grant.Status.APPROVED,
        permission_type_id__in=_revocable_type_ids(),
    )


def _effective_last_use():
    return Coalesce(F("last_used_on"), TruncDate("decided_at"), TruncDate("requested_at"))


def _lock_rows(qs: QuerySet) -> QuerySet:
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs


def _after(user_id: int, grant_id: int) -> Q:
    """Keyset condition: rows after (user_id, id) in (user_id, id) order. The redundant
    `user_id >= n` lets PostgreSQL start the index scan there instead of at the beginning."""
    return Q(user_id__gte=user_id) & (Q(user_id__gt=user_id) | Q(user_id=user_id, pk__gt=grant_id))


# ------------------------------------------------------------------------------ lease


#: How long a run's lease lasts without renewal; the run renews it after every batch, so
#: only a crashed run's lease ever expires (and the next night's run then goes ahead).
LEASE_SECONDS = 900


@contextmanager
def revocation_lock() -> Iterator[Lease]:
    """Hold the job's lease (kdcis.leases), or raise `RevocationAlreadyRunning`.

    A row, not a session-level advisory lock: it holds behind PgBouncer in transaction mode
    and across the run's many transactions. Re-entrant within one thread (the command holds
    it around both the revocation and the warnings).
    """
    try:
        with lease(LEASE_NAME, seconds=LEASE_SECONDS) as held:
            yield held
    except LeaseHeld as exc:
        raise RevocationAlreadyRunning(
            f"another revoke_inactive_permissions run is in progress ({exc.holder})"
        ) from None


@contextmanager
def _maybe_locked(lock: bool) -> Iterator[Lease | None]:
    if lock:
        with revocation_lock() as held:
            yield held
    else:
        yield None


# ------------------------------------------------------------------------------ revocation


@dataclass(frozen=True)
class RevocationItem:
    """One grant that was (or, in a dry run, would be) revoked."""

    grant_id: int
    user_id: int
    username: str
    permission: str
    last_used: date | None


@dataclass
class RevocationReport:
    as_of: date
    cutoff: date
    dry_run: bool
    #: Stale grants when the run started (only counted when a progress callback is given).
    candidates: int | None = None
    grants_revoked: int = 0
    users_affected: int = 0
    users_left_without_permission: int = 0
    sms_queued: int = 0
    batches: int = 0
    #: Dry run without `on_item`: every grant that would be revoked.
    items: list[RevocationItem] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would revoke" if self.dry_run else "revoked"
        return (
            f"{verb} {self.grants_revoked} grants, {self.users_affected} users affected, "
            f"{self.users_left_without_permission} users left with no permission"
        )


def revocation_reason_text(months: int | None = None) -> str:
    """What 권한 부가정보 shows in the '사유' column of a revoked grant."""
    return _("장기간(%(months)d개월 이상) 미사용으로 자동 미승인") % {"months": _months(months)}


def revocation_sms_text(permissions: list[str], months: int | None = None) -> str:
    """The SMS to a user whose `permissions` (names) were revoked."""
    before, after = _revocation_sms_parts(_months(months))
    return before + ", ".join(f"'{p}'" for p in permissions) + after


def _revocation_sms_parts(months: int) -> tuple[str, str]:
    """The translated SMS text around the list of permissions (PostgreSQL fills it in SQL)."""
    text = _(
        "[질병보건통합관리시스템] %(perms)s 권한을 %(months)d개월 이상 사용하지 않아 보안을 위해 "
        "자동으로 미승인 처리했습니다. 다시 사용하려면 로그인 후 '권한 부가정보'(승인된 권한이 "
        "없으면 처음화면)에서 다시 신청하세요."
    ) % {"perms": "\x00", "months": months}
    before, after = text.split("\x00")
    return before, after


@dataclass(frozen=True)
class _Run:
    """What every batch of one run shares."""

    stale: QuerySet[Grant]
    reason: str
    months: int
    type_names: dict[int, str]
    on_item: Callable[[RevocationItem], None] | None


_ID_FIELDS = ("pk", "user_id")
_LIST_FIELDS = ("pk", "user_id", "user__username", "user__ref", "user__mobile",
                "permission_type_id", "last_used_on")


def _select_batch(stale: QuerySet[Grant], *, cursor: tuple[int, int], batch_size: int,
                  lock: bool, fields: tuple[str, ...]) -> list[tuple]:
    """The next rows in (user_id, id) order, cut at a user boundary so that every user's
    stale grants fall in one batch (one SMS per user and run). Each row starts (id, user_id)."""
    qs = stale.filter(_after(*cursor)).order_by("user_id", "pk")
    if lock:
        qs = _lock_rows(qs)
    rows = list(qs.values_list(*fields)[:batch_size])
    if len(rows) < batch_size:
        return rows
    last_user = rows[-1][1]
    kept = [row for row in rows if row[1] != last_user]
    if kept:
        return kept
    # One user fills the whole batch (tiny batch sizes): take all of that user's rows.
    qs = stale.filter(user_id=last_user).order_by("pk")
    if lock:
        qs = _lock_rows(qs)
    return list(qs.values_list(*fields))


def revoke_inactive(
    *,
    as_of: date,
    dry_run: bool = False,
    batch_size: int = 5000,
    progress: Callable[[RevocationReport], None] | None = None,
    on_item: Callable[[RevocationItem], None] | None = None,
    months: int | None = None,
    lock: bool = True,
) -> RevocationReport:
    """Revoke every approved grant of a revocable type that is stale on `as_of`.

    Each revoked grant gets status 미승인 (`revoked`), `revoked_at` now and the reason
    '장기간(3개월 이상) 미사용으로 자동 미승인', one audit row `grant.revoked` with reason
    'inactivity', and each affected user one SMS naming the permissions and how to ask again
    (users without a valid mobile number get none).

    `dry_run` changes nothing and reports what would change (to `on_item`, one call per
    grant, or else in `report.items`). `progress` is called after every batch. `lock=False`
    skips the lease (tests of the row-level guarantee). Raises
    `RevocationAlreadyRunning` when another run holds the lease.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    months = _months(months)
    report = RevocationReport(as_of=as_of, cutoff=revocation_cutoff(as_of, months),
                              dry_run=dry_run)
    with _maybe_locked(lock and not dry_run) as held:
        run = _Run(
            stale=stale_grants(as_of=as_of, months=months),
            reason=revocation_reason_text(months), months=months,
            type_names=dict(PermissionType.objects.values_list("pk", "name")), on_item=on_item,
        )
        if progress is not None:
            report.candidates = run.stale.count()
        _revoke_batches(report, run, batch_size=batch_size, dry_run=dry_run,
                        in_sql=connection.vendor == "postgresql" and not dry_run,
                        progress=progress, renew=held.renew if held else None)
    return report


def _revoke_batches(report: RevocationReport, run: _Run, *, batch_size: int, dry_run: bool,
                    in_sql: bool, progress: Callable[[RevocationReport], None] | None,
                    renew: Callable[[], None] | None = None) -> None:
    """The batch loop over the stale grants in (user, grant) order, one transaction each."""
    fields = _ID_FIELDS if in_sql else _LIST_FIELDS
    cursor = (0, 0)
    while True:
        with transaction.atomic():
            rows = _select_batch(run.stale, cursor=cursor, batch_size=batch_size,
                                 lock=not dry_run, fields=fields)
            if not rows:
                break
            cursor = (rows[-1][1], rows[-1][0])
            if dry_run:
                _list_batch(report, rows, run)
            elif in_sql:
                _revoke_batch_in_sql(report, [row[0] for row in rows], run)
            else:
                _audit_and_notify(report, _revoke_rows(rows, run=run), run)
            report.batches += 1
        if renew is not None:
            renew()
        if progress is not None:
            progress(report)


def _revoke_rows(rows: list[tuple], *, run: _Run) -> list[tuple]:
    """The portable path (SQLite): UPDATE the batch (the staleness and status conditions
    repeated) and return the rows this UPDATE changed. Without row locks another run may
    have taken some between our SELECT and our UPDATE; they are left to it."""
    ids = [row[0] for row in rows]
    now = timezone.now()
    changed = run.stale.filter(pk__in=ids).update(
        status=Grant.Status.REVOKED, revoked_at=now, reason=run.reason
    )
    if changed == len(ids):
        return rows
    ours = set(
        Grant.objects.filter(pk__in=ids, status=Grant.Status.REVOKED, revoked_at=now)
        .values_list("pk", flat=True)
    )
    return [row for row in rows if row[0] in ours]


def _recipients(rows: list[tuple], run: _Run) -> dict[int, tuple[str, list[str]]]:
    """user id → (mobile, names of the permissions) for full (_LIST_FIELDS) rows."""
    recipients: dict[int, tuple[str, list[str]]] = {}
    for _pk, user_id, _username, _ref, mobile, type_id, _last_used in rows:
        name = run.type_names.get(type_id, str(type_id))
        recipients.setdefault(user_id, (mobile, []))[1].append(name)
    return recipients


def _sms_rows(recipients: dict[int, tuple[str, list[str]]], months: int) -> list[SmsMessage]:
    """One outbox row per user with a valid mobile number."""
    messages = []
    for mobile, names in recipients.values():
        try:
            number = normalize_mobile(mobile)
        except InvalidPhoneNumber:
            continue
        messages.append(SmsMessage(to=number, text=revocation_sms_text(names, months)))
    return messages


def _users_left_without_permission(user_ids: set[int], *, still_approved: list[int]) -> int:
    """How many of `user_ids` hold no approved grant but those in `still_approved` (the
    batch of a dry run, which are about to go)."""
    keeping = Grant.objects.filter(user_id__in=user_ids, status=Grant.Status.APPROVED)
    if still_approved:
        keeping = keeping.exclude(pk__in=still_approved)
    return len(user_ids) - keeping.values("user_id").distinct().count()


def _list_batch(report: RevocationReport, rows: list[tuple], run: _Run) -> None:
    """Dry run: report what the batch would change."""
    for pk, user_id, username, _ref, _mobile, type_id, last_used in rows:
        item = RevocationItem(grant_id=pk, user_id=user_id, username=username,
                              permission=run.type_names.get(type_id, str(type_id)),
                              last_used=last_used)
        if run.on_item is not None:
            run.on_item(item)
        else:
            report.items.append(item)
    recipients = _recipients(rows, run)
    report.grants_revoked += len(rows)
    report.users_affected += len(recipients)
    report.sms_queued += len(_sms_rows(recipients, run.months))
    report.users_left_without_permission += _users_left_without_permission(
        set(recipients), still_approved=[row[0] for row in rows])


def _append_audit_rows(revoked: list[tuple]) -> None:
    """One `grant.revoked` row per (grant id, user ref, last use) appended to the audit chain
    (kdcis.audit: the chain head's lock, one INSERT for the batch). Both paths write their
    rows here, so their shape has one source."""
    audit_trail.append([
        AuditEvent(
            actor=None, actor_ref="", action="grant.revoked",
            target_type=Grant._meta.label_lower, target_id=str(pk), subject_ref=str(ref),
            old={"status": Grant.Status.APPROVED.value,
                 "last_used_on": (last_used.isoformat() if hasattr(last_used, "isoformat")
                                  else last_used)},
            new={"status": Grant.Status.REVOKED.value},
            reason=AUDIT_REASON,
        )
        for pk, ref, last_used in revoked
    ])


def _audit_and_notify(report: RevocationReport, done: list[tuple], run: _Run) -> None:
    """The portable path (SQLite): append the audit rows to the chain, bulk_create the SMS."""
    if not done:
        return
    _append_audit_rows([(pk, ref, last_used)
                        for pk, _user_id, _username, ref, _mobile, _type_id, last_used in done])
    recipients = _recipients(done, run)
    messages = _sms_rows(recipients, run.months)
    SmsMessage.objects.bulk_create(messages)
    report.grants_revoked += len(done)
    report.users_affected += len(recipients)
    report.sms_queued += len(messages)
    report.users_left_without_permission += _users_left_without_permission(
        set(recipients), still_approved=[])


def _revoke_batch_in_sql(report: RevocationReport, ids: list[int], run: _Run) -> None:
    """PostgreSQL: revoke the batch's (locked) rows, write their audit rows and SMS and count
    the users left with nothing in one statement; then append their audit rows (one INSERT).

    Produces the same rows as `_revoke_rows` + `_audit_and_notify`: the subject is the user's
    `ref`, the number is normalised and checked like `kdcis.sms.normalize_mobile`, the text is
    `revocation_sms_text()`. The UPDATE keeps `status = 'approved'` as its condition, and the
    audit rows and SMS come from its RETURNING rows only.

    The statement returns the revoked rows' (id, user ref, last use) and their audit rows
    are appended to the hash chain like every other (`_append_audit_rows`: the chain head's
    lock, one INSERT): a hash chain is sequential, and computing it in SQL would be a second
    copy of the canonical form.
    """
    before, after = _revocation_sms_parts(run.months)
    params = {
        "ids": ids, "now": timezone.now(), "revoked": Grant.Status.REVOKED.value,
        "approved": Grant.Status.APPROVED.value, "grant_reason": run.reason,
        "before": before, "after": after, "pattern": MOBILE_PATTERN.pattern,
        "separators": SEPARATORS_PATTERN.pattern, "queued": SmsMessage.Status.QUEUED.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(_REVOKE_BATCH_SQL, params)
        revoked_rows, users, messages, left = cursor.fetchone()
    revoked_rows = json.loads(revoked_rows) if isinstance(revoked_rows, str) else revoked_rows
    _append_audit_rows([tuple(row) for row in revoked_rows or []])
    revoked = len(revoked_rows or [])
    report.grants_revoked += revoked
    report.users_affected += users
    report.sms_queued += messages
    report.users_left_without_permission += left


_USER_TABLE = Grant._meta.get_field("user").related_model._meta.db_table
# Every part of a data-modifying WITH sees the snapshot from before the UPDATE, hence the
# last count leaves out the rows just revoked explicitly.
_REVOKE_BATCH_SQL = f"""
WITH revoked AS (
    UPDATE {Grant._meta.db_table} g
    SET status = %(revoked)s, revoked_at = %(now)s, reason = %(grant_reason)s
    FROM unnest(%(ids)s::bigint[]) AS batch(id)
    WHERE g.id = batch.id AND g.status = %(approved)s
    RETURNING g.id, g.user_id, g.permission_type_id, g.last_used_on
), done AS MATERIALIZED (
    -- Each revoked row with its user's pseudonym and number: the user table is read once.
    SELECT r.id, r.user_id, r.permission_type_id, r.last_used_on, u.ref, u.mobile
    FROM revoked r JOIN {_USER_TABLE} u ON u.id = r.user_id
), recipients AS MATERIALIZED (
    SELECT d.user_id, regexp_replace(min(d.mobile), %(separators)s, '', 'g') AS mobile,
        string_agg(chr(39) || t.name || chr(39), ', ' ORDER BY d.id) AS names
    FROM done d JOIN {PermissionType._meta.db_table} t ON t.id = d.permission_type_id
    GROUP BY d.user_id
), sms AS (
    INSERT INTO {SmsMessage._meta.db_table}
        ("to", "text", "status", "attempts", "next_attempt_at", "last_error", "provider_id",
         "created_at", "sent_at")
    SELECT mobile, %(before)s || names || %(after)s, %(queued)s, 0, %(now)s, '', '', %(now)s,
        NULL
    FROM recipients WHERE mobile ~ %(pattern)s
    RETURNING 1
)
SELECT
    -- The revoked rows for their audit rows (appended to the chain by the caller).
    (SELECT json_agg(json_build_array(d.id, d.ref::text, d.last_used_on) ORDER BY d.id)
     FROM done d),
    (SELECT count(*) FROM recipients),
    (SELECT count(*) FROM sms),
    (SELECT count(*) FROM recipients r WHERE NOT EXISTS (
        SELECT 1 FROM {Grant._meta.db_table} o
        WHERE o.user_id = r.user_id AND o.status = %(approved)s
          AND o.id NOT IN (SELECT id FROM done)))
"""


# ------------------------------------------------------------------------------ warnings


def warning_sms_text(*, permission: str, menu: str, revoke_on: date,
                     months: int | None = None) -> str:
    return _(
        "[질병보건통합관리시스템] '%(perm)s' 권한을 %(date)s 전까지 사용하지 않으면 장기간"
        "(%(months)d개월 이상) 미사용으로 자동 미승인됩니다. 계속 사용하려면 그 전에 로그인하여 "
        "'%(menu)s' 메뉴를 이용하세요."
    ) % {"perm": permission, "menu": menu, "date": revoke_on.strftime("%Y-%m-%d"),
         "months": _months(months)}


def warn_before_revocation(
    *,
    as_of: date,
    warn_days: int,
    dry_run: bool = False,
    batch_size: int = 5000,
    months: int | None = None,
    lock: bool = True,
) -> int:
    """Queue one warning SMS per grant that becomes stale within `warn_days` days after
    `as_of` unless used; return how many grants were (or, dry, would be) warned.

    Once per grant and period: `Grant.warned_for` records the last-use day the warning was
    for, so the same period is never warned twice and a new use (a new `last_used_on`)
    starts a new period. Grants already stale are left to the revocation. Users without a
    valid mobile get no SMS, but their grant is still marked as warned.
    """
    if warn_days <= 0:
        return 0
    months = _months(months)
    not_stale_yet = ~_last_use_on_or_before(revocation_cutoff(as_of, months))
    stale_by_then = _last_use_on_or_before(
        revocation_cutoff(as_of + timedelta(days=warn_days), months)
    )
    due = (
        Grant.objects.filter(stale_by_then, not_stale_yet, status=Grant.Status.APPROVED,
                             permission_type_id__in=_revocable_type_ids())
        .annotate(effective_last_use=_effective_last_use())
        .filter(Q(warned_for__isnull=True) | ~Q(warned_for=F("effective_last_use")))
    )
    types = {pk: (name, label or name) for pk, name, label
             in PermissionType.objects.values_list("pk", "name", "menu_label")}
    warned = 0
    cursor = 0
    with _maybe_locked(lock and not dry_run) as held:
        while True:
            if held is not None and cursor:
                held.renew()
            with transaction.atomic():
                qs = due.filter(pk__gt=cursor).order_by("pk")
                if not dry_run:
                    qs = _lock_rows(qs)
                rows = list(qs.values_list("pk", "permission_type_id", "effective_last_use",
                                           "user__mobile")[:batch_size])
                if not rows:
                    break
                cursor = rows[-1][0]
                warned += len(rows)
                if dry_run:
                    continue
                messages = []
                for _pk, type_id, last_use, mobile in rows:
                    try:
                        number = normalize_mobile(mobile)
                    except InvalidPhoneNumber:
                        continue
                    name, menu = types[type_id]
                    messages.append(SmsMessage(to=number, text=warning_sms_text(
                        permission=name, menu=menu, months=months,
                        revoke_on=revocation_day(last_use, months))))
                SmsMessage.objects.bulk_create(messages)
                # The same conditions again: a row used meanwhile (SQLite: not locked) keeps
                # its new period unmarked.
                due.filter(pk__in=[row[0] for row in rows]).update(
                    warned_for=_effective_last_use()
                )
    return warned
