"""The approval queue with 100,000 pending requests across all bodies, on gunicorn and
PostgreSQL: the queue page of one body versus a bare Django view on the same server, in the
same run. Goal: the queue's throughput is at least half of the bare view's.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \
        benchmarks/bench_approval_queue.py [--requests 100000] [--seconds 4] [--rounds 7]

The load comes from wrk (Debian package `wrk`) when installed: a C client leaves the cores to
the server, so each figure is what the server can do. Without it, Python threads generate
the load (`--client python`), and on a small machine the client then caps the fastest page,
which flatters the ratio. Three pages are measured in alternating rounds (median printed):
`/bench/bare/`, a view doing nothing; `/bench/bare-login/`, the same behind login (the
session and user lookup every signed-in page pays); and `/approvals/`, an officer's queue.

Each figure comes with the machine's CPU time per request (server, database and client
together, from /proc/stat): on a machine whose cores are all busy, that is what sets the
ratio. 64 connections spread over both workers; a round that one worker served nearly alone
is run again (see `measure`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import (  # noqa: E402
    child_pids,
    cpu_seconds,
    gunicorn,
    machine_busy_seconds,
    setup_django,
    summary,
    throwaway_database,
)

#: A round in which a worker did less than this share of its fair part of the workers' work
#: (their total divided by their number) is run again.
LOPSIDED = 0.5


def measure(load, url, path: str, cookies: dict, seconds: float, clients: int) -> tuple:
    """One round of `load` on `path`: (req/s, latency summary, errors, machine CPU µs per
    request, rounds run again).

    A client's keep-alive connections stay on the worker that accepted them, and which
    worker wins each accept is a race: now and then one worker takes nearly all of them and
    the round measures one core instead of two (half the figure, for any page). Such a round
    is detected from the workers' CPU time and run again, at most three times.
    """
    workers = child_pids(url.pid)
    for again in range(4):
        before = [cpu_seconds(pid) for pid in workers]
        busy = machine_busy_seconds()
        rps, latency, errors = load(url, path, cookies, seconds, clients)
        busy = machine_busy_seconds() - busy
        used = [cpu_seconds(pid) - b for pid, b in zip(workers, before, strict=True)]
        if again == 3 or min(used) >= LOPSIDED * sum(used) / len(used):
            break
    requests = max(rps * seconds, 1)
    return rps, latency, errors, busy / requests * 1e6, again


def load_python(url: str, path: str, cookies: dict, seconds: float, clients: int) -> tuple:
    """`clients` threads of `requests` in this process (the fallback without wrk: the client
    then competes for the GIL and the cores, which caps the fastest page's figure)."""
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
    return len(latencies) / seconds, summary(latencies), errors


def load_wrk(url: str, path: str, cookies: dict, seconds: float, clients: int) -> tuple:
    """wrk (C, one thread, `clients` keep-alive connections): the server, not the client,
    is what runs out of CPU. Any status but 200 counts as an error (a lua script checks)."""
    import re
    import subprocess
    import tempfile

    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(
        'local bad = 0\n'
        'response = function(status, headers, body) if status ~= 200 then bad = bad + 1 end end\n'
        'done = function(summary, latency, requests)\n'
        '  io.write(string.format("BAD %d\\n", bad))\n'
        '  for _, p in pairs({50, 95, 99}) do\n'
        '    io.write(string.format("P%d %.3f\\n", p, latency:percentile(p) / 1000))\n'
        '  end\n'
        'end\n')
    script.close()
    header = "Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items())
    command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "-s", script.name,
               url + path]
    if cookies:
        command[1:1] = ["-H", header]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = int(re.search(r"BAD (\d+)", out).group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    pct = dict(re.findall(r"P(\d+) ([\d.]+)", out))
    return rps, f"p50={pct['50']} ms p95={pct['95']} ms p99={pct['99']} ms", errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--client", choices=["wrk", "python"],
                        default="wrk" if shutil.which("wrk") else "python",
                        help="load generator (default: wrk when installed, from the OS "
                             "packages: apt-get install wrk)")
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
        session[BACKEND_SESSION_KEY] = "kdcis.auth.PortalBackend"
        session[HASH_SESSION_KEY] = officer_user.get_session_auth_hash()
        session.create()
        cookies = {"sessionid": session.session_key}
        waiting = body.grants.filter(status="requested").count()
        load = load_wrk if args.client == "wrk" else load_python
        pages = [("bare Django view", "/bench/bare/", {}),
                 ("bare, signed in", "/bench/bare-login/", cookies),
                 ("/approvals/", "/approvals/", cookies)]
        results: dict[str, list[tuple]] = {label: [] for label, _p, _c in pages}
        with gunicorn(db_url, workers=args.workers, threads=args.threads,
                      settings="benchmarks.bench_settings") as url:
            import requests

            check = requests.get(url + "/approvals/", cookies=cookies, allow_redirects=False)
            assert check.status_code == 200 and check.text.count('name="grant"') == 20, (
                check.status_code, check.text[:300])
            # A browser sends back the CSRF cookie its first page set; without it every
            # request would mint a new CSRF secret.
            cookies["csrftoken"] = check.cookies["csrftoken"]
            for _label, path, jar in pages:  # warm up every worker
                load(url, path, jar, 2, args.clients)
            # Rounds alternate the three pages, so a noisy moment hurts all of them alike.
            for _round in range(args.rounds):
                for label, path, jar in pages:
                    results[label].append(measure(load, url, path, jar, args.seconds,
                                                  args.clients))
        print(f"approval queue of {body.name} ({waiting} waiting of {args.requests:,}), "
              f"gunicorn {args.workers} workers x {args.threads} threads, client {args.client} with {args.clients} "
              f"connections, {args.rounds} rounds of {args.seconds:.0f} s per page")
        median = {}
        for label, runs in results.items():
            rates = sorted(r[0] for r in runs)
            median[label] = rates[len(rates) // 2]
            errors = sum(r[2] for r in runs)
            cpu = sorted(r[3] for r in runs)[len(runs) // 2]
            print(f"  {label:17}: {median[label]:8.1f} req/s (median; rounds "
                  f"{', '.join(f'{r[0]:.0f}' for r in runs)})  last {runs[-1][1]}  "
                  f"errors {errors}")
            print(f"  {'':17}  machine CPU {cpu:6.0f} µs per request (median; server, "
                  f"database and client together)  lopsided rounds run again: "
                  f"{sum(r[4] for r in runs)}")
        # The machine's speed drifts between rounds; a ratio of two pages measured seconds
        # apart in the same round is steadier than a ratio of medians.
        per_round = sorted(q[0] / b[0] for q, b in zip(results["/approvals/"],
                                                       results["bare Django view"],
                                                       strict=True))
        signed = sorted(q[0] / b[0] for q, b in zip(results["/approvals/"],
                                                    results["bare, signed in"], strict=True))
        ratio = per_round[len(per_round) // 2]
        print(f"  ratio queue/bare, per round   : {', '.join(f'{r:.2f}' for r in per_round)}")
        print(f"  ratio queue/bare (median)     : {ratio:.2f} (goal >= 0.50: "
              f"{'met' if ratio >= 0.5 else 'MISSED'})")
        print(f"  ratio queue/bare signed in    : {signed[len(signed) // 2]:.2f} (median of "
              f"rounds; the signed-in view is the floor of any page behind login)")


if __name__ == "__main__":
    main()
