"""Pages under real use: many people, each in their own browser, against a bare Django view
on the same gunicorn and PostgreSQL, in alternating rounds of one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \
        benchmarks/bench_approval_queue.py [--people 200] [--requests 100000] [--rounds 5]

What it builds: 100,000 pending requests across the health centers, 5,000 of them at
종로구보건소; 200 officers of 200 different health centers (종로구 among them), 200 clinic
users (권한 page and 의료기관 부가정보 form) and 200 helpdesk agents. Each person signs in once
(a real login: Django's database session, the login record, a CSRF cookie of their own).

How it loads: wrk (Debian package `wrk`, a C client that leaves the cores to the server)
with a Lua script that gives every request the cookies of the next person in turn, so no
two consecutive requests on a connection share a session; nothing a server keeps per browser
can make a page look cheap. Each round measures, side by side: the bare view, then each page.

Two figures per page:
- throughput at 64 connections with no pause (closed loop): the ratio page/bare of each
  round, median over rounds. Goal >= 0.25x the bare view (floor 0.15x).
- latency at 64 connections of people who pause between pages (a think time of
  `--think` ms per connection, so the server is not saturated): p50/p95. Goal p95 <= 50 ms.
  With no pause, 64 connections queue at the server and every latency is 64 / throughput
  (Little's law), which measures the queue, not the page.
Queries per page are asserted constant by tests/kdcis/test_page_queries.py.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import (  # noqa: E402
    gunicorn,
    setup_django,
    throwaway_database,
)

JONGNO = "HC-11110-1"
SIGNED_IN = "bare view, signed in"

# One Lua state per wrk thread (-t1: one). `people` holds one Cookie header per person;
# each request takes the next one. `pause` (ms) is the think time between a connection's
# requests; 0 for the throughput rounds.
LUA = r"""
local people, n, i, bad = {}, 0, 0, 0
local path = os.getenv("BENCH_PATH")
local pause = tonumber(os.getenv("BENCH_PAUSE") or "0")
local file = os.getenv("BENCH_COOKIES")
if file ~= nil and file ~= "" then
  for line in io.lines(file) do n = n + 1; people[n] = line end
end
request = function()
  if n == 0 then return wrk.format("GET", path) end
  i = i % n + 1
  return wrk.format("GET", path, {["Cookie"] = people[i]})
end
if pause > 0 then
  delay = function() return pause end
end
response = function(status, headers, body) if status ~= 200 then bad = bad + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("BAD %d\n", bad))
  for _, p in pairs({50, 95, 99}) do
    io.write(string.format("P%d %.3f\n", p, latency:percentile(p) / 1000))
  end
end
"""


def build(people: int, requests: int) -> dict[str, list]:
    """The data and the people; returns {page: [user, ...]} of who requests each page."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from institutions.models import ApprovingBody, Institution
    from permissions.models import Grant, PermissionType
    from permissions.services import officer_assign

    call_command("migrate", verbosity=0)
    call_command("load_reference_data", verbosity=0)
    call_command("load_demo_data", verbosity=0, stdout=io.StringIO())
    bodies = list(ApprovingBody.objects.filter(kind="health_center").order_by("code"))
    jongno = next(b for b in bodies if b.code == JONGNO)
    others = [b for b in bodies if b.code != JONGNO]
    inst_ids = list(Institution.objects.values_list("id", flat=True))
    ptype = PermissionType.objects.get(code="vaccination_user")
    big = min(5000, requests)
    with connection.cursor() as cur:
        cur.execute("""
            INSERT INTO accounts_user (password, is_superuser, username, first_name,
                last_name, email, is_staff, is_active, date_joined, ref, name, status,
                institution_id, mobile, office_phone, is_helpdesk)
            SELECT '!', false, 'q' || g, '', '', '', false, true, now(), md5(g::text)::uuid,
                   '김' || g, 'pending', (%s::bigint[])[1 + g %% %s],
                   '010' || lpad(g::text, 8, '0'), '0221483500', false
            FROM generate_series(1, %s) g""", [inst_ids, len(inst_ids), requests])
        # The first `big` applicants wait at 종로구보건소, the rest spread over the others.
        cur.execute("""
            INSERT INTO permissions_grant (user_id, permission_type_id, body_id, status,
                requested_at, reason)
            SELECT u.id, %s,
                   CASE WHEN substr(u.username, 2)::int <= %s THEN %s
                        ELSE (%s::bigint[])[1 + u.id %% %s] END,
                   'requested', now() - (u.id %% 90) * interval '1 day', ''
            FROM accounts_user u WHERE u.username ~ '^q[0-9]+$'""",
                    [ptype.pk, big, jongno.pk, [b.pk for b in others], len(others)])
        cur.execute("ANALYZE")

    officers = []
    for n, body in enumerate([jongno, *others[:people - 1]]):
        user = User.objects.create(username=f"officer{n:03}", name=f"담당자{n}", status="active")
        officer_assign(user=user, body=body)
        officers.append(user)
    clinic = User.objects.get(username="clinic01")
    clinic_grant = Grant.objects.filter(user=clinic, status="approved").first()
    clinic_users = []
    now = timezone.now()
    for n in range(people):
        user = User.objects.create(username=f"clinic{n + 100:03}", name=f"의원직원{n}",
                                   status="active", institution=clinic.institution,
                                   mobile=f"0109000{n:04}")
        Grant.objects.create(user=user, permission_type=clinic_grant.permission_type,
                             body=clinic_grant.body, status="approved", requested_at=now,
                             decided_at=now)
        clinic_users.append(user)
    agents = [User.objects.create(username=f"agent{n:03}", name=f"상담원{n}", status="active",
                                  is_helpdesk=True) for n in range(people)]
    return {"/approvals/": officers, "/permissions/": clinic_users,
            "/vaccination/institution-info/": clinic_users, "/helpdesk/?q=%EA%B9%801": agents}  # q=김1


def sign_in(url: str, users_by_page: dict[str, list]) -> dict[str, Path]:
    """A real login per person (session row, login record); one first GET per person and
    page collects the CSRF cookie that person's browser would send back. Returns a file of
    Cookie headers per page."""
    import requests
    from django.test import Client

    from institutions.signals import LOGIN_CHECK_SESSION_KEY

    jars: dict[int, dict] = {}
    files = {}
    for page, users in users_by_page.items():
        lines = []
        for user in users:
            if user.pk not in jars:
                client = Client()
                client.force_login(user)
                session = client.session
                session.pop(LOGIN_CHECK_SESSION_KEY, None)
                session.save()
                jars[user.pk] = {"sessionid": session.session_key}
            jar = jars[user.pk]
            first = requests.get(url + page, cookies=jar, allow_redirects=False)
            assert first.status_code == 200, (page, user.username, first.status_code)
            if "csrftoken" in first.cookies:
                jar["csrftoken"] = first.cookies["csrftoken"]
            lines.append("; ".join(f"{k}={v}" for k, v in jar.items()))
        handle = tempfile.NamedTemporaryFile("w", suffix=".cookies", delete=False)
        handle.write("\n".join(lines) + "\n")
        handle.close()
        files[page] = Path(handle.name)
    return files


def wrk(url: str, path: str, cookies: Path | None, *, seconds: float, clients: int,
        pause_ms: int, script: Path) -> tuple[float, dict[str, float], int]:
    """(req/s, {"50": ms, "95": ms, "99": ms}, errors) of one wrk run."""
    env = dict(os.environ, BENCH_PATH=path, BENCH_PAUSE=str(pause_ms),
               BENCH_COOKIES=str(cookies) if cookies else "")
    # A slow page must be measured, not cut off: wrk's default timeout is 2 s.
    out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "--timeout",
                          "30s", "-s", str(script), url + path], capture_output=True,
                         text=True, check=True, env=env).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = int(re.search(r"BAD (\d+)", out).group(1))
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                        r"timeout (\d+)", out)
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    return rps, dict(re.findall(r"P(\d+) ([\d.]+)", out)), errors


def drain(url: str) -> None:
    """Wait until the server has worked off what the last wrk run left queued (a closed
    connection's requests are still served), so a round does not pay for the one before."""
    import requests

    deadline = time.monotonic() + 60
    quick = 0
    while quick < 3 and time.monotonic() < deadline:
        start = time.perf_counter()
        requests.get(url + "/bench/bare/", timeout=60)
        quick = quick + 1 if time.perf_counter() - start < 0.02 else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--think", type=int, default=1000,
                        help="pause in ms between a connection's requests, latency rounds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (Debian package: apt-get install wrk)")
    script = Path(tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False).name)
    script.write_text(LUA)
    with throwaway_database("kdcis_bench_real_use") as db_url:
        # Helpdesk agents here search far more often than a person would; the per-agent
        # limit is still checked on every search, only its ceiling is raised.
        setup_django(db_url, HELPDESK_SEARCHES_PER_HOUR="100000000")
        start = time.perf_counter()
        users_by_page = build(args.people, args.requests)
        print(f"built {args.requests:,} pending requests (5,000 at 종로구보건소) and "
              f"{args.people} people per page in {time.perf_counter() - start:.0f} s")
        with gunicorn(db_url, workers=args.workers, threads=args.threads,
                      settings="benchmarks.bench_settings",
                      HELPDESK_SEARCHES_PER_HOUR="100000000") as url:
            cookies = sign_in(url, users_by_page)
            # The second reference is the same bare view behind login_required, with the
            # officers' cookies: what any signed-in page pays before doing its own work
            # (the database session and the user with what the layout shows).
            pages = [("bare Django view", "/bench/bare/", None),
                     (SIGNED_IN, "/bench/bare-login/", cookies["/approvals/"])] + [
                (path, path, cookies[path]) for path in users_by_page]
            for _label, path, jar in pages:  # warm up every worker
                wrk(url, path, jar, seconds=2, clients=args.clients, pause_ms=0,
                    script=script)
                drain(url)
            rates: dict[str, list[float]] = {label: [] for label, _p, _c in pages}
            latency: dict[str, list[dict]] = {label: [] for label, _p, _c in pages}
            errors = dict.fromkeys(rates, 0)
            for _round in range(args.rounds):
                for label, path, jar in pages:
                    drain(url)
                    rps, _pct, bad = wrk(url, path, jar, seconds=args.seconds,
                                         clients=args.clients, pause_ms=0, script=script)
                    rates[label].append(rps)
                    errors[label] += bad
                for label, path, jar in pages:
                    drain(url)
                    _rps, pct, bad = wrk(url, path, jar, seconds=args.seconds,
                                         clients=args.clients, pause_ms=args.think,
                                         script=script)
                    latency[label].append(pct)
                    errors[label] += bad
    script.unlink()
    for path in cookies.values():
        path.unlink()
    print(f"gunicorn {args.workers} workers x {args.threads} threads, PostgreSQL, wrk with "
          f"{args.clients} connections rotating {args.people} people's cookies per page; "
          f"{args.rounds} rounds of {args.seconds:.0f} s per page and figure")
    bare = rates["bare Django view"]
    print(f"  {'page':34} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'errors':>6}   (req/s and ratio: no pause; p50/p95: {args.think} ms pause)")
    for label in rates:
        ratio = statistics.median(r / b for r, b in zip(rates[label], bare, strict=True))
        p50 = statistics.median(float(p["50"]) for p in latency[label])
        p95 = statistics.median(float(p["95"]) for p in latency[label])
        goal = "" if label in ("bare Django view", SIGNED_IN) else (
            "  goal ratio>=0.25 " + ("met" if ratio >= 0.25 else "MISSED")
            + (" (floor 0.15 met)" if 0.15 <= ratio < 0.25 else "")
            + ", p95<=50 " + ("met" if p95 <= 50 else "MISSED"))
        print(f"  {label:34} {statistics.median(rates[label]):8.1f} {ratio:6.2f} "
              f"{p50:7.1f} {p95:7.1f} {errors[label]:6}{goal}")


if __name__ == "__main__":
    main()
