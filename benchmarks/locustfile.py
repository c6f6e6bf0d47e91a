"""Locust scenario: signups, certificate logins, the permissions page and approvals.

Run through benchmarks/bench_load.py, which prepares the database, certificates, the fake
Twilio server and gunicorn, and passes their locations in the environment.
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import threading
from pathlib import Path

import psycopg2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from locust import HttpUser, between, task

from accounts import pki

DATA = Path(os.environ["LOAD_DATA_DIR"])
CHALLENGE = re.compile(r'name="challenge" value="([^"]+)"')
CA = pki.Authority(
    cert=x509.load_pem_x509_certificate((DATA / "ca.pem").read_bytes()),
    key=serialization.load_pem_private_key((DATA / "ca-key.pem").read_bytes(), None),
)
USER_KEY = serialization.load_pem_private_key((DATA / "user-key.pem").read_bytes(), None)
APPLICANTS = (DATA / "applicants.txt").read_text().split()
OFFICERS = (DATA / "officers.txt").read_text().split()
INSTITUTION_ID = (DATA / "institution.txt").read_text().strip()
BODY_ID = (DATA / "body.txt").read_text().strip()
_counter = itertools.count()
_lock = threading.Lock()
_db = threading.local()


def _next() -> int:
    with _lock:
        return next(_counter)


def _sms_code(mobile: str) -> str:
    """The code the portal sent, read from its outbox (the fake Twilio got the same text)."""
    if not hasattr(_db, "conn"):
        _db.conn = psycopg2.connect(os.environ["DATABASE_URL"])
        _db.conn.autocommit = True
    with _db.conn.cursor() as cur:
        cur.execute("SELECT text FROM kdcis_smsmessage WHERE \"to\" = %s ORDER BY id DESC "
                    "LIMIT 1", [mobile])
        return cur.fetchone()[0].split("[")[2].split("]")[0]


def _cert_der(name: str) -> bytes:
    path = DATA / "certs" / f"{name}.der"
    return path.read_bytes()


class PortalUser(HttpUser):
    abstract = True
    wait_time = between(0.5, 2.0)

    def _post(self, path, data, name=None):
        data = {**data, "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")}
        return self.client.post(path, data=data, allow_redirects=False, name=name or path)

    def _sign_and_post(self, path, der: bytes, name: str):
        page = self.client.get(path, name=f"{name} (GET)")
        challenge = CHALLENGE.search(page.text).group(1)
        signature = pki.sign_challenge(USER_KEY, challenge.encode())
        return self._post(path, {"challenge": challenge,
                                 "certificate": base64.b64encode(der).decode(),
                                 "signature": base64.b64encode(signature).decode()},
                          name=f"{name} (POST)")

    def login(self, username: str) -> None:
        self.client.cookies.clear()
        self._sign_and_post("/login/", _cert_der(username), "/login/")


class Applicant(PortalUser):
    """An existing user: logs in, looks at the main screen and 권한 부가정보."""

    weight = 3

    def on_start(self):
        self.username = APPLICANTS[_next() % len(APPLICANTS)]
        self.login(self.username)

    @task(3)
    def main_screen(self):
        self.client.get("/", name="/ (main)")

    @task(2)
    def permissions(self):
        self.client.get("/permissions/", name="/permissions/")
        self.client.get("/permissions/?status=requestable", name="/permissions/?requestable")

    @task(1)
    def relogin(self):
        self.login(self.username)


class Officer(PortalUser):
    """A health-center officer working through the queue."""

    weight = 1

    def on_start(self):
        self.login(OFFICERS[_next() % len(OFFICERS)])

    @task(4)
    def queue(self):
        self.client.get("/approvals/", name="/approvals/")

    @task(1)
    def approve_oldest(self):
        page = self.client.get("/approvals/", name="/approvals/")
        ids = re.findall(r'name="grant" value="(\d+)"', page.text)
        if ids:
            self.client.get(f"/approvals/{ids[0]}/", name="/approvals/<id>/")
            self._post("/approvals/decide/", {"grant": ids[0], "action": "approve",
                                              "back": "/approvals/"}, name="/approvals/decide/")


class NewApplicant(PortalUser):
    """A newcomer walking the whole signup wizard."""

    weight = 2

    @task
    def signup(self):
        n = _next()
        self.client.cookies.clear()
        issued = pki.make_user_certificate(CA, common_name=f"부하{n}()0010041200805{n:09d}",
                                           key=USER_KEY)
        mobile = f"0107{os.getpid() % 1000:03d}{n % 10000:04d}"
        username = f"load{os.getpid()}x{n}"
        self.client.get("/signup/consent/", name="/signup/consent/ (GET)")
        self._post("/signup/consent/", {"agree": "on"}, name="/signup/consent/ (POST)")
        self._sign_and_post("/signup/certificate/", issued.der, "/signup/certificate/")
        form = {"username": username, "mobile": mobile, "office_phone": "0221483500",
                "query": "종로연세", "institution_choice": INSTITUTION_ID}
        self.client.get(f"/signup/check-id/?username={username}", name="/signup/check-id/")
        self._post("/signup/profile/search/", form, name="/signup/profile/search/")
        self._post("/signup/profile/send-code/", form, name="/signup/profile/send-code/")
        self._post("/signup/profile/verify-code/", {**form, "code": _sms_code(mobile)},
                   name="/signup/profile/verify-code/")
        self._post("/signup/profile/", form, name="/signup/profile/ (next)")
        self.client.get("/signup/permissions/", name="/signup/permissions/ (GET)")
        data = {"perm_vaccination_user": "on", "body_vaccination_user": BODY_ID,
                "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")}
        with self.client.post("/signup/permissions/", data=data, allow_redirects=False,
                              name="/signup/permissions/ (POST)",
                              catch_response=True) as response:
            if response.headers.get("Location") != "/signup/done/":
                response.failure("signup did not complete")
        self.client.get("/signup/done/", name="/signup/done/")
