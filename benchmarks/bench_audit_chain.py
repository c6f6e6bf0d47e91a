"""What the audit trail's hash chain costs: appending under load, and verifying 1,000,000 rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kdcis python benchmarks/bench_audit_chain.py

Needs a PostgreSQL server (DATABASE_URL names it; the database in the URL is not touched).
Creates the throwaway database ``kdcis_bench_audit``, migrates it, then:

1. Appending: 20 threads (own connections) each write ROWS_PER_WRITER audit rows, one
   transaction per row as services do, through ``kdcis.audit.audit`` (chain head locked,
   hash computed, head updated). Side by side in alternating rounds, the same 20 threads
   insert rows of the same shape into a copy of the table with no chain (a plain INSERT,
   what an audit row cost before), and one thread appends chained rows alone. Prints rows/s
   of each and the median of the per-round ratios; checks the chain after every round.
2. Verifying: fills the trail to 1,000,000 rows (hashed with kdcis.audit's canonical form,
   written with COPY), and times ``verify_chain`` against a plain read of the same rows in
   the same order (what the walk costs beyond fetching).

Drops the database at the end, also after a failure (``--keep`` keeps it);
``--verify-only`` skips part 1.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.support import setup_django, throwaway_database  # noqa: E402

WRITERS = 20
ROWS_PER_WRITER = 100
ROUNDS = 3
VERIFY_ROWS = 1_000_000
SEAL_SLICE = 50_000


def _threads(count: int, target) -> float:
    """Run target(i) in `count` threads started together; seconds until the last ends."""
    from django.db import connection

    barrier = threading.Barrier(count + 1)
    errors: list[BaseException] = []

    def run(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def _chained_writer(i: int) -> None:
    from kdcis.audit import audit

    for j in range(ROWS_PER_WRITER):
        audit(actor=None, action="bench.append", target_type="bench", target_id=f"{i}-{j}",
              subject=None, new={"status": "approved"}, reason="bench", ip="10.0.0.1")


def _plain_writer(i: int) -> None:
    from django.db import connection
    from django.utils import timezone

    for j in range(ROWS_PER_WRITER):
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_plain_audit (at, actor_ref, action, target_type, target_id,"
                " subject_ref, old, new, reason, ip) VALUES (%s, '', 'bench.append', 'bench',"
                " %s, '', '{}', '{\"status\": \"approved\"}', 'bench', '10.0.0.1')",
                [timezone.now(), f"{i}-{j}"])


def bench_append() -> None:
    from django.db import connection

    from kdcis.audit import verify_chain

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_plain_audit (id bigserial PRIMARY KEY, "
                       "at timestamptz NOT NULL, actor_ref varchar(64), action varchar(64), "
                       "target_type varchar(64), target_id varchar(64), "
                       "subject_ref varchar(64), old jsonb, new jsonb, reason text, ip inet)")
        cursor.execute("CREATE INDEX ON bench_plain_audit (action)")
        cursor.execute("CREATE INDEX ON bench_plain_audit (subject_ref)")
        cursor.execute("CREATE INDEX ON bench_plain_audit (at)")
    rows = WRITERS * ROWS_PER_WRITER
    plain, chained, alone, ratios = [], [], [], []
    print(f"appending: {WRITERS} writers x {ROWS_PER_WRITER} rows, one transaction per row, "
          f"{ROUNDS} alternating rounds")
    for round_ in range(1, ROUNDS + 1):
        plain_s = _threads(WRITERS, _plain_writer)
        chained_s = _threads(WRITERS, _chained_writer)
        alone_s = _threads(1, lambda i: [_chained_writer(k) for k in range(WRITERS)])
        report = verify_chain()
        assert report.ok, report.problem
        plain.append(rows / plain_s)
        chained.append(rows / chained_s)
        alone.append(rows / alone_s)
        ratios.append(chained[-1] / plain[-1])
        print(f"  round {round_}: plain {plain[-1]:,.0f} rows/s, chained {chained[-1]:,.0f} "
              f"rows/s (x{ratios[-1]:.2f} of plain), one chained writer alone "
              f"{alone[-1]:,.0f} rows/s; chain intact ({report.rows_checked:,} rows)")
    print(f"  median: chained with {WRITERS} writers {statistics.median(chained):,.0f} rows/s"
          f" = x{statistics.median(ratios):.2f} of unchained inserts "
          f"({statistics.median(plain):,.0f} rows/s); x"
          f"{statistics.median(chained) / statistics.median(alone):.2f} of one writer alone")


def _fill(total: int) -> None:
    """Fill the trail to `total` rows, chained as kdcis.audit chains them (hashes computed
    with its canonical form before the rows are written, then COPY in slices)."""
    import datetime as dt
    import io
    import json

    from django.db import connection, transaction
    from django.utils import timezone

    from kdcis.audit import canonical_content, chain_hash, ensure_chain_head
    from kdcis.models import AuditChain, AuditEvent

    ensure_chain_head()
    head = AuditChain.objects.get()
    seq, prev = head.seq, head.hash
    if total <= seq:
        return
    began = time.perf_counter()
    base = timezone.now() - dt.timedelta(seconds=total)
    columns = ("at", "actor_ref", "action", "target_type", "target_id", "subject_ref", "old",
               "new", "reason", "ip", "seq", "prev_hash", "hash")
    while seq < total:
        buffer = io.StringIO()
        for _ in range(min(SEAL_SLICE, total - seq)):
            seq += 1
            at = base + dt.timedelta(seconds=seq)
            old = {"status": "approved", "last_used_on": "2026-01-01"}
            new = {"status": "revoked"}
            ip = "10.0.0.1" if seq % 10 == 0 else None
            fields = (seq, at, "", "grant.revoked", "permissions.grant", str(seq),
                      f"ref-{seq:07d}", old, new, "inactivity", ip)
            digest = chain_hash(prev, canonical_content(*fields))
            buffer.write("\t".join([
                at.isoformat(), "", "grant.revoked", "permissions.grant", str(seq),
                f"ref-{seq:07d}", json.dumps(old), json.dumps(new), "inactivity",
                ip or "\\N", str(seq), prev, digest]) + "\n")
            prev = digest
        buffer.seek(0)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.copy_from(buffer, AuditEvent._meta.db_table, columns=columns)
            AuditChain.objects.filter(pk=1).update(seq=seq, hash=prev)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {AuditEvent._meta.db_table}")
    print(f"filled to {total:,} rows (chained in Python, COPY): "
          f"{time.perf_counter() - began:.1f} s")


def bench_verify() -> None:
    from kdcis.audit import _WALK_FIELDS, verify_chain
    from kdcis.models import AuditEvent

    _fill(VERIFY_ROWS)
    scans, walks = [], []
    for round_ in range(1, 3):
        began = time.perf_counter()
        count = sum(1 for _ in AuditEvent.objects.order_by("seq").values_list(*_WALK_FIELDS)
                    .iterator(chunk_size=10000))
        scans.append(time.perf_counter() - began)
        began = time.perf_counter()
        report = verify_chain()
        walks.append(time.perf_counter() - began)
        assert report.ok and report.rows_checked == count, report
        print(f"  round {round_}: read {count:,} rows {scans[-1]:.1f} s; verify_chain "
              f"{walks[-1]:.1f} s ({count / walks[-1]:,.0f} rows/s, x{walks[-1] / scans[-1]:.2f}"
              " of the plain read)")
    print(f"verifying {report.rows_checked:,} rows: {min(walks):.1f} s best "
          f"({report.rows_checked / min(walks):,.0f} rows/s), "
          f"x{statistics.median(w / s for w, s in zip(walks, scans, strict=True)):.2f} of "
          "reading the same rows without hashing")


def main() -> None:
    keep = "--keep" in sys.argv
    with throwaway_database("kdcis_bench_audit") as url:
        setup_django(url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if "--verify-only" not in sys.argv:
            bench_append()
        bench_verify()
        if keep:
            input("--keep: press Enter to drop the database")


if __name__ == "__main__":
    main()
