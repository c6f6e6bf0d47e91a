"""The signup's institution search on 100,000 institutions on PostgreSQL: p95 of each kind
of query the 사용자정보등록 step runs (a page of 10 results and its count), side by side with
an unindexed ILIKE '%…%' over the name in the same run, in alternating rounds. Goal: p95 <=
20 ms per kind. It also times `import_institutions` on our generated list of that size
(benchmarks/hira_generator.py), first load and a re-import that changes nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \\
        benchmarks/bench_institution_search.py [--rows 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import percentile, setup_django, throwaway_database  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--database", default="kdcis_bench_institution_search")
    args = parser.parse_args(argv)
    with throwaway_database(args.database) as db_url, tempfile.TemporaryDirectory() as tmp:
        setup_django(db_url)
        import io

        from django.core.management import call_command
        from django.db import connection

        from benchmarks import hira_generator
        from institutions.models import Institution, InstitutionType

        call_command("migrate", verbosity=0)
        call_command("load_reference_data", verbosity=0, stdout=io.StringIO())
        path = hira_generator.write(Path(tmp) / "hira.csv", args.rows, seed=3)
        for label in ("first import", "re-import (no change)"):
            start = time.perf_counter()
            out = io.StringIO()
            call_command("import_institutions", str(path), "--show", "0", stdout=out)
            print(f"{label} of {args.rows:,} rows: {time.perf_counter() - start:.1f} s "
                  f"({out.getvalue().strip().splitlines()[-1]})")

        rows = list(Institution.objects.filter(source="hira_hospitals").values_list(
            "number", "name", "type_id", "region_id"))
        rng = random.Random(11)
        picks = [rng.choice(rows) for _ in range(args.queries)]
        clinic = InstitutionType.objects.get(code="clinic").pk

        def fragment(name: str, start: int, size: int) -> str:
            plain = name.replace(" ", "")
            start = min(start, max(0, len(plain) - size))
            return plain[start:start + size]

        kinds = {
            "number (exact)": [(p[0], {}) for p in picks],
            "name prefix": [(fragment(p[1], 0, 3), {}) for p in picks],
            "name contains": [(fragment(p[1], 2, 2), {}) for p in picks],
            "name + type + region": [(fragment(p[1], 1, 2), {"type_id": clinic,
                                                             "region": p[3]}) for p in picks],
        }

        from institutions.selectors import SearchPaginator, search_institutions

        def portal(query: str, filters: dict) -> None:
            page = SearchPaginator(search_institutions(query=query, **filters), 10).get_page(1)
            list(page.object_list)
            page.paginator.count  # noqa: B018 (the count query is part of the page)

        def unindexed(query: str, filters: dict) -> None:
            sql = ("SELECT id FROM institutions_institution WHERE status = 'open' "
                   "AND (name ILIKE %s OR number = %s)")
            params = [f"%{query}%", query]
            if filters:
                sql += " AND type_id = %s AND region_id = %s"
                params += [filters["type_id"], filters["region"]]
            with connection.cursor() as cur:
                cur.execute(sql + " ORDER BY name, number LIMIT 10", params)
                cur.fetchall()
                cur.execute("SELECT count(*) FROM (" + sql + ") t", params)
                cur.fetchone()

        def timed(fn, query, filters) -> float:
            start = time.perf_counter()
            fn(query, filters)
            return (time.perf_counter() - start) * 1000

        print(f"institution search on {args.rows:,} institutions (PostgreSQL), "
              f"{args.queries} queries per kind, alternating with an unindexed ILIKE; "
              f"goal p95 <= 20 ms")
        verdicts = []
        for kind, queries in kinds.items():
            portal(*queries[0])
            unindexed(*queries[0])
            ours, scan, ratios = [], [], []
            for i, (query, filters) in enumerate(queries):
                pair = [(portal, ours), (unindexed, scan)]
                if i % 2:
                    pair.reverse()
                results = {}
                for fn, sink in pair:
                    sink.append(timed(fn, query, filters))
                    results[fn] = sink[-1]
                ratios.append(results[unindexed] / max(results[portal], 1e-6))
            p95 = percentile(ours, 95)
            verdicts.append(p95 <= 20)
            print(f"  {kind:22s} ours p50 {percentile(ours, 50):6.2f} ms p95 {p95:6.2f} ms | "
                  f"ILIKE p50 {percentile(scan, 50):7.2f} ms p95 {percentile(scan, 95):7.2f} "
                  f"ms | median ratio {percentile(ratios, 50):6.1f}x "
                  f"{'ok' if p95 <= 20 else 'OVER GOAL'}")
        print("all kinds within the goal" if all(verdicts) else "some kinds over the goal")


if __name__ == "__main__":
    main()
