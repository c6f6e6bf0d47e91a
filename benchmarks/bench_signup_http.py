"""Signup wizard under 20 concurrent clients over HTTP against gunicorn and PostgreSQL.

Each client walks the whole wizard (consent, certificate signature, ID check, SMS code,
profile, permission request) with its own certificate; the script prints each step's
latency percentiles and the signups per second.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \
        benchmarks/bench_signup_http.py [--clients 20] [--signups-per-client 5]
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import gunicorn, setup_django, summary, throwaway_database  # noqa: E402

CHALLENGE = re.compile(r'name="challenge" value="([^"]+)"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--signups-per-client", type=int, default=5)
    args = parser.parse_args()
    total = args.clients * args.signups_per_client

    with throwaway_database("kdcis_bench_signup") as db_url, tempfile.TemporaryDirectory() as tmp:
        limits = {"PHONE_CODE_MAX_PER_IP_PER_HOUR": "100000",
                  "PHONE_CODE_MAX_PER_NUMBER_PER_DAY": "100000",
                  "CERT_TRUST_ANCHORS": f"{tmp}/ca.pem", "CERT_CRL_PATHS": f"{tmp}/crl.pem"}
        setup_django(db_url, **limits)
        from django.core.management import call_command

        from accounts import pki

        call_command("migrate", verbosity=0)
        call_command("load_reference_data", verbosity=0)
        ca = pki.make_ca("Bench CA")
        Path(tmp, "ca.pem").write_bytes(pki.pem(ca.cert))
        Path(tmp, "crl.pem").write_bytes(pki.pem(pki.make_crl(ca, [1])))
        key = pki.cached_key("bench-user")
        certs = [pki.make_user_certificate(ca, common_name=f"벤치{n}()00100412008{n:08d}",
                                           key=key) for n in range(total)]
        from institutions.models import ApprovingBody, Institution
        from kdcis.models import SmsMessage

        inst = Institution.objects.get(number="11110101")
        body = ApprovingBody.objects.get(code="HC-11110-1")

        timings: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []
        lock = threading.Lock()

        def timed(step, fn):
            start = time.perf_counter()
            response = fn()
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                timings[step].append(elapsed)
            if response.status_code >= 400:
                raise RuntimeError(f"{step}: HTTP {response.status_code}")
            return response

        def signup(base: str, n: int) -> None:
            import requests

            issued = certs[n]
            s = requests.Session()
            mobile = f"010{50000000 + n:08d}"
            username = f"bench{n:05d}"

            def post(path, data):
                data = {**data, "csrfmiddlewaretoken": s.cookies.get("csrftoken", "")}
                return s.post(base + path, data=data, allow_redirects=False,
                              headers={"Referer": base + path})

            timed("consent (GET)", lambda: s.get(base + "/signup/consent/"))
            timed("consent (POST)", lambda: post("/signup/consent/", {"agree": "on"}))
            page = timed("certificate (GET)", lambda: s.get(base + "/signup/certificate/"))
            challenge = CHALLENGE.search(page.text).group(1)
            signature = pki.sign_challenge(issued.key, challenge.encode())
            r = timed("certificate (POST, verify)", lambda: post("/signup/certificate/", {
                "challenge": challenge, "certificate": base64.b64encode(issued.der).decode(),
                "signature": base64.b64encode(signature).decode()}))
            assert r.headers.get("Location") == "/signup/profile/", r.status_code
            form = {"username": username, "mobile": mobile, "office_phone": "0221483500",
                    "query": inst.name, "institution_choice": str(inst.pk)}
            timed("profile: ID check", lambda: s.get(base + "/signup/check-id/",
                                                     params={"username": username}))
            timed("profile: institution search", lambda: post(
                "/signup/profile/search/", form))
            timed("profile: send SMS code", lambda: post(
                "/signup/profile/send-code/", form))
            text = SmsMessage.objects.filter(to=mobile).order_by("-id").values_list(
                "text", flat=True)[0]
            code = text.split("[")[2].split("]")[0]
            timed("profile: verify code", lambda: post(
                "/signup/profile/verify-code/", {**form, "code": code}))
            r = timed("profile: next", lambda: post("/signup/profile/", form))
            assert r.headers.get("Location") == "/signup/permissions/", r.status_code
            timed("permissions (GET)", lambda: s.get(base + "/signup/permissions/"))
            r = timed("permissions (POST, submit)", lambda: post("/signup/permissions/", {
                "perm_vaccination_user": "on", "body_vaccination_user": str(body.pk)}))
            assert r.headers.get("Location") == "/signup/done/", r.status_code
            timed("done (GET)", lambda: s.get(base + "/signup/done/"))

        with gunicorn(db_url, workers=2, threads=8, **limits) as base:
            def client(index: int) -> None:
                for k in range(args.signups_per_client):
                    try:
                        signup(base, index * args.signups_per_client + k)
                    except Exception as exc:  # noqa: BLE001 - counted and printed
                        with lock:
                            errors.append(repr(exc))
                    finally:
                        from django.db import connection

                        connection.close()

            start = time.perf_counter()
            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - start

        from accounts.models import User

        created = User.objects.filter(username__startswith="bench").count()
        print(f"signup wizard over HTTP: {args.clients} concurrent clients, gunicorn 2 workers "
              f"x 8 threads, PostgreSQL")
        for step, values in timings.items():
            print(f"  {step:32s} {summary(values)}")
        print(f"  accounts created: {created}/{total}, errors: {len(errors)}, "
              f"{created / wall:.1f} signups/s ({wall:.1f} s)")
        for error in errors[:5]:
            print(f"  error: {error}")


if __name__ == "__main__":
    main()
