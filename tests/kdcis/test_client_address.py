"""The client's address behind a real nginx, and with forged headers (issue 16, item 1).

X-Forwarded-For is a list the client starts; only the entries appended by our own proxies
(counted from the right, TRUSTED_PROXY_HOPS) are trusted. The portal used to take the
left-most entry, so a header chose the rate-limit key and the audit row's address, and a
value that was not an address gave a 500.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from django.test import RequestFactory

from kdcis import ratelimit
from kdcis.models import AuditEvent, RateCounter
from kdcis.ratelimit import stored_key
from tests.servers import wait_until_listening

NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
ROOT = Path(__file__).resolve().parents[2]
# The real client's address: the test connects to nginx from this loopback address, while
# nginx reaches the portal from 127.0.0.1 (REMOTE_ADDR), so the two can be told apart.
CLIENT = "127.0.0.3"


def ip_of(meta: dict, hops: int, settings) -> str:
    settings.TRUSTED_PROXY_HOPS = hops
    request = RequestFactory().get("/", **meta)
    return ratelimit.client_ip(request)


@pytest.mark.parametrize(("hops", "meta", "expected"), [
    # No proxy: the header is the client's own words.
    (0, {"REMOTE_ADDR": "203.0.113.7", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "203.0.113.7"),
    # One proxy: the right-most entry, whatever the client put before it.
    (1, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 203.0.113.7"},
     "203.0.113.7"),
    (1, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "203.0.113.7"),
    # Two proxies: the second entry from the right.
    (2, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7, 10.0.0.1"},
     "203.0.113.7"),
    # Fewer entries than hops (not through every proxy), a non-address, no header: the peer.
    (2, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "10.0.0.2"),
    (1, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4, <script>"},
     "127.0.0.1"),
    (1, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": " , "}, "127.0.0.1"),
    (1, {"REMOTE_ADDR": "127.0.0.1"}, "127.0.0.1"),
    # IPv6 comes back normalised; a broken REMOTE_ADDR still gives an address.
    (1, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "2001:DB8:0:0::1"}, "2001:db8::1"),
    (0, {"REMOTE_ADDR": "not an address"}, "0.0.0.0"),
])
def test_the_trusted_entry_is_counted_from_the_right(hops, meta, expected, settings):
    assert ip_of(meta, hops, settings) == expected


# ------------------------------------------------------------------------- a real nginx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _shipped_location(upstream: str) -> str:
    """The `location /` block of deploy/nginx/kdcis.conf, pointed at the test's server."""
    conf = (ROOT / "deploy" / "nginx" / "kdcis.conf").read_text()
    block = re.search(r"location / \{.*?\}", conf, re.S).group(0)
    return block.replace("http://127.0.0.1:8000", upstream)


@pytest.fixture
def nginx(live_server, tmp_path):
    """nginx on a free port with its own prefix, in front of the live server, configured
    with the shipped deploy/nginx/kdcis.conf proxy directives (without TLS)."""
    if not shutil.which(NGINX):
        if os.environ.get("CI"):
            pytest.fail(f"no nginx at {NGINX}: .ci/run installs nginx-light")
        pytest.skip(f"no nginx at {NGINX}: apt-get install nginx-light (CI does)")
    port = _free_port()
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / name).mkdir()
    (tmp_path / "nginx.conf").write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    server {{
        listen 127.0.0.1:{port};
        {_shipped_location(live_server.url)}
    }}
}}
""")
    proc = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                             "-e", str(tmp_path / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        wait_until_listening(proc, port, what="nginx", pause=0.05)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


class Browser:
    """A client of its own loopback address, keeping cookies, speaking through nginx."""

    def __init__(self, port: int, source: str = CLIENT):
        self.port, self.source, self.cookies = port, source, {}

    def request(self, method: str, path: str, body: str = "", headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                                source_address=(self.source, 0))
        all_headers = {"Host": "127.0.0.1", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body:
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body.encode(), headers=all_headers)
        response = connection.getresponse()
        content = response.read().decode()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _sep, rest = value.partition("=")
                self.cookies[name] = rest.split(";")[0]
        connection.close()
        return response.status, content

    def failed_login(self, forged: str):
        from urllib.parse import urlencode

        status, page = self.request("GET", "/login/", headers={"X-Forwarded-For": forged})
        assert status == 200, page
        challenge = re.search(r'name="challenge" value="([^"]+)"', page).group(1)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        return self.request("POST", "/login/", body=urlencode({
            "csrfmiddlewaretoken": csrf, "challenge": challenge,
            "certificate": "bm90IGEgY2VydGlmaWNhdGU=", "signature": "AAAA"}),
            headers={"X-Forwarded-For": forged})


@pytest.fixture
def behind_one_proxy(settings, reference_data):
    settings.TRUSTED_PROXY_HOPS = 1
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("forged", ["6.6.6.6", "6.6.6.6, 7.7.7.7", "not-an-ip", "<script>",
                                    "1.2.3.4:80", ""])
def test_behind_nginx_a_forged_header_changes_neither_the_limit_key_nor_the_audit_address(
        nginx, behind_one_proxy, forged, pinned_clock):
    status, _page = Browser(nginx).failed_login(forged)
    assert status == 200  # the login page again, with the error; never a 500
    keys = set(RateCounter.objects.values_list("key", flat=True))
    assert stored_key(f"login-fail-ip:{CLIENT}") in keys
    assert not any(k.startswith("login-fail-ip:") and k != stored_key(f"login-fail-ip:{CLIENT}")
                   for k in keys), keys
    assert list(AuditEvent.objects.filter(action="account.login_failed")
                .values_list("ip", flat=True)) == [CLIENT]


@pytest.mark.django_db(transaction=True)
def test_behind_nginx_each_client_has_its_own_limit(nginx, behind_one_proxy, settings,
                                                    pinned_clock):
    """The VM setup used to see every visitor as nginx's 127.0.0.1: one person's failures
    locked everyone out."""
    settings.LOGIN_MAX_FAILURES_PER_IP = 2
    mallory = Browser(nginx, "127.0.0.4")
    for _ in range(2):
        assert mallory.failed_login("")[0] == 200
    assert mallory.failed_login("9.9.9.9")[0] == 429  # and a header does not help
    assert Browser(nginx).failed_login("")[0] == 200  # another client is not limited


@pytest.mark.django_db(transaction=True)
def test_without_a_proxy_a_bad_header_is_ignored_and_never_a_500(live_server, settings,
                                                                 reference_data):
    import requests

    settings.TRUSTED_PROXY_HOPS = 0
    response = requests.get(f"{live_server.url}/login/",
                            headers={"X-Forwarded-For": "not-an-ip, \u00ff"}, timeout=30)
    assert response.status_code == 200
    settings.TRUSTED_PROXY_HOPS = 1  # misconfigured: a proxy is expected but none is there
    response = requests.get(f"{live_server.url}/login/",
                            headers={"X-Forwarded-For": "<script>"}, timeout=30)
    assert response.status_code == 200
