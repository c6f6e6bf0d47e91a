"""Two app servers on two ports, one PostgreSQL database: a signup alternating between them
loses nothing (sessions, codes, rate limits and challenges all live in the database)."""

import base64
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from accounts import pki
from tests.servers import wait_until_listening

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server(port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kdcis.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--threads", "2", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    wait_until_listening(proc, port, what="gunicorn")
    return proc


@pytest.fixture
def two_servers(reference_data, test_pki):
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="kdcis.settings",
               SECRET_KEY="two-servers-test-secret-key-0123456789abcdefghijklmnop",
               SECURE="false", ALLOWED_HOSTS="127.0.0.1", SMS_BACKEND="console",
               CERT_TRUST_ANCHORS=str(test_pki.anchors), CERT_CRL_PATHS=str(test_pki.crl),
               STATICFILES_STORAGE="django.contrib.staticfiles.storage.StaticFilesStorage",
               WHITENOISE_USE_FINDERS="true", REQUEST_LOG_LEVEL="WARNING", DB_CONN_MAX_AGE="0",
               PYTHONPATH=str(ROOT))
    ports = [_free_port(), _free_port()]
    procs = [_server(port, env) for port in ports]
    try:
        yield [f"http://127.0.0.1:{p}" for p in ports]
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)


def test_a_signup_alternating_between_two_servers_loses_nothing(two_servers, test_pki):
    import requests

    from accounts.models import User
    from institutions.models import ApprovingBody, Institution
    from kdcis.models import SmsMessage

    a, b = two_servers
    servers = iter([a, b] * 20)
    s = requests.Session()

    def get(path):
        response = s.get(next(servers) + path, allow_redirects=False)
        assert response.status_code < 500, response.text[:300]
        return response

    def post(path, data):
        data = {**data, "csrfmiddlewaretoken": s.cookies.get("csrftoken", "")}
        response = s.post(next(servers) + path, data=data, allow_redirects=False)
        assert response.status_code < 400, response.text[:300]
        return response

    get("/signup/consent/")
    assert post("/signup/consent/", {"agree": "on"}).headers["Location"] == "/signup/certificate/"
    page = get("/signup/certificate/")
    challenge = re.search(r'name="challenge" value="([^"]+)"', page.text).group(1)
    issued = test_pki.issue("이중서버()0010041200805281000099")
    response = post("/signup/certificate/", {
        "challenge": challenge, "certificate": base64.b64encode(issued.der).decode(),
        "signature": base64.b64encode(pki.sign_challenge(issued.key, challenge.encode())
                                      ).decode()})
    assert response.headers["Location"] == "/signup/profile/"
    inst = Institution.objects.get(number="11110101")
    form = {"username": "twoservers", "mobile": "01024681357", "office_phone": "0221483500",
            "query": "종로", "institution_choice": str(inst.pk)}
    post("/signup/profile/search/", form)
    post("/signup/profile/send-code/", form)
    text = SmsMessage.objects.filter(to="01024681357").latest("id").text
    code = text.split("[")[2].split("]")[0]
    post("/signup/profile/verify-code/", {**form, "code": code})
    assert post("/signup/profile/", form).headers["Location"] == (
        "/signup/permissions/")
    assert "예방접종관리 User" in get("/signup/permissions/").text
    body = ApprovingBody.objects.get(code="HC-11110-1")
    response = post("/signup/permissions/", {"perm_vaccination_user": "on",
                                             "body_vaccination_user": str(body.pk)})
    assert response.headers["Location"] == "/signup/done/"
    assert "가입 신청이 접수되었습니다" in get("/signup/done/").text
    user = User.objects.get(username="twoservers")
    assert user.status == "pending" and user.name == "이중서버"
    # The certificate login works on either server too.
    page = get("/login/")
    challenge = re.search(r'name="challenge" value="([^"]+)"', page.text).group(1)
    post("/login/", {"challenge": challenge,
                     "certificate": base64.b64encode(issued.der).decode(),
                     "signature": base64.b64encode(pki.sign_challenge(
                         issued.key, challenge.encode())).decode()})
    assert "가입 신청 처리 현황" in get("/").text
