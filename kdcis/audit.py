"""The audit trail: the one place rows are appended, scrubbed and verified.

Every row is a link of one hash chain. Its `hash` is the SHA-256 of the previous row's hash
and the row's canonical content (`canonical_content`), its `seq` the next position. Appending
first updates the chain head (`AuditChain`, one row), which holds that row's lock until the
transaction ends (PostgreSQL; SQLite takes its database write lock), so two writers never
extend the same head: one waits for the other's commit and then links to its last row.

Rows are never rewritten except by scrubbing (a withdrawal drops network addresses): the
scrubbed row keeps its `hash` as the link, and a scrub record appended to the chain names it
and carries the digest of its new content, which is how verification accepts it.

The canonical content below is a stored format: changing it breaks every existing chain.
(kdcis/migrations/0006 holds a frozen copy, used to chain the rows written before it.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from kdcis.models import AuditChain, AuditEvent, AuditVerification

GENESIS = "0" * 64
SCRUB_ACTION = "audit.scrubbed"
SCRUB_TARGET = "kdcis.auditevent"
#: The fields the hash covers, in order (`actor` is left out: `actor_ref` names the actor and
#: the foreign key may be nulled by the database).
CONTENT_FIELDS = ("seq", "at", "actor_ref", "action", "target_type", "target_id",
                  "subject_ref", "old", "new", "reason", "ip")


def _ref(user) -> str:
    if user is None or not getattr(user, "pk", None):
        return ""
    return str(getattr(user, "ref", "") or user.pk)


# ------------------------------------------------------------------------- canonical form


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ip(value: str | None) -> str | None:
    # PostgreSQL's inet and Django's cleaning may spell one address differently.
    return str(ipaddress.ip_address(value)) if value else None


def canonical_content(seq, at, actor_ref, action, target_type, target_id, subject_ref, old,
                      new, reason, ip) -> bytes:
    """The bytes a row's hash covers: its fields as compact JSON with sorted keys."""
    return json.dumps(
        [seq, _utc(at), actor_ref or "", action, target_type, str(target_id), subject_ref or "",
         old or {}, new or {}, reason or "", _ip(ip)],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    ).encode()


def chain_hash(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\x1e" + content).hexdigest()


def row_hash(row: AuditEvent, prev_hash: str | None = None) -> str:
    """The hash `row` must carry for its current content."""
    content = canonical_content(*(getattr(row, name) for name in CONTENT_FIELDS))
    return chain_hash(row.prev_hash if prev_hash is None else prev_hash, content)


# ------------------------------------------------------------------------------ appending


def _head_table() -> str:
    return connection.ops.quote_name(AuditChain._meta.db_table)


def ensure_chain_head() -> None:
    """Create the head when it is missing (a fresh or flushed database): it continues the
    chain from its last row."""
    if AuditChain.objects.filter(pk=1).exists():
        return
    last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    seq, hash_ = last or (0, GENESIS)
    AuditChain.objects.bulk_create([AuditChain(pk=1, seq=seq, hash=hash_)],
                                   ignore_conflicts=True)


def _claim(count: int) -> tuple[int, str]:
    """Lock the head and reserve `count` positions: returns the seq and hash before them."""
    sql = f"UPDATE {_head_table()} SET seq = seq + %s WHERE id = 1 RETURNING seq, hash"
    with connection.cursor() as cursor:
        cursor.execute(sql, [count])
        row = cursor.fetchone()
        if row is None:
            ensure_chain_head()
            cursor.execute(sql, [count])
            row = cursor.fetchone()
    return row[0] - count, row[1]


def _set_head_hash(value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_head_table()} SET hash = %s WHERE id = 1", [value])


def append(rows: list[AuditEvent]) -> list[AuditEvent]:
    """Link `rows` (unsaved) to the end of the chain, in order, and insert them."""
    if not rows:
        return rows
    with transaction.atomic(savepoint=False):
        seq, prev = _claim(len(rows))
        now = timezone.now()
        for row in rows:
            seq += 1
            row.seq = seq
            row.at = row.at or now
            row.prev_hash = prev
            row.hash = prev = row_hash(row)
        AuditEvent.objects.bulk_create(rows)
        _set_head_hash(prev)
    return rows


def audit(**fields) -> AuditEvent:
    """Append one audit row (see `event` for the fields). Call inside the service's
    transaction.

    `subject` is the user the change concerns; only their pseudonymous reference is stored.
    Callers must not put names, IDs or phone numbers into `old`/`new`.
    """
    return append([event(**fields)])[0]


def event(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    subject=None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    reason: str = "",
    ip: str | None = None,
) -> AuditEvent:
    """One audit row, not yet written: give several to `append` to write them at once."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    actor_obj = actor if getattr(actor, "pk", None) else None
    return AuditEvent(
        actor=actor_obj,
        actor_ref=_ref(actor_obj),
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        subject_ref=_ref(subject),
        old=old or {},
        new=new or {},
        reason=reason,
        ip=ip,
    )


def audit_each(*, actor, action: str, subjects, target_type: str, target_id: str = "-",
               new: dict[str, Any] | None = None, ip: str | None = None) -> int:
    """One row per subject, written in one statement (a list the helpdesk was shown)."""
    rows = [event(actor=actor, action=action, target_type=target_type,
                  target_id=str(target_id), subject=subject, new=new, ip=ip)
            for subject in subjects]
    append(rows)
    return len(rows)


# ------------------------------------------------------------------------------ scrubbing


def scrub(*, rows: models.QuerySet[AuditEvent], change: Callable[[AuditEvent], list[str]],
          actor=None, reason: str) -> int:
    """Rewrite rows that must lose something (personal data), each with a scrub record.

    `change(row)` edits the row in memory and returns the names of the fields it changed
    (none: the row is left alone). Each changed row keeps its link (`hash`); the scrub record
    appended for it names it (target = its id, `new.seq`) and carries the digest of its new
    content, the one thing verification accepts in place of the original. Returns how many
    rows were scrubbed.
    """
    with transaction.atomic(savepoint=False):
        _claim(0)  # the head's lock first: scrubs and appends happen in one order
        changed: list[AuditEvent] = []
        records: list[AuditEvent] = []
        fields: set[str] = set()
        for row in rows.select_for_update().order_by("seq"):
            names = change(row)
            if not names:
                continue
            changed.append(row)
            fields.update(names)
            records.append(AuditEvent(
                actor=actor if getattr(actor, "pk", None) else None,
                actor_ref=_ref(actor), action=SCRUB_ACTION, target_type=SCRUB_TARGET,
                target_id=str(row.pk),
                new={"seq": row.seq, "content": row_hash(row), "fields": sorted(names)},
                reason=reason))
        if changed:
            AuditEvent.objects.bulk_update(changed, sorted(fields), batch_size=500)
            append(records)
    return len(changed)


# ---------------------------------------------------------------------------- verification


@dataclass
class ChainReport:
    ok: bool
    rows_checked: int
    head_seq: int
    head_hash: str
    bad_row_id: int | None = None
    bad_seq: int | None = None
    problem: str = ""


_WALK_FIELDS = ("id", *CONTENT_FIELDS, "prev_hash", "hash")


def _scrub_digests() -> dict[int, tuple[int, str]]:
    """Scrubbed row id → (seq of its latest scrub record, digest that record vouches for)."""
    vouched: dict[int, tuple[int, str]] = {}
    records = (AuditEvent.objects.filter(action=SCRUB_ACTION, target_type=SCRUB_TARGET)
               .order_by("seq").values_list("seq", "target_id", "new"))
    for seq, target_id, new in records.iterator(chunk_size=10000):
        if target_id.isdigit() and isinstance(new, dict):
            vouched[int(target_id)] = (seq, str(new.get("content", "")))
    return vouched


def _rows(chunk_size: int) -> Iterator[tuple]:
    return (AuditEvent.objects.order_by("seq").values_list(*_WALK_FIELDS)
            .iterator(chunk_size=chunk_size))


def verify_chain(*, chunk_size: int = 10000) -> ChainReport:
    """Walk the chain in `seq` order and report the first row that breaks it.

    A row breaks it when a position before it is missing (deleted), when it does not link to
    the row before (inserted out of order, or that row's hash was rewritten), or when its
    content does not give its hash and no later scrub record vouches for that content
    (altered). The head must point at the last row (rows cut from the end).
    """
    vouched = _scrub_digests()
    expected, prev, count, last_id = 1, GENESIS, 0, None

    def broken(row_id, seq, problem):
        return ChainReport(ok=False, rows_checked=count, head_seq=expected - 1,
                           head_hash=prev, bad_row_id=row_id, bad_seq=seq, problem=problem)

    for values in _rows(chunk_size):
        row_id, seq, *content = values[:12]
        prev_hash, stored = values[12], values[13]
        if seq != expected:
            if seq > expected:
                span = str(expected) if seq == expected + 1 else f"{expected}–{seq - 1}"
                return broken(row_id, seq, f"seq {span} missing before row {row_id} "
                                           f"(deleted)")
            return broken(row_id, seq, f"row {row_id} repeats seq {seq}")
        if prev_hash != prev:
            return broken(row_id, seq, f"row {row_id} (seq {seq}) does not link to the row "
                                       f"before it: inserted out of order, or the hash of "
                                       f"row {last_id} was rewritten")
        digest = chain_hash(prev_hash, canonical_content(seq, *content))
        if digest != stored:
            scrub_seq, vouched_digest = vouched.get(row_id, (0, ""))
            if not (scrub_seq > seq and vouched_digest == digest):
                return broken(row_id, seq, f"row {row_id} (seq {seq}) was altered: its content "
                                           f"does not match its hash")
        prev, expected, last_id = stored, seq + 1, row_id
        count += 1
    head = AuditChain.objects.filter(pk=1).values_list("seq", "hash").first()
    head_seq, head_hash = head or (0, GENESIS)
    if (head_seq, head_hash) != (expected - 1, prev):
        if head_seq > expected - 1:
            problem = (f"the chain ends at seq {expected - 1} but its head says {head_seq}: "
                       f"seq {expected}–{head_seq} deleted from the end")
        else:
            problem = (f"the chain head (seq {head_seq}) does not match its last row "
                       f"(seq {expected - 1}): rows appended outside the chain or head altered")
        return ChainReport(ok=False, rows_checked=count, head_seq=expected - 1, head_hash=prev,
                           bad_row_id=last_id, bad_seq=expected - 1, problem=problem)
    return ChainReport(ok=True, rows_checked=count, head_seq=head_seq, head_hash=head_hash)


def verification_record(*, report: ChainReport, started_at: dt.datetime) -> AuditVerification:
    """Keep a `verify_audit` run's result (the admin's reports page shows the last one)."""
    with transaction.atomic():
        return AuditVerification.objects.create(
            started_at=started_at, finished_at=timezone.now(), ok=report.ok,
            rows_checked=report.rows_checked, head_seq=report.head_seq,
            head_hash=report.head_hash, bad_row_id=report.bad_row_id, bad_seq=report.bad_seq,
            problem=report.problem)


def last_verification() -> AuditVerification | None:
    return AuditVerification.objects.order_by("-finished_at", "-id").first()
