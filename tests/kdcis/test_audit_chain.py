"""The tamper-evident audit trail: one hash chain, appended under a lock, verified nightly."""

from __future__ import annotations

import datetime as dt
import importlib
import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from kdcis.audit import (
    GENESIS,
    SCRUB_ACTION,
    audit,
    audit_each,
    chain_hash,
    row_hash,
    scrub,
    verify_chain,
)
from kdcis.models import AuditChain, AuditEvent, AuditVerification
from tests.concurrency import at_once

pytestmark = pytest.mark.django_db



def _write(n: int = 5) -> list[AuditEvent]:
    return [audit(actor=None, action="test.event", target_type="test", target_id=str(i),
                  new={"i": i, "이름": "값"}, reason="테스트", ip="127.0.0.1")
            for i in range(n)]


def _verify() -> tuple[int, str]:
    """Run `manage.py verify_audit`: (0 or 1, its output or error)."""
    out = io.StringIO()
    try:
        call_command("verify_audit", stdout=out)
    except CommandError as exc:
        return 1, str(exc)
    return 0, out.getvalue()


def _sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


TABLE = AuditEvent._meta.db_table


def test_each_row_links_to_the_one_before_in_one_numbered_chain():
    rows = _write(3) + [AuditEvent.objects.get(pk=r.pk) for r in _write(2)]
    audit_each(actor=None, action="test.listed", subjects=[None, None], target_type="test")
    chain = list(AuditEvent.objects.order_by("seq"))
    assert [r.seq for r in chain] == list(range(1, len(chain) + 1)) and len(rows) == 5
    assert chain[0].prev_hash == GENESIS
    for before, row in zip(chain, chain[1:], strict=False):
        assert row.prev_hash == before.hash
    assert all(row_hash(r) == r.hash for r in chain)  # as read back from the database
    head = AuditChain.objects.get()
    assert (head.seq, head.hash) == (chain[-1].seq, chain[-1].hash)
    assert verify_chain().ok


def test_verify_audit_passes_an_intact_chain_and_records_the_result():
    _write(4)
    code, output = _verify()
    assert code == 0 and "audit chain intact: 4 rows" in output
    result = AuditVerification.objects.get()
    assert result.ok and result.rows_checked == 4 and result.head_seq == 4


def test_a_row_altered_in_place_is_named():
    rows = _write(5)
    _sql(f"UPDATE {TABLE} SET reason = %s WHERE id = %s", ["다른 사유", rows[2].pk])
    code, message = _verify()
    assert code == 1
    assert f"row {rows[2].pk} (seq {rows[2].seq}) was altered" in message
    result = AuditVerification.objects.get()
    assert not result.ok and result.bad_row_id == rows[2].pk and result.bad_seq == 3


def test_an_altered_json_value_is_named():
    rows = _write(3)
    _sql(f"UPDATE {TABLE} SET new = %s WHERE id = %s", ['{"i": 99}', rows[0].pk])
    code, message = _verify()
    assert code == 1 and f"row {rows[0].pk} (seq 1) was altered" in message


def test_a_rewritten_hash_shows_as_a_broken_link():
    rows = _write(4)
    forged = AuditEvent.objects.get(pk=rows[1].pk)
    forged.reason = "조작"
    _sql(f"UPDATE {TABLE} SET reason = %s, hash = %s WHERE id = %s",
         ["조작", row_hash(forged), rows[1].pk])
    code, message = _verify()
    assert code == 1
    assert f"row {rows[2].pk} (seq 3) does not link" in message
    assert f"hash of row {rows[1].pk} was rewritten" in message


def test_a_deleted_row_is_named():
    rows = _write(5)
    _sql(f"DELETE FROM {TABLE} WHERE id = %s", [rows[1].pk])
    code, message = _verify()
    assert code == 1 and f"seq 2 missing before row {rows[2].pk} (deleted)" in message
    assert AuditVerification.objects.get().bad_row_id == rows[2].pk


def test_rows_cut_from_the_end_are_found_by_the_head():
    rows = _write(5)
    _sql(f"DELETE FROM {TABLE} WHERE seq >= 4")
    code, message = _verify()
    assert code == 1 and "seq 4–5 deleted from the end" in message
    assert AuditVerification.objects.get().bad_row_id == rows[2].pk


def test_a_row_inserted_out_of_order_is_named():
    rows = _write(4)
    # A row claiming the next position but linked to an older row: a fork or a back-dated
    # insert that did not go through the chain head.
    stray = AuditEvent(action="test.stray", target_type="test", target_id="x", seq=5,
                       prev_hash=rows[1].hash, at=rows[1].at + dt.timedelta(seconds=1))
    stray.hash = row_hash(stray)
    AuditEvent.objects.bulk_create([stray])
    code, message = _verify()
    assert code == 1 and f"row {stray.pk} (seq 5) does not link to the row before" in message
    assert "inserted out of order" in message


def test_a_well_formed_row_appended_behind_the_heads_back_is_found():
    rows = _write(2)
    stray = AuditEvent(action="test.stray", target_type="test", target_id="x", seq=3,
                       prev_hash=rows[-1].hash)
    stray.at = rows[-1].at
    stray.hash = row_hash(stray)
    AuditEvent.objects.bulk_create([stray])
    code, message = _verify()
    assert code == 1 and "rows appended outside the chain" in message


def test_a_scrub_appends_a_record_and_the_chain_still_verifies():
    rows = _write(3)

    def drop_ip(row):
        row.ip = None
        return ["ip"]

    with transaction.atomic():
        done = scrub(rows=AuditEvent.objects.filter(pk__in=[rows[0].pk, rows[2].pk]),
                     change=drop_ip, reason="test")
    assert done == 2
    assert AuditEvent.objects.get(pk=rows[0].pk).ip is None
    records = list(AuditEvent.objects.filter(action=SCRUB_ACTION).order_by("seq"))
    assert [r.target_id for r in records] == [str(rows[0].pk), str(rows[2].pk)]
    assert records[0].new["seq"] == rows[0].seq and records[0].new["fields"] == ["ip"]
    assert AuditEvent.objects.get(pk=rows[0].pk).hash == rows[0].hash  # the link is kept
    assert _verify()[0] == 0


def test_a_scrub_without_its_record_is_an_alteration():
    rows = _write(3)
    _sql(f"UPDATE {TABLE} SET ip = NULL WHERE id = %s", [rows[1].pk])
    code, message = _verify()
    assert code == 1 and f"row {rows[1].pk} (seq 2) was altered" in message


def test_a_scrub_record_vouches_only_for_the_content_it_names():
    rows = _write(3)

    def drop_ip(row):
        row.ip = None
        return ["ip"]

    scrub(rows=AuditEvent.objects.filter(pk=rows[1].pk), change=drop_ip, reason="test")
    _sql(f"UPDATE {TABLE} SET reason = %s WHERE id = %s", ["바뀐 사유", rows[1].pk])
    code, message = _verify()
    assert code == 1 and f"row {rows[1].pk} (seq 2) was altered" in message


def test_a_withdrawal_scrubs_addresses_through_scrub_records(personas):
    from accounts.services import account_withdraw, login_recorded

    login_recorded(user=personas.alice, ip="203.0.113.7")
    account_withdraw(user=personas.alice, ip="203.0.113.7")
    assert not AuditEvent.objects.filter(ip="203.0.113.7").exists()
    assert AuditEvent.objects.filter(action=SCRUB_ACTION).exists()
    assert _verify()[0] == 0


def test_the_data_migration_chains_existing_rows_in_the_order_written():
    migration = importlib.import_module("kdcis.migrations.0007_audit_hash_chain")
    rows = _write(4)
    # Rows as they were before the chain: positions and hashes not yet meaningful.
    _sql(f"UPDATE {TABLE} SET seq = seq + 1000000, prev_hash = %s, hash = %s",
         [GENESIS, GENESIS])
    AuditChain.objects.all().delete()
    migration.chain_rows(apps, None)
    chain = list(AuditEvent.objects.order_by("seq"))
    assert [r.pk for r in chain] == [r.pk for r in rows]
    assert [r.seq for r in chain] == [1, 2, 3, 4]
    assert verify_chain().ok
    audit(actor=None, action="test.after", target_type="test")  # the chain continues
    assert verify_chain().ok


def test_the_canonical_form_covers_every_content_field():
    (row,) = _write(1)
    original = row.hash
    for field, value in (("actor_ref", "x"), ("action", "y"), ("target_type", "z"),
                         ("target_id", "9"), ("subject_ref", "s"), ("old", {"a": 1}),
                         ("new", {"i": 1}), ("reason", "r"), ("ip", "10.0.0.1"),
                         ("at", row.at + dt.timedelta(microseconds=1)), ("seq", 2)):
        changed = AuditEvent.objects.get(pk=row.pk)
        setattr(changed, field, value)
        assert row_hash(changed) != original, field
    assert chain_hash(GENESIS, b"") != chain_hash(GENESIS, b" ")


def test_rows_cannot_skip_the_chain():
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.create(action="test.bypass", target_type="test")


# --------------------------------------------------------------------------- concurrency


def _in_threads(target, count: int) -> list:
    return at_once(target, count)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_writers_never_fork_the_chain():
    def writer(i):
        for j in range(10):
            with transaction.atomic():
                audit(actor=None, action="test.concurrent", target_type="writer",
                      target_id=f"{i}-{j}")
                if j % 3 == 0:
                    audit_each(actor=None, action="test.listed", subjects=[None, None],
                               target_type="writer", target_id=f"{i}-{j}")
        return True

    results = _in_threads(writer, 20)
    assert results == [True] * 20, results
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", "prev_hash"))
    assert [s for s, _ in seqs] == list(range(1, 20 * (10 + 2 * 4) + 1))
    assert len({prev for _, prev in seqs}) == len(seqs)  # no two rows share a parent
    report = verify_chain()
    assert report.ok, report.problem


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_writer_that_rolls_back_leaves_no_gap():
    def writer(i):
        if i % 2:
            try:
                with transaction.atomic():
                    audit(actor=None, action="test.rolled_back", target_type="writer")
                    raise RuntimeError("rolled back")
            except RuntimeError:
                return "rolled back"
        audit(actor=None, action="test.kept", target_type="writer", target_id=str(i))
        return "kept"

    results = _in_threads(writer, 10)
    assert results.count("kept") == 5
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [
        1, 2, 3, 4, 5]
    assert verify_chain().ok


# ------------------------------------------------------------------- the revocation's SQL


@pytest.mark.postgres
def test_the_revocations_sql_rows_are_chained_like_the_ones_python_writes(reference_data):
    from permissions import revocation
    from tests.permissions.test_revocation import AS_OF, World

    world = World()
    old = dt.date(2025, 12, 1)
    by_sql = world.grant(world.user(), last_used_on=old)
    by_python = world.grant(world.user(), last_used_on=old)
    audit(actor=None, action="test.before", target_type="test")
    run = revocation._Run(
        stale=revocation.stale_grants(as_of=AS_OF).filter(pk=by_python.pk),
        reason=revocation.revocation_reason_text(), months=3,
        type_names={world.vaccination.pk: world.vaccination.name}, on_item=None)
    report = revocation.RevocationReport(as_of=AS_OF, cutoff=AS_OF, dry_run=False)
    revocation._revoke_batches(report, run, batch_size=10, dry_run=False, in_sql=False,
                               progress=None)
    assert report.grants_revoked == 1
    assert revocation.revoke_inactive(as_of=AS_OF).grants_revoked == 1  # the SQL path
    sql_row = AuditEvent.objects.get(action="grant.revoked", target_id=str(by_sql.pk))
    py_row = AuditEvent.objects.get(action="grant.revoked", target_id=str(by_python.pk))
    shape = ("actor_id", "actor_ref", "action", "target_type", "old", "new", "reason", "ip")
    assert {f: getattr(sql_row, f) for f in shape} == {f: getattr(py_row, f) for f in shape}
    assert sql_row.subject_ref == str(by_sql.user.ref)
    assert py_row.subject_ref == str(by_python.user.ref)
    assert sql_row.seq == py_row.seq + 1 and sql_row.prev_hash == py_row.hash
    assert row_hash(sql_row) == sql_row.hash
    assert AuditChain.objects.get().hash == sql_row.hash
    assert verify_chain().ok

