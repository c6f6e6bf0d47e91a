"""Shared pieces of the benchmark scripts: a throwaway PostgreSQL database, a gunicorn
process on it, and latency statistics. Benchmarks print figures; they assert nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


def base_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "SECURE": "false", "DEBUG": "false", "SMS_BACKEND": "console", "LOG_LEVEL": "WARNING", "REQUEST_LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "WHITENOISE_USE_FINDERS": "true",
    })
    env.update(extra)
    return env


def setup_django(database_url: str, **extra: str) -> None:
    os.environ.update(base_env(DATABASE_URL=database_url, **extra))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kdcis.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


@contextlib.contextmanager
def throwaway_database(name: str):
    """CREATE DATABASE name on the server of $DATABASE_URL (default local), drop it after."""
    import psycopg2

    server = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    parts = urlsplit(server)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(database_url: str, *, workers: int = 2, threads: int = 4,
             settings: str = "kdcis.settings", **extra: str):
    """A gunicorn serving the portal on a free port; yields its base URL."""
    port = free_port()
    env = base_env(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE=settings, **extra)
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "kdcis.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
         "--log-level", "warning", "--keep-alive", "10"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = GunicornURL(f"http://127.0.0.1:{port}")
    url.pid = proc.pid
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode()) from None
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


class GunicornURL(str):
    """The base URL of a gunicorn started by `gunicorn()`, with its arbiter's pid."""

    pid: int


def _proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is `parent` (Linux /proc), e.g. gunicorn's workers."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _proc_stat(int(entry))
            if fields is not None and int(fields[1]) == parent:
                children.append(int(entry))
    return sorted(children)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process so far (0 when it is gone)."""
    fields = _proc_stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / _HZ


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores, all processes) so far."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / _HZ  # minus idle and iowait


_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values_ms: list[float]) -> str:
    return (f"n={len(values_ms)} p50={percentile(values_ms, 50):.1f} ms "
            f"p95={percentile(values_ms, 95):.1f} ms p99={percentile(values_ms, 99):.1f} ms "
            f"mean={statistics.fmean(values_ms) if values_ms else float('nan'):.1f} ms")
