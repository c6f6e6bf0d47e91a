"""Configuration from the environment: what happens without a SECRET_KEY."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL")}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_an_app_server_refuses_to_start_without_a_secret_key():
    result = run("import kdcis.wsgi")
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_deploy_checks_report_a_missing_secret_key_but_migrations_still_work():
    deploy = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, capture_output=True,
        text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")})
    assert deploy.returncode != 0 and "kdcis.E001" in deploy.stderr
    migrations = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=ROOT,
        capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")})
    assert migrations.returncode == 0, migrations.stderr


def test_debug_runs_on_the_development_key():
    result = run("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='kdcis.settings'; "
                 "django.setup(); from django.conf import settings; "
                 "print(settings.SECRET_KEY, settings.DEBUG)", DEBUG="true")
    assert result.stdout.strip() == "insecure-development-key True"


def test_the_portal_hashes_passwords_with_the_strong_hasher():
    """The suite signs its admins in with a fast hasher (tests/conftest.py); the portal's own
    settings keep PBKDF2 at Django's full iteration count for the national admins."""
    result = run("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='kdcis.settings'; "
                 "django.setup(); from django.contrib.auth.hashers import get_hasher; "
                 "h = get_hasher(); print(h.algorithm, h.iterations)",
                 SECRET_KEY="settings-test-secret-key-0123456789abcdefghijklmnopqrstuv")
    assert result.returncode == 0, result.stderr
    algorithm, iterations = result.stdout.split()
    assert algorithm == "pbkdf2_sha256"
    assert int(iterations) >= 1_000_000
