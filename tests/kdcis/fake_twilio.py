"""A local fake of Twilio's Messages API for tests and load tests.

    with FakeTwilio(account_sid="AC...", auth_token="...") as fake:
        settings.TWILIO_API_BASE_URL = fake.base_url
        ...
        assert fake.messages[0]["to"] == "+821012345678"

It implements `POST /2010-04-01/Accounts/{sid}/Messages.json` with HTTP basic auth, answers
like Twilio (201 with a JSON message whose sid starts with "SM", or a JSON error), records the
accepted messages and can be told to misbehave:

* `fail_next(n, status=500)`: the next n requests get an error (400 defaults to code 21211,
  "invalid 'To' number"; 429 to 20429; 5xx to 20500);
* `stall_next(n, seconds)`: the next n requests hang for `seconds` (longer than the client's
  timeout) and are then answered 504 without being recorded;
* `invalid_numbers`: numbers that always get 400 / 21211.

Run it standalone for load tests: `python tests/kdcis/fake_twilio.py --port 8765`.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import signal
import threading
import uuid
from collections import Counter, deque
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

DEFAULT_SID = "AC00000000000000000000000000000000"
DEFAULT_TOKEN = "fake-twilio-auth-token"

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
_DEFAULT_CODES = {400: 21211, 401: 20003, 404: 20404, 429: 20429}
_DEFAULT_TEXTS = {
    400: "The 'To' number is not a valid phone number.",
    401: "Authenticate",
    404: "The requested resource was not found",
    429: "Too Many Requests",
}


class FakeTwilio:
    """The fake server. Thread-safe; `start()`/`stop()` or use it as a context manager."""

    def __init__(self, *, account_sid: str = DEFAULT_SID, auth_token: str = DEFAULT_TOKEN,
                 host: str = "127.0.0.1", port: int = 0, latency: float = 0.0,
                 fail_rate: float = 0.0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.latency = latency
        self.fail_rate = fail_rate
        self.messages: list[dict] = []
        self.requests: list[dict] = []
        self.invalid_numbers: set[str] = set()
        self._plan: deque[tuple] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> FakeTwilio:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes stalled handlers
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- behaviour -----------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, *, code: int | None = None,
                  message: str | None = None) -> None:
        """Answer the next `n` message requests with a Twilio-like JSON error."""
        with self._lock:
            for _ in range(n):
                self._plan.append(("fail", status, code, message))

    def stall_next(self, n: int = 1, seconds: float = 5.0) -> None:
        """Let the next `n` message requests hang for `seconds`, then answer 504 (unrecorded)."""
        with self._lock:
            for _ in range(n):
                self._plan.append(("stall", seconds))

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.requests.clear()
            self._plan.clear()
            self.invalid_numbers.clear()

    def _next_action(self) -> tuple | None:
        with self._lock:
            return self._plan.popleft() if self._plan else None

    def _record(self, kind: str, item: dict) -> None:
        with self._lock:
            (self.messages if kind == "message" else self.requests).append(item)


def _error_body(status: int, code: int | None, message: str | None) -> dict:
    code = code or _DEFAULT_CODES.get(status) or (20500 if status >= 500 else status)
    return {
        "code": code,
        "message": message or _DEFAULT_TEXTS.get(status, "An internal server error occurred."),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeTwilio/1.0"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    @property
    def fake(self) -> FakeTwilio:
        return self.server.fake

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _send_json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout)

    def _error(self, status: int, code: int | None = None, message: str | None = None) -> None:
        self._send_json(status, _error_body(status, code, message))

    def _authorized(self, sid: str) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.fake.account_sid == sid and password == self.fake.auth_token

    def do_GET(self):
        self._error(404)

    def do_POST(self):
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        match = _MESSAGES_PATH.match(self.path.split("?", 1)[0])
        fake._record("request", {"path": self.path, "form": form})
        if not match:
            return self._error(404)
        if not self._authorized(match["sid"]):
            return self._error(401)
        if fake.latency:
            fake._stopping.wait(fake.latency)
        action = fake._next_action()
        if action and action[0] == "stall":
            fake._stopping.wait(action[1])
            return self._error(504, 20504, "Gateway timeout (stalled by the fake)")
        if action and action[0] == "fail":
            return self._error(action[1], action[2], action[3])
        if fake.fail_rate and random.random() < fake.fail_rate:
            return self._error(503)
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if not to or not body or not (sender or service):
            return self._error(400, 21604, "A 'To', 'Body' and 'From' or service are required.")
        if to in fake.invalid_numbers:
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        sid = "SM" + uuid.uuid4().hex
        fake._record("message", {"sid": sid, "to": to, "body": body, "from": sender,
                                 "messaging_service_sid": service, "account_sid": match["sid"]})
        now = format_datetime(datetime.now(UTC), usegmt=True)
        self._send_json(201, {
            "sid": sid, "account_sid": match["sid"], "to": to, "from": sender, "body": body,
            "messaging_service_sid": service, "status": "queued", "direction": "outbound-api",
            "num_segments": "1", "num_media": "0", "price": None, "price_unit": "USD",
            "error_code": None, "error_message": None, "api_version": "2010-04-01",
            "date_created": now, "date_updated": now, "date_sent": None,
            "uri": f"/2010-04-01/Accounts/{match['sid']}/Messages/{sid}.json",
            "subresource_uris": {},
        })


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a fake Twilio Messages API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--sid", default=DEFAULT_SID, help="account SID to accept")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="auth token to accept")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds every message request takes")
    parser.add_argument("--fail-rate", type=float, default=0.0,
                        help="share of requests answered 503 (0 to 1)")
    args = parser.parse_args(argv)
    fake = FakeTwilio(account_sid=args.sid, auth_token=args.token, host=args.host,
                      port=args.port, latency=args.latency, fail_rate=args.fail_rate)
    print(f"fake Twilio on {fake.base_url} (TWILIO_API_BASE_URL={fake.base_url})", flush=True)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake._server.server_close()
        accepted = Counter(m["body"] for m in fake.messages)
        duplicates = sum(n - 1 for n in accepted.values())
        print(f"accepted {len(fake.messages)} message(s) ({duplicates} duplicate bodies), "
              f"{len(fake.requests)} request(s)", flush=True)


if __name__ == "__main__":
    main()
