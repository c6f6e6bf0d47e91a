"""benchmarks/bench_institution_search.py runs (on a small list here) and prints its figures:
the import times and, per kind of query, our p50/p95 beside the unindexed ILIKE's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
def test_the_search_benchmark_prints_every_kind_side_by_side():
    url = os.environ["DATABASE_URL"]
    database = (urlsplit(url).path.lstrip("/") or "kdcis") + "_bench_search"
    run = subprocess.run(
        [sys.executable, "benchmarks/bench_institution_search.py", "--rows", "3000",
         "--queries", "10", "--database", database],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "DATABASE_URL": url},
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "first import of 3,000 rows" in out and "re-import (no change)" in out
    assert "unchanged: 3000" in out
    for kind in ("number (exact)", "name prefix", "name contains", "name + type + region"):
        line = next(line for line in out.splitlines() if line.strip().startswith(kind))
        assert "ours p50" in line and "ILIKE p50" in line and "median ratio" in line
