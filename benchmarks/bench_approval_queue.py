"""The approval queue with 100,000 pending requests across all bodies, on gunicorn and
PostgreSQL: the queue page of one body versus a bare Django view on the same server, in the
same run. Goal: the queue's throughput is at least half of the bare view's.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \
        benchmarks/bench_approval_queue.py [--requests 100000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import gunicorn, setup_django, summary, throwaway_database  # noqa: E402


def load(url: str, path: str, cookies: dict, seconds: float, clients: int) -> tuple:
    import requests

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker():
        nonlocal errors
        s = requests.Session()
        s.cookies.update(cookies)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            r = s.get(url + path, allow_redirects=False)
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                latencies.append(elapsed)
                if r.status_code != 200:
                    errors += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / seconds, latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with throwaway_database("kdcis_bench_queue") as db_url:
        setup_django(db_url)
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.contrib.sessions.backends.db import SessionStore
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        call_command("load_reference_data", verbosity=0)
        from accounts.models import User
        from institutions.models import ApprovingBody
        from permissions.models import PermissionType
        from permissions.services import officer_assign

        start = time.perf_counter()
        inst_ids = list(__import__("institutions.models", fromlist=["Institution"])
                        .Institution.objects.values_list("id", flat=True))
        ptype = PermissionType.objects.get(code="vaccination_user")
        bodies = list(ApprovingBody.objects.filter(kind="health_center")
                      .values_list("id", flat=True))
        with connection.cursor() as cur:
            cur.execute("""
                INSERT INTO accounts_user (password, is_superuser, username, first_name,
                    last_name, email, is_staff, is_active, date_joined, ref, name, status,
                    institution_id, mobile, office_phone, is_helpdesk)
                SELECT '!', false, 'q' || g, '', '', '', false, true, now(),
                       md5(g::text)::uuid, '신청자' || g, 'pending',
                       (%s::bigint[])[1 + g %% %s], '010' || lpad(g::text, 8, '0'),
                       '0221483500', false
                FROM generate_series(1, %s) g""", [inst_ids, len(inst_ids), args.requests])
            cur.execute("""
                INSERT INTO permissions_grant (user_id, permission_type_id, body_id, status,
                    requested_at, reason)
                SELECT u.id, %s, (%s::bigint[])[1 + u.id %% %s], 'requested',
                       now() - (u.id %% 90) * interval '1 day', ''
                FROM accounts_user u WHERE u.username LIKE 'q%%'""",
                        [ptype.pk, bodies, len(bodies)])
            cur.execute("ANALYZE")
        print(f"built {args.requests:,} pending requests in {time.perf_counter() - start:.1f} s")
        body = ApprovingBody.objects.get(code="HC-11110-1")
        officer_user = User.objects.create(username="benchofficer", name="벤치", status="active")
        officer_assign(user=officer_user, body=body)
        session = SessionStore()
        session[SESSION_KEY] = str(officer_user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = officer_user.get_session_auth_hash()
        session.create()
        cookies = {"sessionid": session.session_key}
        waiting = body.grants.filter(status="requested").count()
        with gunicorn(db_url, workers=2, threads=4, settings="benchmarks.bench_settings") as url:
            load(url, "/approvals/", cookies, 2, args.clients)  # warm up
            bare_rps, bare_lat, bare_err = load(url, "/bench/bare/", {}, args.seconds,
                                                args.clients)
            auth_rps, auth_lat, auth_err = load(url, "/bench/bare-login/", cookies,
                                                args.seconds, args.clients)
            queue_rps, queue_lat, queue_err = load(url, "/approvals/", cookies, args.seconds,
                                                   args.clients)
        print(f"approval queue of {body.name} ({waiting} waiting of {args.requests:,}), "
              f"gunicorn 2 workers x 4 threads, {args.clients} clients, {args.seconds:.0f} s each")
        print(f"  bare Django view : {bare_rps:8.1f} req/s  {summary(bare_lat)}  errors {bare_err}")
        print(f"  bare, signed in  : {auth_rps:8.1f} req/s  {summary(auth_lat)}  errors {auth_err}")
        print(f"  /approvals/      : {queue_rps:8.1f} req/s  {summary(queue_lat)}  "
              f"errors {queue_err}")
        print(f"  ratio queue/bare           : {queue_rps / bare_rps:.2f} (goal >= 0.50)")
        print(f"  ratio queue/bare signed in : {queue_rps / auth_rps:.2f}")


if __name__ == "__main__":
    main()
