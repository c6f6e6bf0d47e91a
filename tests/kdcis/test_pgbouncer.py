"""The app and the nightly revocation behind a real PgBouncer (Debian's package) in
transaction mode, where consecutive transactions of one client may run on different server
connections: pages work, the revocation's lease holds, and two revocations at once still
revoke each grant once."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import User
from institutions.models import ApprovingBody
from kdcis.leases import lease
from kdcis.models import AuditEvent, SmsMessage
from permissions.models import Grant, PermissionType
from permissions.revocation import LEASE_NAME
from tests.servers import wait_until_listening

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
PGBOUNCER = "/usr/sbin/pgbouncer"
AS_OF = dt.date(2026, 5, 1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def pgbouncer():
    """PgBouncer on a free port in transaction mode with a pool of two server connections
    (so clients share and switch them), in front of the test database's server."""
    if not shutil.which(PGBOUNCER):
        if os.environ.get("CI"):
            pytest.fail(f"no PgBouncer at {PGBOUNCER}: .ci/run installs pgbouncer")
        pytest.skip(f"no PgBouncer at {PGBOUNCER}: apt-get install pgbouncer (CI does)")
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    listen = _free_port()
    # PgBouncer refuses to run as root; as root it is started as postgres (-u), which must
    # read its files.
    work = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    work.chmod(0o755)
    (work / "users.txt").write_text(f'"{db["USER"]}" ""\n')
    (work / "pgbouncer.ini").write_text(f"""
[databases]
* = host={host} port={port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {work}/users.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
""")
    for name in ("users.txt", "pgbouncer.ini"):
        (work / name).chmod(0o644)
    command = [PGBOUNCER, str(work / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        wait_until_listening(proc, listen, what="pgbouncer", pause=0.05)
        yield f"postgres://{db['USER']}@127.0.0.1:{listen}/{db['NAME']}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def _env(database_url: str, test_pki=None) -> dict:
    env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="kdcis.settings",
               DB_TRANSACTION_POOLER="true",
               # The test's own key: a session the test signs in is valid on the server.
               SECRET_KEY=settings.SECRET_KEY,
               SECURE="false", ALLOWED_HOSTS="127.0.0.1", SMS_BACKEND="console",
               STATICFILES_STORAGE="django.contrib.staticfiles.storage.StaticFilesStorage",
               WHITENOISE_USE_FINDERS="true", REQUEST_LOG_LEVEL="WARNING",
               PYTHONPATH=str(ROOT))
    if test_pki is not None:
        env.update(CERT_TRUST_ANCHORS=str(test_pki.anchors), CERT_CRL_PATHS=str(test_pki.crl))
    return env


def _stale_grants(count: int) -> list[int]:
    return _stale_grants_named("pool", count)


def _stale_grants_named(prefix: str, count: int) -> list[int]:
    ptype = PermissionType.objects.get(code="vaccination_user")
    body = ApprovingBody.objects.get(code="HC-11110-1")
    users = User.objects.bulk_create([
        User(username=f"{prefix}{n:04d}", status=User.Status.ACTIVE,
             mobile=f"010{6667 + len(prefix)}{n:04d}")
        for n in range(count)])
    decided = timezone.make_aware(dt.datetime(2025, 11, 1, 9, 0))
    return [g.pk for g in Grant.objects.bulk_create([
        Grant(user=user, permission_type=ptype, body=body, status=Grant.Status.APPROVED,
              requested_at=decided, decided_at=decided, last_used_on=dt.date(2025, 12, 1))
        for user in users])]


def _revoke(database_url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "revoke_inactive_permissions", "--as-of",
         AS_OF.isoformat(), "--warn-days", "0", *args],
        cwd=ROOT, env=_env(database_url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def test_pgbouncer_two_revocations_at_once_revoke_each_grant_once(pgbouncer, reference_data):
    grant_ids = _stale_grants(200)

    runs = [_revoke(pgbouncer, "--batch-size", "7") for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    revoked = [int(m.group(1)) for out in outputs
               for m in [re.search(r"revoked (\d+) grants", out)] if m]
    skipped = [out for out in outputs if "in progress" in out]
    assert sum(revoked) == 200 and len(revoked) + len(skipped) == 2, outputs
    assert set(Grant.objects.filter(pk__in=grant_ids).values_list("status", flat=True)) == {
        "revoked"}
    audited = list(AuditEvent.objects.filter(action="grant.revoked")
                   .values_list("target_id", flat=True))
    assert sorted(audited) == sorted(str(pk) for pk in grant_ids)
    assert SmsMessage.objects.count() == 200


def test_pgbouncer_a_run_while_another_holds_the_lease_exits_saying_so(pgbouncer,
                                                                       reference_data):
    grant_ids = _stale_grants(3)
    with lease(LEASE_NAME, seconds=60):
        output = _revoke(pgbouncer).communicate(timeout=120)[0]
    assert "another revoke_inactive_permissions run is in progress" in output.lower()
    assert set(Grant.objects.filter(pk__in=grant_ids).values_list("status", flat=True)) == {
        "approved"}
    # Released: the next run through the pooler does the work and leaves the lease free.
    output = _revoke(pgbouncer).communicate(timeout=120)[0]
    assert "revoked 3 grants" in output
    assert set(Grant.objects.filter(pk__in=grant_ids).values_list("status", flat=True)) == {
        "revoked"}
    # A session-level lock taken on one pooled server connection and "released" on another
    # would stay held here; the lease leaves nothing behind for the next night.
    later = _stale_grants_named("later", 2)
    for _night in range(3):
        output = _revoke(pgbouncer).communicate(timeout=120)[0]
        assert "in progress" not in output, output
    assert set(Grant.objects.filter(pk__in=later).values_list("status", flat=True)) == {
        "revoked"}


def test_pgbouncer_an_officer_decides_a_request_through_the_pooler(pgbouncer, personas,
                                                                   test_pki):
    from django.test import Client

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kdcis.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT, env=_env(pgbouncer, test_pki), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_until_listening(proc, port, what="gunicorn")
        base = f"http://127.0.0.1:{port}"
        assert "질병보건통합관리시스템" in requests.get(base + "/", timeout=30).text
        signed_in = Client()  # a real login, written straight to the database
        signed_in.force_login(personas.oscar)
        browser = requests.Session()
        browser.cookies.set("sessionid", signed_in.session.session_key)
        queue = browser.get(base + "/approvals/", timeout=30)
        assert queue.status_code == 200 and "김앨리" in queue.text
        grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', queue.text).group(1)
        decided = browser.post(base + "/approvals/decide/", timeout=30, data={
            "csrfmiddlewaretoken": token, "grant": str(grant.pk), "action": "approve"},
            headers={"Referer": base + "/approvals/"})
        assert decided.status_code == 200 and "승인" in decided.text
        grant.refresh_from_db()
        assert grant.status == Grant.Status.APPROVED
        assert AuditEvent.objects.filter(action="grant.approved",
                                         target_id=str(grant.pk)).count() == 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
