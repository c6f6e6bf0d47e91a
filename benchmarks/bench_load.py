"""Load test: the locust scenario (benchmarks/locustfile.py) against gunicorn and PostgreSQL,
with the SMS backend pointed at the fake Twilio server. Prints requests per second, p50/p95/
p99 per page and errors; with --soak SECONDS, memory per gunicorn worker at start and end.
Goals: 0 errors, p95 <= 200 ms per page at 50 users on the 2-core machine, no memory growth.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \
        benchmarks/bench_load.py [--users 50] [--seconds 60] [--soak 600]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import (  # noqa: E402
    PYTHON,
    ROOT,
    base_env,
    free_port,
    gunicorn,
    setup_django,
    throwaway_database,
)

SID, TOKEN = "AC00000000000000000000000000000000", "fake-twilio-auth-token"


def prepare(data: Path, applicants: int, officers: int) -> dict:
    from django.core.management import call_command
    from django.utils import timezone

    from accounts import pki
    from accounts.certificates import TrustStore, verify_signed_challenge
    from accounts.services import RequestedPermission, signup_submit, staff_account_create
    from institutions.models import ApprovingBody, Category, Institution, MedicalInformationSystem
    from institutions.services import supplementary_info_save
    from permissions.models import Grant, PermissionType
    from permissions.services import grant_approve, officer_assign

    call_command("migrate", verbosity=0)
    call_command("load_reference_data", verbosity=0)
    ca = pki.make_ca("Load CA")
    key = pki.make_key()
    (data / "ca.pem").write_bytes(pki.pem(ca.cert))
    (data / "ca-key.pem").write_bytes(pki.pem(ca.key))
    (data / "user-key.pem").write_bytes(pki.pem(key))
    (data / "crl.pem").write_bytes(pki.pem(pki.make_crl(ca, [1])))
    (data / "certs").mkdir()
    trust = TrustStore.from_pem_bundle(pki.pem(ca.cert), [(data / "crl.pem").read_bytes()])

    def verified(cn, name):
        issued = pki.make_user_certificate(ca, common_name=cn, key=key)
        (data / "certs" / f"{name}.der").write_bytes(issued.der)
        return verify_signed_challenge(certificate=issued.der, challenge=b"x",
                                       signature=pki.sign_challenge(key, b"x"), trust=trust)

    inst = Institution.objects.get(number="11110101")
    body = ApprovingBody.objects.get(code="HC-11110-1")
    ptype = PermissionType.objects.get(code="vaccination_user")
    officer_names = []
    for n in range(officers):
        user = staff_account_create(certificate=verified(f"담당{n}()00{n:08d}", f"off{n}"),
                                    username=f"off{n}", mobile=f"0109000{n:04d}")
        officer_assign(user=user, body=body)
        officer_names.append(user.username)
    applicant_names = []
    for n in range(applicants):
        user = signup_submit(
            certificate=verified(f"사용{n}()01{n:08d}", f"app{n}"), name=f"사용{n}",
            username=f"app{n}", institution=inst, mobile=f"0108000{n:04d}",
            office_phone="0221483500", consent_at=timezone.now(), consent_version="load",
            permissions=[RequestedPermission(permission_type=ptype, body=body)])
        grant = Grant.objects.get(user=user)
        grant_approve(grant_id=grant.pk, officer=user.__class__.objects.get(
            username=officer_names[0]).officer)
        applicant_names.append(user.username)
    supplementary_info_save(institution=inst, actor=None, data={
        "english_name": "Jongno Yonsei Clinic", "business_number": "1168200276",
        "representative_name": "김대표", "phone_area": "02", "phone_number": "21483500",
        "fax_area": "", "fax_number": "", "category": Category.objects.get(code="31"),
        "jurisdiction": body, "information_system": MedicalInformationSystem.objects.first(),
        "information_system_other": "", "predoctor_names": [], "vaccinator_names": [],
        "mobile": "", "email": "", "email_consent": False, "mobile_consent": False})
    (data / "applicants.txt").write_text("\n".join(applicant_names))
    (data / "officers.txt").write_text("\n".join(officer_names))
    (data / "institution.txt").write_text(str(inst.pk))
    (data / "body.txt").write_text(str(body.pk))
    return {"CERT_TRUST_ANCHORS": str(data / "ca.pem"), "CERT_CRL_PATHS": str(data / "crl.pem")}


def worker_rss(master_pid: int) -> list[int]:
    """Resident memory (KiB) of each gunicorn worker (children of the master)."""
    out = subprocess.run(["ps", "-o", "pid=,rss=", "--ppid", str(master_pid)],
                         capture_output=True, text=True).stdout.split()
    return [int(rss) for rss in out[1::2]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--soak", type=int, default=0, help="soak duration in seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    duration = args.soak or args.seconds
    with throwaway_database("kdcis_bench_load") as db_url, \
            tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = {"PHONE_CODE_MAX_PER_IP_PER_HOUR": "1000000",
                    "PHONE_CODE_MAX_PER_NUMBER_PER_DAY": "1000000",
                    "LOGIN_MAX_FAILURES_PER_IP": "1000000", "PHONE_CODE_RESEND_SECONDS": "0",
                    "ID_CHECK_MAX_PER_IP": "1000000"}
        setup_django(db_url, **settings)
        settings.update(prepare(data, applicants=200, officers=5))
        twilio_port = free_port()
        fake = subprocess.Popen([PYTHON, str(ROOT / "tests/kdcis/fake_twilio.py"), "--port",
                                 str(twilio_port), "--sid", SID, "--token", TOKEN],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        settings.update({"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": SID,
                         "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": "+15005550006",
                         "TWILIO_API_BASE_URL": f"http://127.0.0.1:{twilio_port}"})
        try:
            with gunicorn(db_url, workers=args.workers, threads=args.threads,
                          **settings) as url:
                master = _master_pid(url)
                time.sleep(1)
                start_rss = worker_rss(master)
                env = base_env(DATABASE_URL=db_url, LOAD_DATA_DIR=str(data),
                               PYTHONPATH=str(ROOT), **settings)
                prefix = data / "stats"
                samples: list[tuple[int, list[int]]] = []
                sampling = threading.Event()

                def sample_memory() -> None:
                    began = time.monotonic()
                    while not sampling.wait(60):
                        samples.append((round(time.monotonic() - began), worker_rss(master)))

                sampler = threading.Thread(target=sample_memory, daemon=True)
                sampler.start()
                subprocess.run(
                    [PYTHON, "-m", "locust", "-f", str(ROOT / "benchmarks/locustfile.py"),
                     "--headless", "-u", str(args.users), "-r", str(max(1, args.users // 5)),
                     "-t", f"{duration}s", "--host", url, "--csv", str(prefix),
                     "--only-summary", "--loglevel", "WARNING"],
                    env=env, cwd=ROOT, check=False, stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE)
                end_rss = worker_rss(master)
                sampling.set()
        finally:
            fake.terminate()
        report(prefix, args, duration, start_rss, end_rss)
        for second, rss in samples:
            print(f"  worker RSS after {second:4d} s: {[f'{kb / 1024:.1f} MiB' for kb in rss]}")


def _master_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1]
    out = subprocess.run(["pgrep", "-f", f"gunicorn kdcis.wsgi:application --bind 127.0.0.1:{port}"],
                         capture_output=True, text=True).stdout.split()
    return min(int(pid) for pid in out)


def report(prefix: Path, args, duration: int, start_rss: list[int], end_rss: list[int]) -> None:
    rows = list(csv.DictReader(open(f"{prefix}_stats.csv", encoding="utf-8")))
    print(f"load: {args.users} users for {duration} s, gunicorn {args.workers} workers x "
          f"{args.threads} threads, PostgreSQL, SMS to the fake Twilio server")
    print(f"  {'page':42s} {'reqs':>6s} {'fails':>5s} {'rps':>6s} {'p50':>6s} {'p95':>6s} "
          f"{'p99':>6s}")
    for row in rows:
        name = row["Name"] if row["Name"] != "Aggregated" else "ALL"
        print(f"  {name:42s} {row['Request Count']:>6s} {row['Failure Count']:>5s} "
              f"{float(row['Requests/s']):6.1f} {row['50%']:>6s} {row['95%']:>6s} "
              f"{row['99%']:>6s}")
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists():
        for row in list(csv.DictReader(open(failures, encoding="utf-8")))[:10]:
            print(f"  failure: {row['Method']} {row['Name']}: {row['Error']} x{row['Occurrences']}")
    print(f"  worker RSS at start: {[f'{kb / 1024:.1f} MiB' for kb in start_rss]}")
    print(f"  worker RSS at end:   {[f'{kb / 1024:.1f} MiB' for kb in end_rss]}")
    print("  goals: 0 errors, p95 <= 200 ms per page at 50 users, no memory growth")


if __name__ == "__main__":
    main()
