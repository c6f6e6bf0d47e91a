"""How fast the nightly inactivity revocation is on 1,000,000 grants, against a naive loop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kdcis python benchmarks/bench_revocation.py

Needs a PostgreSQL server (DATABASE_URL names it; the database in the URL is not touched).
Creates the throwaway database ``kdcis_bench_revocation`` on that server, migrates it, loads
the reference data and builds, with ``INSERT ... SELECT generate_series``, 500,000 users each
holding two approved grants ('예방접종관리 User', revocable, and '교육관리 User(학습자)', not
revocable): 1,000,000 grants, of which 100,000 are stale on the run date. Then:

1. runs ``revoke_inactive`` as the nightly command does (batches of 5,000, one set-based
   statement each) and prints its time and the process's resident memory after each batch
   (flat = no growth from the first batch to the last);
2. puts the 100,000 grants back and runs it again under ``tracemalloc`` for the Python heap
   peak (that run is slower because of the tracing; its time is not the figure);
3. twice puts 10,000 grants back and revokes them with a naive per-grant ORM loop (save(),
   audit(), send_sms(); first as written, in autocommit, then with one transaction per
   grant; the immediate SMS delivery switched off so both sides only write the outbox) and
   prints the per-grant ratios. The goal is checked against the loop as written;
4. for information, times the warnings of the same night (``warn_before_revocation``).

Drops the database at the end, also after a failure; with ``--keep`` it keeps it and the
next ``--keep`` run reuses it (migrating it and putting the grants back instead of building).
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "kdcis_bench_revocation"
USERS = 500_000
STALE = 100_000  # every fifth user's vaccination grant
NAIVE_SAMPLE = 10_000
BATCH_SIZE = 5_000
AS_OF = date(2026, 5, 15)
GOAL_SECONDS = 30
GOAL_RATIO = 50
FLAT_MEMORY_MB = 32  # growth allowed between the first and the last batch


def _admin_connection(url: str):
    """Autocommit connection to the server's maintenance database (not the URL's database,
    which need not exist)."""
    import psycopg2

    parts = urlsplit(url)
    for dbname in ("postgres", parts.path.lstrip("/") or "postgres"):
        try:
            conn = psycopg2.connect(
                host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                user=parts.username or "postgres", password=parts.password, dbname=dbname,
            )
        except psycopg2.OperationalError:
            continue
        conn.autocommit = True
        return conn
    raise SystemExit(f"cannot connect to the PostgreSQL server of {url!r}")


def _drop(admin) -> None:
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", [BENCH_DB])
        cursor.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _step(label: str):
    print(f"  {label} ...", end="", flush=True)
    return time.perf_counter()


def _done(started: float) -> float:
    elapsed = time.perf_counter() - started
    print(f" {elapsed:.1f} s", flush=True)
    return elapsed


def build(cursor, *, vaccination: int, education: int, health_center: int, central: int,
          stale_day: date) -> None:
    """500,000 users and 1,000,000 approved grants, 100,000 of them stale on AS_OF."""
    started = _step(f"{USERS:,} users")
    cursor.execute(
        """
        INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name,
            email, is_staff, is_active, date_joined, ref, name, status, mobile, office_phone,
            is_helpdesk)
        SELECT '', false, 'bench' || n, '', '', '', false, true, now(), gen_random_uuid(),
            '사용자' || n, 'active', '010' || lpad(n::text, 8, '0'), '', false
        FROM generate_series(1, %s) AS n
        """, [USERS])
    _done(started)
    started = _step(f"{2 * USERS:,} grants ({STALE:,} stale)")
    # Fresh grants were used within the last 80 days; every fifth user's vaccination grant
    # was last used on `stale_day` or, for one in ten of those, never since an approval then.
    cursor.execute(
        """
        INSERT INTO permissions_grant (user_id, permission_type_id, body_id, status,
            requested_at, decided_at, reason, last_used_on)
        SELECT u.id, t.type_id, t.body_id, 'approved',
            timestamptz '2025-06-01 09:00+09', decided.at, '',
            CASE WHEN stale AND u.id %% 10 = 0 THEN NULL
                 WHEN stale THEN %(stale_day)s::date
                 ELSE %(as_of)s::date - 1 - (u.id %% 80)::int END
        FROM accounts_user u
        CROSS JOIN (VALUES (%(vaccination)s, %(health_center)s),
                           (%(education)s, %(central)s)) AS t(type_id, body_id)
        CROSS JOIN LATERAL (SELECT t.type_id = %(vaccination)s AND u.id %% 5 = 0 AS stale)
            AS s
        CROSS JOIN LATERAL (SELECT CASE WHEN stale THEN (%(stale_day)s::date
            + time '10:00') AT TIME ZONE 'Asia/Seoul'
            ELSE timestamptz '2025-06-02 10:00+09' END AS at) AS decided
        WHERE u.username LIKE 'bench%%'
        """,
        {"vaccination": vaccination, "education": education, "health_center": health_center,
         "central": central, "stale_day": stale_day, "as_of": AS_OF})
    _done(started)
    started = _step("VACUUM ANALYZE")
    cursor.execute("VACUUM ANALYZE accounts_user")
    cursor.execute("VACUUM ANALYZE permissions_grant")
    _done(started)


def restore(cursor, *, limit: int | None = None) -> int:
    """Put revoked grants back to approved and forget the job's audit rows and SMS."""
    where = "status = 'revoked'"
    if limit is not None:
        # ARRAY(...) is evaluated once; `id IN (SELECT ... LIMIT n)` was planned as a loop
        # re-running the subquery and took minutes.
        where += f" AND id = ANY(ARRAY(SELECT id FROM permissions_grant WHERE status = " \
                 f"'revoked' ORDER BY id LIMIT {int(limit)}))"
    cursor.execute(f"UPDATE permissions_grant SET status = 'approved', revoked_at = NULL, "
                   f"reason = '' WHERE {where}")
    count = cursor.rowcount
    cursor.execute("UPDATE permissions_grant SET warned_for = NULL WHERE warned_for IS NOT NULL")
    cursor.execute("DELETE FROM kdcis_auditevent WHERE action = 'grant.revoked'")
    cursor.execute("DELETE FROM kdcis_smsmessage")
    cursor.execute("VACUUM ANALYZE permissions_grant")
    return count


def naive_loop(as_of: date, *, per_grant_transaction: bool) -> tuple[int, float]:
    """The obvious per-grant version: for each stale grant, save(), audit(), send_sms().

    Without `per_grant_transaction` it is the loop exactly as one would first write it
    (autocommit: each of the three writes commits on its own); with it, each grant is one
    transaction, as calling a per-grant service would be.
    """
    from contextlib import nullcontext

    from django.db import transaction
    from django.utils import timezone

    import kdcis.sms
    from kdcis.audit import audit
    from kdcis.sms import send_sms
    from permissions.models import Grant
    from permissions.revocation import (
        revocation_reason_text,
        revocation_sms_text,
        stale_grants,
    )

    # Same work on both sides: write the outbox row, deliver later.
    kdcis.sms._deliver_after_commit = lambda message_id: None
    reason = revocation_reason_text()
    started = time.perf_counter()
    count = 0
    grants = stale_grants(as_of=as_of).select_related("user", "permission_type").order_by("pk")
    for grant in grants.iterator(chunk_size=2000):
        with transaction.atomic() if per_grant_transaction else nullcontext():
            grant.status = Grant.Status.REVOKED
            grant.revoked_at = timezone.now()
            grant.reason = reason
            grant.save()
            audit(actor=None, action="grant.revoked", target=grant, subject=grant.user,
                  old={"status": "approved"}, new={"status": "revoked"}, reason="inactivity")
            send_sms(to=grant.user.mobile, text=revocation_sms_text([grant.permission_type.name]))
        count += 1
    return count, time.perf_counter() - started


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true",
                        help="keep the database afterwards and reuse a kept one (skips the "
                             "build: for measuring changes to the job)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL server, e.g. "
              "postgres://postgres@127.0.0.1:5432/kdcis", file=sys.stderr)
        return 2
    admin = _admin_connection(url)
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB])
        reuse = args.keep and cursor.fetchone() is not None
    if not reuse:
        _drop(admin)
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{BENCH_DB}"')
    parts = urlsplit(url)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{BENCH_DB}"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "kdcis.settings"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789abcdef0123456789")
    os.environ["DEBUG"] = "false"
    os.environ["SMS_BACKEND"] = "console"
    os.environ["DB_CONN_MAX_AGE"] = "0"
    try:
        return run(reuse=reuse)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept the database {BENCH_DB} (drop it with: dropdb {BENCH_DB})")
        else:
            _drop(admin)
            print(f"dropped the database {BENCH_DB}")
        admin.close()


def _build_database() -> None:
    from django.core.management import call_command
    from django.db import connection

    from institutions.models import ApprovingBody
    from permissions.models import PermissionType
    from permissions.revocation import revocation_cutoff

    print(f"Setting up {BENCH_DB}:")
    started = _step("migrate + reference data")
    devnull = open(os.devnull, "w")
    call_command("migrate", verbosity=0, stdout=devnull)
    call_command("load_reference_data", verbosity=0, stdout=devnull)
    _done(started)
    stale_day = revocation_cutoff(AS_OF) - timedelta(days=3)
    with connection.cursor() as cursor:
        build(
            cursor,
            vaccination=PermissionType.objects.get(code="vaccination_user").pk,
            education=PermissionType.objects.get(code="education_learner").pk,
            health_center=ApprovingBody.objects.get(code="HC-11110-1").pk,
            central=ApprovingBody.objects.get(kind="central").pk,
            stale_day=stale_day,
        )


def run(*, reuse: bool) -> int:
    import logging

    import django

    django.setup()
    logging.getLogger("kdcis.sms").setLevel(logging.WARNING)
    from django.db import connection

    from permissions.revocation import RevocationReport, revoke_inactive

    if reuse:
        print(f"Reusing the kept database {BENCH_DB}:")
        started = _step("migrations + putting revoked grants back")
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        with connection.cursor() as cursor:
            restore(cursor)
            cursor.execute("VACUUM ANALYZE kdcis_auditevent")
            cursor.execute("VACUUM ANALYZE kdcis_smsmessage")
        _done(started)
    else:
        _build_database()
    connection.close()

    # 1. The job, untraced: time and resident memory after each batch.
    rss: list[float] = []

    def sample(report: RevocationReport) -> None:
        rss.append(_rss_mb())

    print(f"\n1. revoke_inactive(as_of={AS_OF}, batch_size={BATCH_SIZE}) "
          "as the nightly command runs it:")
    rss_before, maxrss_before = _rss_mb(), _maxrss_mb()
    started = time.perf_counter()
    report = revoke_inactive(as_of=AS_OF, batch_size=BATCH_SIZE, progress=sample)
    elapsed = time.perf_counter() - started
    maxrss_delta = _maxrss_mb() - maxrss_before
    assert report.grants_revoked == STALE, report
    growth = max(rss) - rss[0]
    print(f"  {report.summary()} in {report.batches} batches")
    print(f"  time: {elapsed:.2f} s  (goal <= {GOAL_SECONDS} s: "
          f"{'met' if elapsed <= GOAL_SECONDS else 'MISSED'})")
    print(f"  resident memory: {rss_before:.0f} MB before, {rss[0]:.0f} MB after batch 1, "
          f"{max(rss):.0f} MB at most, {rss[-1]:.0f} MB after batch {len(rss)}; peak RSS grew "
          f"{maxrss_delta:.0f} MB during the run")
    print(f"  flat memory (growth from batch 1 to the end {growth:.1f} MB, goal < "
          f"{FLAT_MEMORY_MB} MB): {'met' if growth < FLAT_MEMORY_MB else 'MISSED'}")

    # 2. The same run again under tracemalloc: the Python heap's peak.
    with connection.cursor() as cursor:
        restored = restore(cursor)
    assert restored == STALE, restored
    print("\n2. the same run under tracemalloc (slower; for the heap peak only):")
    tracemalloc.start()
    traced = revoke_inactive(as_of=AS_OF, batch_size=BATCH_SIZE)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert traced.grants_revoked == STALE
    print(f"  Python heap peak: {peak / 2**20:.1f} MB for {STALE:,} grants "
          f"(one batch of {BATCH_SIZE:,} at a time)")

    # 3. The naive loops on samples.
    per_set = elapsed / report.grants_revoked
    ratios = {}
    for label, per_grant_transaction in (("as written (autocommit)", False),
                                         ("one transaction per grant", True)):
        with connection.cursor() as cursor:
            restored = restore(cursor, limit=NAIVE_SAMPLE)
        assert restored == NAIVE_SAMPLE, restored
        print(f"\n3. naive per-grant ORM loop, {label}, on {NAIVE_SAMPLE:,} grants:")
        count, naive_elapsed = naive_loop(AS_OF, per_grant_transaction=per_grant_transaction)
        assert count == NAIVE_SAMPLE, count
        per_naive = naive_elapsed / count
        ratios[label] = per_naive / per_set
        print(f"  naive: {naive_elapsed:.2f} s, {per_naive * 1000:.3f} ms per grant; "
              f"set-based: {per_set * 1000:.4f} ms per grant, ratio {ratios[label]:.0f}x")
    ratio = ratios["as written (autocommit)"]
    strict = ratios["one transaction per grant"]
    print(f"  ratio against the loop as written: {ratio:.0f}x  (goal >= {GOAL_RATIO}x: "
          f"{'met' if ratio >= GOAL_RATIO else 'MISSED'}); against one transaction per "
          f"grant: {strict:.0f}x")

    # 4. For information: the warnings of the same night.
    from permissions.revocation import warn_before_revocation

    print(f"\n4. warn_before_revocation(as_of={AS_OF}, warn_days=14):")
    started = time.perf_counter()
    warned = warn_before_revocation(as_of=AS_OF, warn_days=14)
    print(f"  warned {warned:,} grants in {time.perf_counter() - started:.2f} s")

    print("\nSummary:")
    print(f"  revoke {STALE:,} of {2 * USERS:,} grants: {elapsed:.2f} s "
          f"(goal <= {GOAL_SECONDS} s)")
    print(f"  memory: +{growth:.1f} MB RSS from batch 1 to {len(rss)}, heap peak "
          f"{peak / 2**20:.1f} MB (goal: flat)")
    print(f"  speed-up against the naive loop: {ratio:.0f}x as written, {strict:.0f}x with one "
          f"transaction per grant (goal >= {GOAL_RATIO}x)")
    met = elapsed <= GOAL_SECONDS and growth < FLAT_MEMORY_MB and ratio >= GOAL_RATIO
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
