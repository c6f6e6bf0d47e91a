"""What the busiest signed-in pages cost in-process: milliseconds and queries per page.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \
        benchmarks/bench_pages.py [--requests 5000] [--repeat 30] [--profile PATH]

Builds a throwaway PostgreSQL database with the reference data and the demo personas, then
gives 종로구보건소 (jongno01's body) `--requests` pending requests from as many applicants, all
named 김…, so the helpdesk's name search has many hits too. Each page is requested through
Django's test client (the whole middleware stack, no HTTP server) `--repeat` times after a
warm-up; printed are the median and the fastest wall time, the median CPU time of this
process (the Django side; the database server's time is in the wall time only) and the
queries of one request. With `--profile`,
ten requests of each page are profiled with pyinstrument (`pip install pyinstrument`) and
the text reports are written under PATH. `--keep` keeps the database and reuses a kept one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import DEFAULT_SERVER, setup_django, throwaway_database  # noqa: E402

DATABASE = "kdcis_bench_pages"

PAGES = [
    ("jongno01", "/approvals/"),
    ("jongno01", "/approvals/?status=all"),
    ("jongno01", "/approvals/?after={deep}"),  # a page near the end of the queue
    ("clinic01", "/permissions/"),
    ("clinic01", "/permissions/?status=requestable"),
    ("picker01", "/permissions/?status=requestable"),
    ("clinic01", "/vaccination/institution-info/"),
    ("help01", "/helpdesk/?q=김"),
    ("help01", "/helpdesk/?q=김1"),
]


def build(requests: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from institutions.models import ApprovingBody, Institution
    from permissions.models import PermissionType

    call_command("migrate", verbosity=0)
    call_command("load_reference_data", verbosity=0)
    call_command("load_demo_data", verbosity=0)
    body = ApprovingBody.objects.get(code="HC-11110-1")
    inst_ids = list(Institution.objects.filter(jurisdiction=body).values_list("id", flat=True))
    ptype = PermissionType.objects.get(code="vaccination_user")
    with connection.cursor() as cur:
        cur.execute("""
            INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name,
                email, is_staff, is_active, date_joined, ref, name, status, institution_id,
                mobile, office_phone, is_helpdesk)
            SELECT '!', false, 'q' || g, '', '', '', false, true, now(), md5(g::text)::uuid,
                   '김' || g, 'pending', (%s::bigint[])[1 + g %% %s],
                   '010' || lpad(g::text, 8, '0'), '0221483500', false
            FROM generate_series(1, %s) g""", [inst_ids, len(inst_ids), requests])
        cur.execute("""
            INSERT INTO permissions_grant (user_id, permission_type_id, body_id, status,
                requested_at, reason)
            SELECT u.id, %s, %s, 'requested', now() - (u.id %% 90) * interval '1 day', ''
            FROM accounts_user u WHERE u.username ~ '^q[0-9]+$'""", [ptype.pk, body.pk])
        cur.execute("ANALYZE")
    # An active user holding only '교육관리': 권한 부가정보 offers the other types with the
    # health-center picker (some 260 options).
    from django.utils import timezone

    from accounts.models import User
    from permissions.models import Grant

    clinic = User.objects.get(username="clinic01")
    picker = User.objects.create(username="picker01", name="피커", status="active",
                                 institution=clinic.institution, mobile="01099998888")
    Grant.objects.create(user=picker, permission_type=PermissionType.objects.get(
        code="education_learner"), body=ApprovingBody.objects.get(code="KDCA-VPM"),
        status="approved", requested_at=timezone.now(), decided_at=timezone.now())


def measure(repeat: int, profile_dir: Path | None) -> None:
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from institutions.signals import LOGIN_CHECK_SESSION_KEY

    clients = {}
    for username in {u for u, _p in PAGES}:
        client = Client()
        user = User.objects.get(username=username)
        client.force_login(user)
        session = client.session
        session.pop(LOGIN_CHECK_SESSION_KEY, None)
        session.save()
        clients[username] = client
    print(f"{'page':48} {'status':>6} {'median ms':>10} {'min ms':>7} {'CPU ms':>7} "
          f"{'queries':>8} "
          f"{'KB':>6}")
    from permissions.models import Grant
    from permissions.selectors import queue_cursor

    queue = Grant.objects.filter(body__code="HC-11110-1", status="requested")
    near_end = queue.order_by("-requested_at", "-id")[40]
    deep = queue_cursor(near_end.requested_at, near_end.pk)
    for username, path in PAGES:
        path = path.format(deep=deep)
        label = path.split("?after=")[0] + "?after=(near the end)" if "after=" in path else path
        client = clients[username]
        for _ in range(3):
            response = client.get(path)
        # Each request starts by emptying the query log (request_started → reset_queries).
        connection.force_debug_cursor = True
        response = client.get(path)
        queries = len(connection.queries)
        connection.force_debug_cursor = False
        times, cpu = [], []
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        print(f"{username + ' ' + label:48} {response.status_code:>6} "
              f"{statistics.median(times):>10.1f} {min(times):>7.1f} "
              f"{statistics.median(cpu):>7.1f} {queries:>8} "
              f"{len(response.content) / 1024:>6.0f}")
        if profile_dir is not None:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
            for _ in range(10):
                client.get(path)
            profiler.stop()
            name = (username + path).replace("/", "_").replace("?", "_").replace("=", "_")
            (profile_dir / f"{name}.txt").write_text(profiler.output_text(show_all=False))


@contextlib.contextmanager
def _database(keep: bool):
    """(url, reused): a throwaway database, or with `keep` the kept one (made if missing)."""
    if not keep:
        with throwaway_database(DATABASE) as url:
            yield url, False
        return
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_SERVER)
    conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        reuse = cur.fetchone() is not None
        if not reuse:
            cur.execute(f'CREATE DATABASE "{DATABASE}"')
    conn.close()
    yield urlunsplit(parts._replace(path=f"/{DATABASE}")), reuse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    with _database(args.keep) as (db_url, reuse):
        setup_django(db_url, ALLOWED_HOSTS="testserver,127.0.0.1")
        if reuse:
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
        else:
            build(args.requests)
        print(f"{args.requests:,} pending requests at 종로구보건소; {args.repeat} requests per "
              "page, in-process (Django test client, PostgreSQL)")
        measure(args.repeat, args.profile)


if __name__ == "__main__":
    main()
