"""Real revocation servers that the tests start: an OCSP responder (`openssl ocsp`), an
OpenLDAP `slapd` holding partitioned CRLs, and a plain HTTP server publishing CRLs.

Each runs unprivileged on a free port of 127.0.0.1 in a temporary folder of its own and is
stopped when its context ends.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.server
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from accounts import pki
from tests.servers import wait_until_listening

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
LDAP_MODULES = "/usr/lib/ldap"
LDAP_SCHEMA = "/etc/ldap/schema"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# ----------------------------------------------------------------------------------- OCSP


def _index_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ")


def ocsp_index(*, good: list[pki.Issued] = (), revoked: list[pki.Issued] = ()) -> str:
    """An `openssl ca` index file: V (valid) and R (revoked) lines; any serial not listed
    is answered `unknown`."""
    lines = []
    for status, issued in [("V", i) for i in good] + [("R", i) for i in revoked]:
        cert = issued.cert
        revoked_at = _index_time(cert.not_valid_before_utc + dt.timedelta(hours=1)) \
            if status == "R" else ""
        lines.append("\t".join([status, _index_time(cert.not_valid_after_utc), revoked_at,
                                format(cert.serial_number, "X"), "unknown",
                                "/" + cert.subject.rfc4514_string().replace(",", "/")]))
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def ocsp_responder(directory: Path, ca: pki.Authority, signer: pki.Issued | pki.Authority,
                   index: str, *, port: int | None = None) -> Iterator[str]:
    """`openssl ocsp` answering for `ca` from `index`, signing with `signer` (the CA itself
    or a delegated responder), nextUpdate one day ahead. Yields its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    (directory / "index.txt").write_text(index)
    (directory / "index.txt.attr").write_text("unique_subject = no\n")
    (directory / "ca.pem").write_bytes(pki.pem(ca.cert))
    (directory / "rsigner.pem").write_bytes(pki.pem(signer.cert))
    (directory / "rkey.pem").write_bytes(pki.pem(signer.key))
    proc = subprocess.Popen(
        [OPENSSL, "ocsp", "-index", "index.txt", "-port", str(port),
         "-rsigner", "rsigner.pem", "-rkey", "rkey.pem", "-CA", "ca.pem", "-ndays", "1",
         "-ignore_err"],
        cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        # Not a probe connection: the responder serves one connection at a time and waits
        # for a request on a probe that never sends one. It says when it listens.
        _wait_for_line(proc, b"waiting for OCSP client connections", what="openssl ocsp")
        yield f"http://127.0.0.1:{port}/"
    finally:
        _stop(proc)


def _wait_for_line(proc: subprocess.Popen, marker: bytes, *, what: str,
                   seconds: float = 30) -> None:
    """Read the server's stderr until `marker` (a readiness message of the server's own);
    raise with its output if it exits first or stays silent."""
    import selectors

    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stderr, selectors.EVENT_READ)
        while marker not in seen:
            if not selector.select(timeout=seconds):
                raise RuntimeError(f"{what} did not start: {seen.decode(errors='replace')}")
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"{what} exited: {seen.decode(errors='replace')}")
            seen += chunk
    # Keep draining its output, or a full pipe stops the server after a few thousand
    # requests (each one is logged).
    threading.Thread(target=lambda: [None for _ in iter(
        lambda: os.read(proc.stderr.fileno(), 65536), b"")], daemon=True).start()


# ----------------------------------------------------------------------------------- LDAP

SUFFIX = "o=KDCIS Test,c=KR"


def ldap_url(port: int, dn: str, attribute: str = "certificateRevocationList;binary") -> str:
    return f"ldap://127.0.0.1:{port}/{dn}?{attribute}"


@contextlib.contextmanager
def slapd(directory: Path, port: int, crls: dict[str, bytes]) -> Iterator[int]:
    """OpenLDAP's slapd on `port` with an MDB database under `SUFFIX` holding one
    cRLDistributionPoint entry per DN of `crls` (DN → DER CRL), loaded with slapadd."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    data.mkdir(exist_ok=True)
    conf = directory / "slapd.conf"
    conf.write_text(f"""
include {LDAP_SCHEMA}/core.schema
include {LDAP_SCHEMA}/cosine.schema
pidfile {directory}/slapd.pid
argsfile {directory}/slapd.args
modulepath {LDAP_MODULES}
moduleload back_mdb
database mdb
maxsize 104857600
suffix "{SUFFIX}"
rootdn "cn=admin,{SUFFIX}"
directory {data}
access to * by * read
""")
    entries = [f"dn: {SUFFIX}\nobjectClass: organization\no: KDCIS Test\n"]
    containers = set()
    for dn in crls:
        parent = dn.split(",", 1)[1]
        if parent != SUFFIX and parent not in containers:
            containers.add(parent)
            entries.append(f"dn: {parent}\nobjectClass: organizationalUnit\n"
                           f"ou: {parent.split(',', 1)[0].split('=', 1)[1]}\n")
    for dn, der in crls.items():
        cn = dn.split(",", 1)[0].split("=", 1)[1]
        entries.append(f"dn: {dn}\nobjectClass: cRLDistributionPoint\ncn: {cn}\n"
                       f"certificateRevocationList;binary:: {base64.b64encode(der).decode()}\n")
    ldif = directory / "data.ldif"
    ldif.write_text("\n".join(entries))
    subprocess.run([SLAPADD, "-f", str(conf), "-l", str(ldif)], check=True,
                   capture_output=True)
    proc = subprocess.Popen(
        [SLAPD, "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_until_listening(proc, port, what="slapd")
        yield port
    finally:
        _stop(proc)


# ----------------------------------------------------------------------------------- HTTP


class CrlFiles(dict):
    """Path → bytes served by :func:`http_server`; change it while the server runs."""


@contextlib.contextmanager
def http_server(files: CrlFiles) -> Iterator[str]:
    """A threaded HTTP server on a free port serving `files`; yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def der(crl) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)
