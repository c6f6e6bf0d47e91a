"""Helpdesk search on 1,000,000 users on PostgreSQL: p95 of the index-backed lookups the
helpdesk page runs (name, ID, mobile, institution name, institution number) and the ratio
against an unindexed ILIKE '%…%' scan in the same run. Goal: p95 <= 50 ms per kind.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \
        benchmarks/bench_helpdesk_search.py [--users 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import percentile, setup_django, throwaway_database  # noqa: E402

FAMILY = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신",
          "권", "황", "안", "송", "전", "홍"]
GIVEN = ["민", "서", "지", "현", "수", "영", "준", "하", "도", "예", "은", "우", "진", "유",
         "성", "재", "윤", "호", "연", "경"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--institutions", type=int, default=50_000)
    args = parser.parse_args()
    with throwaway_database("kdcis_bench_helpdesk") as db_url:
        setup_django(db_url)
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        call_command("load_reference_data", verbosity=0)
        from accounts.selectors import helpdesk_search
        from institutions.models import InstitutionType, Region

        start = time.perf_counter()
        clinic = InstitutionType.objects.get(code="clinic").pk
        with connection.cursor() as cur:
            # The name's search forms (name_key, name_jamo) are not what this benchmark
            # measures; the other columns are the model's defaults.
            cur.execute("""
                INSERT INTO institutions_institution (number, name, name_key, name_jamo,
                    status, source, dong, type_id, postcode, address, region_id,
                    sigungu_code, phone, corrections)
                SELECT lpad((20000000 + g)::text, 8, '0'), n, n, n, 'open', '', '', %s, '',
                       '', %s, '', '', '{}'::jsonb
                FROM (SELECT g, (array['서울','부산','행복','연세','튼튼','미래','365','우리',
                                       '하나','새봄'])[1 + g %% 10] || g || '의원' AS n
                      FROM generate_series(1, %s) g) AS names""",
                        [clinic, Region.objects.first().pk, args.institutions])
            cur.execute("SELECT min(id), max(id) FROM institutions_institution")
            low, high = cur.fetchone()
            cur.execute("""
                INSERT INTO accounts_user (password, is_superuser, username, first_name,
                    last_name, email, is_staff, is_active, date_joined, ref, name, status,
                    institution_id, mobile, office_phone, is_helpdesk)
                SELECT '!', false, 'u' || g, '', '', '', false, true, now(),
                       md5(g::text)::uuid,
                       (%s::text[])[1 + g %% 20] || (%s::text[])[1 + (g / 20) %% 20]
                         || (%s::text[])[1 + (g / 400) %% 20],
                       CASE WHEN g %% 50 = 0 THEN 'withdrawn' ELSE 'active' END,
                       %s + g %% (%s - %s + 1), '010' || lpad(g::text, 8, '0'), '', false
                FROM generate_series(1, %s) g""",
                        [FAMILY, GIVEN, GIVEN, low, high, low, args.users])
            cur.execute("ANALYZE")
        print(f"built {args.users:,} users and {args.institutions:,} institutions in "
              f"{time.perf_counter() - start:.1f} s")

        rng = random.Random(7)
        samples = {
            "name": [rng.choice(FAMILY) + rng.choice(GIVEN) + rng.choice(GIVEN)
                     for _ in range(args.queries)],
            "ID": [f"u{rng.randint(1, args.users)}" for _ in range(args.queries)],
            "mobile": [f"010{rng.randint(1, args.users):08d}" for _ in range(args.queries)],
            "institution name": [rng.choice(["서울", "부산", "행복", "연세", "튼튼"])
                                 + str(rng.randint(1, args.institutions)) + "의원"
                                 for _ in range(args.queries)],
            "institution number": [f"{20000000 + rng.randint(1, args.institutions):08d}"
                                   for _ in range(args.queries)],
        }

        def time_queries(fn, values):
            latencies = []
            for value in values:
                t = time.perf_counter()
                fn(value)
                latencies.append((time.perf_counter() - t) * 1000)
            return latencies

        def portal(value):
            _kind, qs, _truncated = helpdesk_search(value)
            list(qs[:20])
            qs.count()

        def unindexed(value):
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT u.id FROM accounts_user u LEFT JOIN institutions_institution i "
                    "ON i.id = u.institution_id WHERE u.status <> 'withdrawn' AND "
                    "(u.name ILIKE %s OR u.username ILIKE %s OR u.mobile ILIKE %s "
                    "OR i.name ILIKE %s OR i.number ILIKE %s) ORDER BY u.name, u.id LIMIT 20",
                    [f"%{value}%"] * 5)
                cur.fetchall()

        print(f"helpdesk search on {args.users:,} users (PostgreSQL), {args.queries} queries "
              f"per kind; goal p95 <= 50 ms")
        for kind, values in samples.items():
            portal(values[0])
            ours = time_queries(portal, values)
            scan = time_queries(unindexed, values[:5])
            print(f"  {kind:18s} p50 {percentile(ours, 50):6.2f} ms  p95 "
                  f"{percentile(ours, 95):6.2f} ms | unindexed ILIKE p50 "
                  f"{percentile(scan, 50):8.1f} ms | ratio {percentile(scan, 50) / max(percentile(ours, 50), 1e-6):7.0f}x")


if __name__ == "__main__":
    main()
