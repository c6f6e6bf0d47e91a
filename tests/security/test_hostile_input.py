"""Hostile input into every form of the portal, with hypothesis.

Every test drives one form through the Django test client and posts values drawn from
`hostile()`: very long strings (10k-100k characters), control characters (NUL, ESC, bidi
overrides), SQL fragments, HTML and script fragments, Unicode confusables (fullwidth and
superscript digits, Cyrillic letters, Hangul jamo), numbers at the limits (thousands of
digits, negatives, 2**63) and random text, mixed with valid values so that the deeper
branches of each form are reached too.

Properties checked on every response (`Findings.check`):

- never a 5xx (the test client re-raises what a view raised: that is a 500 as well);
- none of the markup posted (`<script>alert(1)</script>`, `"><img src=x onerror=...>`,
  `<svg/onload=...>`, `x" onmouseover="...`) comes back unescaped in a body: whatever is
  echoed is escaped;
- a redirect stays on the site;

and per form: the clear Korean message the input calls for (the same one whatever was typed
before), and nothing stored with the raw script when the form refused the input.

Each example runs in a savepoint that is rolled back, with the client's cookies restored, so
examples never see each other's rate-limit counters, codes or drafts. A test collects every
distinct failure over all its examples (with the shortest input that shows it) and fails
once at the end with the whole list, so one run reports every bug rather than the first.
Generation is derandomized: a run is repeatable.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import logging
import re
import traceback
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts import pki
from kdcis.korean import particle
from tests.accounts.helpers import complete_profile, sms_code_from_outbox, walk_to_profile

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SVG = "<svg/onload=alert(1)>"
ATTRIBUTE = 'x" onmouseover="alert(1)'
MARKUP = (SCRIPT, IMG, SVG, ATTRIBUTE)
# The markup above as it appears when echoed unescaped (escaped, '<' and '"' become
# entities): none of these may ever appear in a response body.
RAW_MARKERS = ("<script>alert(", "<img src=x onerror=", "<svg/onload=", '" onmouseover="alert(')
# What a stored copy of the markup would contain.
STORED_MARKERS = ("<script", "onerror=", "onload=", "onmouseover=")

MALICIOUS = (
    # control characters
    "\x00", "abc\x00def", "\x1b[2J\x1b[31m", "\u202eevil", "\u200b", "\ufeff", "\r\n", "\t",
    "\x7f", "\x85", "\u2028",
    # SQL fragments
    "' OR 1=1 --", "'; DROP TABLE accounts_user; --", '" OR ""="', "%", "_", "\\", "%_%",
    "1; SELECT pg_sleep(5)--",
    # HTML and script fragments, template syntax
    SCRIPT, IMG, SVG, ATTRIBUTE, "javascript:alert(1)", "</textarea><script>alert(1)</script>",
    "{{ 7|add:7 }}", "{% now 'Y' %}",
    # Unicode confusables
    "０１０１２３４５６７８", "ａｌｉｃｅ０１", "аlice01", "ᄀᄂᄃ", "ㄱㄴㄷ",
    "𝟎𝟏𝟎", "²", "١٢٣", "ⅰⅱ",
    # numbers at the limits
    "9" * 5000, "9" * 30, "-1", "-0", "0", str(2**63), str(2**64), str(-(2**63) - 1), "1e308",
    "NaN", "Infinity", "0x10",
    # empty-ish
    "", " ", "   \n  ",
    "😀" * 50,
)
LONG_UNITS = ("A", "가", "9", "<", "'", "\x00", "a1")
# The sharpest of them, also given as explicit examples so that every run tries them.
NUL = "a\x00b"
SUPERSCRIPT = "²"  # a digit to str.isdigit(), not to int()
HUGE = "9" * 5000  # more digits than int() converts (Python's 4300-digit limit)
BEYOND_BIGINT = str(2**63)


def hostile() -> st.SearchStrategy[str]:
    """Random and malicious text, for any field."""
    return st.one_of(
        st.sampled_from(MALICIOUS),
        st.text(max_size=30),
        st.builds(lambda a, m, b: a + m + b, st.text(max_size=6),
                  st.sampled_from(MARKUP), st.text(max_size=6)),
        st.builds(lambda unit, n: unit * n, st.sampled_from(LONG_UNITS),
                  st.sampled_from((10_000, 30_000, 100_000))),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
    )


def either(valid: object) -> st.SearchStrategy[str]:
    """A valid value or a hostile one (so that the other fields' checks are reached)."""
    return st.one_of(st.just(str(valid)), hostile())


def mutated(valid: dict[str, object], **choices: st.SearchStrategy[str]
            ) -> st.SearchStrategy[dict[str, str]]:
    """A form: the valid values with one or two of them hostile (to reach each field's own
    check behind the others), or every field valid-or-hostile. `choices` replaces
    `hostile()` for the fields that have their own strategy."""
    names = sorted(valid)

    def bad(name: str) -> st.SearchStrategy[str]:
        return choices.get(name, hostile())

    def with_bad(chosen: set[str]) -> st.SearchStrategy[dict[str, str]]:
        return st.fixed_dictionaries({n: bad(n) if n in chosen else st.just(str(valid[n]))
                                      for n in names})

    few = st.sets(st.sampled_from(names), min_size=1, max_size=2).flatmap(with_bad)
    every = st.fixed_dictionaries({n: st.one_of(st.just(str(valid[n])), bad(n))
                                   for n in names})
    return st.one_of(few, every)


def examples(name: str, values):
    """Explicit hypothesis examples for the argument `name`, tried before generated ones."""

    def decorate(test):
        for value in reversed(list(values)):
            test = example(**{name: value})(test)
        return test

    return decorate


def fuzz(max_examples: int):
    return settings(
        max_examples=max_examples, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.large_base_example, HealthCheck.data_too_large],
    )


@pytest.fixture(autouse=True)
def _quiet_server_errors(monkeypatch):
    """Every 500 is reported once in the findings (with its last application frame);
    Django's own error log would print each example's traceback again."""
    monkeypatch.setattr(logging.getLogger("django.request"), "disabled", True)


# ------------------------------------------------------------------------- the Korean texts

ID_REQUIRED = "아이디를 입력하세요."
ID_RULE = "아이디는 영문 소문자로 시작하는 4~20자의 영문 소문자와 숫자만 사용할 수 있습니다."
ID_FREE = "사용할 수 있는 아이디입니다."
MOBILE_REQUIRED = "휴대폰번호를 입력하세요."
MOBILE_RULE = "휴대폰번호는 010으로 시작하는 11자리 숫자로 입력하세요. (예: 01012345678)"
CODE_SENT = "인증번호를 보냈습니다. 3분 안에 입력하세요."
QUERY_REQUIRED = "검색할 기관명 또는 기관번호를 입력하세요."
CONSENT_REQUIRED = "개인정보 수집(이용)에 동의하셔야 가입을 진행할 수 있습니다."
CERT_INCOMPLETE = "인증서를 선택하고 암호를 입력한 뒤 '확인'을 누르세요."
CERT_UNREADABLE = "인증서 정보를 읽을 수 없습니다. 다시 시도하세요."
NO_PERMISSION_PICKED = "신청할 권한을 하나 이상 선택하세요."
UNKNOWN_CERTIFICATE = "등록되지 않은 인증서입니다."
NOT_OWN_CERTIFICATE = "등록된 본인의 인증서로 서명해야 탈퇴할 수 있습니다."
FORM_HAS_ERRORS = "입력한 내용을 확인하세요"
USERNAME_PATTERN = re.compile(r"[a-z][a-z0-9]{3,19}")
HANGUL = re.compile("[\uac00-\ud7a3]")


def certificate_messages() -> set[str]:
    from accounts.certificates import GENERIC_MESSAGE, MESSAGES

    return {str(m) for m in MESSAGES.values()} | {str(GENERIC_MESSAGE)}


def challenge_invalid() -> str:
    from accounts.certificates import MESSAGES

    return str(MESSAGES["challenge_invalid"])


# --------------------------------------------------------------------------------- findings


def abbreviate(value: object) -> str:
    if isinstance(value, str):
        if len(value) > 48:
            return f"{value[:16]!r}…({len(value)} chars)"
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {abbreviate(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(abbreviate(v) for v in value) + "]"
    return repr(value)


def last_app_frame(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename
              and "/tests/" not in f.filename]
    if not frames:
        return "no application frame"
    frame = frames[-1]
    return f"{Path(frame.filename).relative_to(ROOT)}:{frame.lineno} in {frame.name}()"


class StopExample(Exception):
    """A request failed in a way that leaves nothing sensible to check in this example."""


class Findings:
    """Distinct failures of one test, each with the shortest input that showed it, and how
    many examples reached each branch (shown with the failures)."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[str, str]] = {}
        self.outcomes: Counter[str] = Counter()

    def note(self, outcome: str) -> None:
        self.outcomes[outcome] += 1

    def add(self, key: str, detail: str, example: object) -> None:
        shown = abbreviate(example)
        if key not in self.items or len(shown) < len(self.items[key][1]):
            self.items[key] = (detail, shown)

    def request(self, client, method: str, url: str, data=None, *, example: object,
                follow: bool = False, **extra):
        """Send a request; a raised exception is recorded as a 500 and ends the example."""
        try:
            response = getattr(client, method)(url, data, follow=follow, **extra)
        except Exception as exc:  # the view raised: the user would get a 500
            frame = last_app_frame(exc)
            # One finding per place and kind of error ('invalid literal' and 'exceeds the
            # limit' at the same line are two findings; the value in the message is not).
            kind = re.sub(r"\d+", "N", str(exc).split("'")[0])[:40]
            path = re.sub(r"/\d+/", "/<id>/", url.split("?")[0])
            self.add(f"500 {method.upper()} {path} {type(exc).__name__} {kind} {frame}",
                     f"{method.upper()} {url[:80]} → 500: {type(exc).__name__}: "
                     f"{str(exc)[:150]} (last app frame {frame})", example)
            raise StopExample from None
        self.check(response, method=method, url=url, example=example)
        return response

    def check(self, response, *, method: str, url: str, example: object) -> None:
        where = f"{method.upper()} {url.split('?')[0][:60]}"
        if response.status_code >= 500:
            self.add(f"5xx {where}", f"{where} → {response.status_code}", example)
        body = response.content.decode("utf-8", "replace")
        for marker in RAW_MARKERS:
            if marker in body:
                at = body.index(marker)
                self.add(f"raw markup {where} {marker}",
                         f"{where}: the input is echoed unescaped: …{body[at - 60:at + 40]!r}…",
                         example)
        for hop, _status in getattr(response, "redirect_chain", []):
            self._check_location(hop, where, example)
        self._check_location(response.get("Location", ""), where, example)

    def _check_location(self, location: str, where: str, example: object) -> None:
        # Browsers read a backslash as a slash: '/\\evil.example' leaves the site too.
        target = urlsplit(location.replace("\\", "/"))
        if target.scheme or target.netloc:
            self.add(f"off-site redirect {where}", f"{where} redirects to {location!r}",
                     example)

    def expect(self, condition: bool, key: str, detail: str, example: object) -> None:
        if not condition:
            self.add(key, detail, example)

    def report(self) -> str:
        lines = [f"{len(self.items)} distinct failure(s):"]
        for key in sorted(self.items):
            detail, shown = self.items[key]
            lines.append(f"- {detail}\n    input: {shown}")
        if self.outcomes:
            lines.append("examples by outcome: " + ", ".join(
                f"{outcome} ×{n}" for outcome, n in sorted(self.outcomes.items())))
        return "\n".join(lines)

    def assert_none(self) -> None:
        if self.items:
            pytest.fail(self.report(), pytrace=False)


@contextmanager
def isolated(*clients) -> Iterator[None]:
    """One example: a savepoint rolled back at the end, and the clients' cookies restored
    (so a logout or a new session in the example does not leak into the next one)."""
    saved = [copy.deepcopy(client.cookies) for client in clients]
    try:
        with transaction.atomic():
            yield
            transaction.set_rollback(True)
    except StopExample:
        pass
    finally:
        for client, cookies in zip(clients, saved, strict=True):
            client.cookies = cookies


_MESSAGE = re.compile(
    r'<p\b[^>]*\bclass="(?:error|errornote|success|message[^"]*)"[^>]*>(.*?)</p>', re.S)


def messages_of(response) -> list[str]:
    """The error, notice and flash messages a page shows, as plain text (each once: the
    certificate dialog repeats the page's error)."""
    body = response.content.decode("utf-8", "replace")
    texts = [" ".join(unescape(re.sub(r"<[^>]+>", "", m)).split()) for m in _MESSAGE.findall(body)]
    return list(dict.fromkeys(t for t in texts if t))


def has(messages: list[str], text: str) -> bool:
    return any(text in m for m in messages)


def stored_markup() -> list[str]:
    """Rows holding the raw markup (only refused input is checked against this)."""
    from django.db.models import Q

    from accounts.models import User
    from institutions.models import Institution, SupplementaryInfo
    from kdcis.models import AuditEvent, SmsMessage
    from permissions.models import Grant

    columns = (
        (User, ("username", "name", "mobile", "office_phone")),
        (Institution, ("name", "address", "postcode")),
        (SupplementaryInfo, ("english_name", "representative_name", "information_system_other",
                             "email", "mobile", "phone_number", "fax_number")),
        (Grant, ("reason",)),
        (AuditEvent, ("reason",)),
        (SmsMessage, ("text",)),
    )
    found = []
    for model, fields in columns:
        query = Q()
        for name in fields:
            for marker in STORED_MARKERS:
                query |= Q(**{f"{name}__contains": marker})
        found += [f"{model.__name__}#{pk}" for pk in
                  model.objects.filter(query).values_list("pk", flat=True)]
    return found


def normalised_digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


def safe_int(value: str) -> int | None:
    """The id a well-behaved view reads from `value` (None: not an id)."""
    if not value.isdigit():
        return None
    try:
        return int(value)
    except ValueError:  # '²' is a digit to str.isdigit(); 5000 digits exceed int()'s limit
        return None


# ------------------------------------------------------------------ certificate-signed forms

def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


REAL = "<the challenge of the page>"
VALID_CERT = "<a valid certificate>"
VALID_SIGNATURE = "<a valid signature of the challenge>"


def certificate_fields() -> st.SearchStrategy[dict[str, str]]:
    return mutated(
        {"challenge": REAL, "certificate": VALID_CERT, "signature": VALID_SIGNATURE},
        certificate=st.one_of(hostile(), st.binary(min_size=1, max_size=200).map(b64)),
        signature=st.one_of(hostile(), st.binary(min_size=1, max_size=300).map(b64)))


# The branches behind a readable submission, tried in every run: all valid; a certificate
# that is base64 but no certificate; a signature that is base64 but wrong.
CERTIFICATE_EXAMPLES = (
    {"challenge": REAL, "certificate": VALID_CERT, "signature": VALID_SIGNATURE},
    {"challenge": REAL, "certificate": b64(b"0" * 64), "signature": VALID_SIGNATURE},
    {"challenge": REAL, "certificate": VALID_CERT, "signature": b64(b"1" * 256)},
)


def arrives(value):
    """What a view receives: kdcis.input_guard drops NUL characters from every parameter."""
    return value.replace("\x00", "") if isinstance(value, str) else value


def expected_certificate_message(posted: dict[str, str], challenge: str) -> str | None:
    """The message the certificate check must give for `posted`, or None when the
    certificate itself decides (then any certificate message, or acceptance, will do)."""
    posted = {k: arrives(v) for k, v in posted.items()}
    for name, max_length in (("challenge", 200), ("certificate", 20000), ("signature", 4000)):
        value = posted[name].strip()
        if not value or len(value) > max_length or "\x00" in value:
            return CERT_INCOMPLETE
    if posted["challenge"].strip() != challenge:
        return challenge_invalid()
    for name in ("certificate", "signature"):
        try:
            base64.b64decode(posted[name].strip(), validate=True)
        except (binascii.Error, ValueError):
            return CERT_UNREADABLE
    return None


def post_certificate_fields(findings: Findings, client, url: str, fields: dict[str, str],
                            issued, *, follow: bool):
    """GET the page for a fresh challenge, POST `fields` with the placeholders filled."""
    challenge = findings.request(client, "get", url, example=fields).context["challenge"]
    posted = dict(fields)
    if posted["challenge"] == REAL:
        posted["challenge"] = challenge
    if posted["certificate"] == VALID_CERT:
        posted["certificate"] = b64(issued.der)
    if posted["signature"] == VALID_SIGNATURE:
        posted["signature"] = b64(pki.sign_challenge(issued.key, challenge.encode()))
    response = findings.request(client, "post", url, posted, example=fields, follow=follow)
    expected = expected_certificate_message(posted, challenge)
    findings.note(f"{url}: {(expected or 'the certificate decides')[:24]}")
    return response, expected


@pytest.fixture
def stranger(test_pki):
    """A valid certificate of the test CA that no account holds."""
    return test_pki.issue("이낯선()0010041200805289990001")


def test_signup_consent(client, reference_data):
    findings = Findings()

    @fuzz(30)
    @given(agree=either("on"))
    def run(agree):
        example = {"agree": agree}
        with isolated(client):
            response = findings.request(client, "post", "/signup/consent/", {"agree": agree},
                                        example=example, follow=True)
            path = response.request["PATH_INFO"]
            findings.expect(path in ("/signup/certificate/", "/signup/consent/"),
                            "consent: lands elsewhere", f"landed on {path}", example)
            if path == "/signup/consent/":
                findings.expect(messages_of(response) == [CONSENT_REQUIRED], "consent message",
                                f"messages {messages_of(response)}", example)

    run()
    findings.assert_none()


def test_signup_certificate(client, reference_data, stranger):
    findings = Findings()
    client.post("/signup/consent/", {"agree": "on"})
    known = certificate_messages()

    @fuzz(40)
    @given(fields=certificate_fields())
    @examples("fields", CERTIFICATE_EXAMPLES)
    @example(fields={"challenge": NUL, "certificate": VALID_CERT, "signature": VALID_SIGNATURE})
    @example(fields={"challenge": REAL, "certificate": "가" * 30_000, "signature": SCRIPT})
    def run(fields):
        with isolated(client):
            response, expected = post_certificate_fields(
                findings, client, "/signup/certificate/", fields, stranger, follow=True)
            path = response.request["PATH_INFO"]
            shown = messages_of(response)
            if expected is not None:
                findings.expect(path == "/signup/certificate/" and shown == [expected],
                                f"certificate: message for {expected[:20]}",
                                f"expected {expected!r}, got {shown} on {path}", fields)
            else:
                findings.expect(path == "/signup/profile/" or (
                    len(shown) == 1 and shown[0] in known), "certificate: unclear message",
                    f"got {shown} on {path}", fields)
            if path != "/signup/profile/":
                # Refused: the draft holds no certificate (the next step stays closed).
                follow = findings.request(client, "get", "/signup/profile/", example=fields)
                findings.expect(follow.get("Location") == "/signup/certificate/",
                                "certificate: refused but the profile step opened",
                                f"/signup/profile/ → {follow.status_code}", fields)

    run()
    findings.assert_none()


# ---------------------------------------------------------------------------- the profile


PROFILE_FIELDS = ("name", "username", "institution_type", "query", "institution",
                  "institution_choice", "mobile", "code", "office_phone")
# What was typed before, in the other of the two runs of each example.
# Each button of the step posts the whole form to its own URL.
BUTTONS = {"check_id": "/signup/profile/check-id/", "search": "/signup/profile/search/",
           "send_code": "/signup/profile/send-code/", "verify_code": "/signup/profile/verify-code/",
           "next": "/signup/profile/", "save": "/signup/profile/save/",
           "page": "/signup/profile/results/"}
PRIOR = {"button": "check_id", "name": "이전값", "username": "prior01", "query": "종로",
         "mobile": "01099990000", "office_phone": "0212345678"}


def profile_valid(institution) -> dict[str, str]:
    return {"name": "홍길동", "username": "newuser01", "institution_type":
            str(institution.type_id), "query": "연세", "institution": str(institution.pk),
            "institution_choice": str(institution.pk), "mobile": "010-5555-6666",
            "code": "123456", "office_phone": "02-2148-3500"}


def profile_fields(institution) -> st.SearchStrategy[dict[str, str]]:
    valid = profile_valid(institution)
    buttons = st.one_of(
        st.sampled_from(tuple(b for b in BUTTONS if b != "page")).map(lambda b: {"button": b}),
        hostile().map(lambda v: {"button": "page", "page": v}))
    return st.tuples(buttons, mutated(valid)).map(lambda pair: {**pair[0], **pair[1]})


def post_profile(findings, client, fields: dict[str, str], example: dict[str, str]):
    """Press the button `fields` names, with the rest of `fields` as the typed form."""
    typed = {k: v for k, v in fields.items() if k != "button"}
    return findings.request(client, "post", BUTTONS[fields["button"]], typed, example=example,
                            follow=True)


def expected_profile_messages(fields: dict[str, str]) -> list[str]:
    """Messages the action must show for this input whatever was typed before."""
    from accounts.forms import office_phone_error
    from kdcis.phones import is_mobile

    fields = {k: arrives(v) for k, v in fields.items()}
    action = fields["button"]
    expected = []
    if action in ("check_id", "next"):
        username = fields["username"].strip()
        if not username:
            expected.append(ID_REQUIRED)
        elif not USERNAME_PATTERN.fullmatch(username):
            expected.append(ID_RULE)
        elif action == "check_id":
            expected.append(ID_FREE)
    if action in ("send_code", "next"):
        mobile = normalised_digits(fields["mobile"])
        if not mobile:
            expected.append(MOBILE_REQUIRED)
        elif not is_mobile(mobile):
            expected.append(MOBILE_RULE)
        elif action == "send_code":
            expected.append(CODE_SENT)
    if action == "search" and not " ".join(fields["query"].split()):
        expected.append(QUERY_REQUIRED)
    if action == "next":
        problem = office_phone_error(normalised_digits(fields["office_phone"]))
        if problem:
            expected.append(problem)
    return expected


def test_signup_profile(client, test_pki, reference_data):
    """Every button of 사용자정보등록 with every field hostile. Each example is posted twice,
    once on a fresh profile and once after other values were typed: the answer must be the
    same, and the one the input calls for."""
    from institutions.models import Institution

    findings = Findings()
    walk_to_profile(client, test_pki, cn="이신규()0010041200805281000077")
    institution = Institution.objects.get(number="11110101")  # 종로연세의원
    valid = profile_valid(institution)
    sharp = (
        {"button": "check_id", "username": "newuser" + "x" * 40},  # longer than the field
        {"button": "check_id", "username": NUL},
        {"button": "send_code", "mobile": "010" + "1" * 30},
        {"button": "search", "query": "연세" * 40},
        {"button": "next", "office_phone": "0" * 25},
        {"button": "search", "institution_choice": SUPERSCRIPT},
        {"button": "search", "institution_choice": HUGE},
        {"button": "page", "page": HUGE},
        {"button": "page", "page": SUPERSCRIPT},
    )

    @fuzz(40)
    @given(fields=profile_fields(institution))
    @examples("fields", [{**valid, **case} for case in sharp])
    def run(fields):
        shown = {}
        for prior in ("fresh", "typed before"):
            with isolated(client):
                if prior != "fresh":
                    post_profile(findings, client, PRIOR, fields)
                response = post_profile(findings, client, fields, fields)
                shown[prior] = messages_of(response)
                if stored_markup():
                    findings.add("profile: markup stored", "the raw markup was stored", fields)
        if len(shown) < 2:
            return
        fresh, typed = shown["fresh"], shown["typed before"]
        button = fields["button"]
        for message in expected_profile_messages(fields):
            for prior, got in shown.items():
                findings.expect(has(got, message), f"profile {button}: {message[:24]} ({prior})",
                                f"profile, button {button} ({prior}): expected "
                                f"{message!r}, the page says {got}", fields)
        findings.expect(fresh == typed, f"profile {button}: depends on what came before",
                        f"profile, button {button}: the same input gives {fresh} "
                        f"on a fresh form but {typed} after other values were typed", fields)

    run()
    findings.assert_none()


def test_signup_check_id_endpoint(client, test_pki, reference_data):
    findings = Findings()
    walk_to_profile(client, test_pki, cn="이신규()0010041200805281000078")

    @fuzz(40)
    @given(username=either("newuser01"))
    @examples("username", [NUL, "newuser" + "x" * 40, "аlice01", "ａｌｉｃｅ０１", " newuser02 "])
    def run(username):
        example = {"username": username}
        with isolated(client):
            response = findings.request(client, "get", "/signup/check-id/",
                                        {"username": username}, example=example)
            answer = response.json()
            value = arrives(username).strip()
            expected = (ID_REQUIRED if not value else ID_RULE
                        if not USERNAME_PATTERN.fullmatch(value) else ID_FREE)
            findings.expect(answer["message"] == expected and answer["ok"] == (
                expected == ID_FREE), f"check-id: {expected[:20]}",
                f"expected {expected!r}, got {answer}", example)

    run()
    findings.assert_none()


def test_signup_permissions_step(client, test_pki, reference_data):
    from permissions.models import PermissionType
    from permissions.selectors import bodies_for

    findings = Findings()
    walk_to_profile(client, test_pki, cn="이신규()0010041200805281000079")
    complete_profile(client, username="hostile01")
    types = list(PermissionType.objects.all())
    valid_bodies = {t.code: set(bodies_for(t).values_list("pk", flat=True)) for t in types}
    valid, choices = {}, {}
    for ptype in types:
        valid[f"perm_{ptype.code}"] = "on"
        valid[f"body_{ptype.code}"] = min(valid_bodies[ptype.code])
        choices[f"perm_{ptype.code}"] = st.one_of(st.just(""), hostile())

    vaccination = next(t for t in types if t.code == "vaccination_user")
    sharp = [{**{f"perm_{t.code}": "" for t in types}, **{f"body_{t.code}": "" for t in types},
              f"perm_{vaccination.code}": "on", f"body_{vaccination.code}": value}
             for value in (SUPERSCRIPT, HUGE, BEYOND_BIGINT, NUL)]

    @fuzz(40)
    @given(posted=mutated(valid, **choices))
    @examples("posted", sharp)
    def run(posted):
        with isolated(client):
            response = findings.request(client, "post", "/signup/permissions/", posted,
                                        example=posted, follow=True)
            path = response.request["PATH_INFO"]
            checked = [t for t in types if posted[f"perm_{t.code}"] == "on"]
            missing_body = [t for t in checked
                            if safe_int(posted[f"body_{t.code}"]) not in valid_bodies[t.code]]
            shown = messages_of(response)
            outcome = "none picked" if not checked else "no body" if missing_body else "valid"
            findings.note(f"permissions step: {outcome}")
            if not checked:
                findings.expect(shown == [NO_PERMISSION_PICKED], "permissions: none picked",
                                f"got {shown} on {path}", posted)
            elif missing_body:
                wanted = [f"'{t.name}' 권한의 승인기관을 선택하세요." for t in missing_body]
                findings.expect(len(shown) == 1 and shown[0] in wanted, "permissions: no body",
                                f"expected one of {wanted}, got {shown} on {path}", posted)
            else:
                findings.expect(path == "/signup/done/", "permissions: valid refused",
                                f"got {shown} on {path}", posted)

    run()
    findings.assert_none()


# ------------------------------------------------------------------------ login and rebind


def test_login(client, reference_data, stranger):
    findings = Findings()
    known = certificate_messages()

    @fuzz(40)
    @given(fields=certificate_fields())
    @examples("fields", CERTIFICATE_EXAMPLES)
    def run(fields):
        with isolated(client):
            response, expected = post_certificate_fields(findings, client, "/login/", fields,
                                                         stranger, follow=False)
            shown = messages_of(response)
            if expected is not None:
                findings.expect(shown == [expected], f"login: message for {expected[:20]}",
                                f"expected {expected!r}, got {shown}", fields)
            else:
                findings.expect(len(shown) == 1 and (shown[0] in known or shown[0].startswith(
                    UNKNOWN_CERTIFICATE)), "login: unclear message", f"got {shown}", fields)
            findings.expect("_auth_user_id" not in client.session, "login: logged in",
                            "a refused certificate logged in", fields)

    run()
    findings.assert_none()


def test_renewed_certificate_rebind(client, test_pki, personas):
    """After a login with a renewed certificate: 'send code' and 'verify' with any code."""
    from tests.accounts.helpers import post_certificate

    findings = Findings()
    alice = personas.alice
    renewed = test_pki.issue(alice.certificate.subject_cn, serial=0x5EC0_0001,
                             not_after=alice.certificate.not_after + dt.timedelta(days=365))
    assert post_certificate(client, "/login/", renewed).url == "/login/renewed-certificate/"
    url = "/login/renewed-certificate/"

    @fuzz(30)
    @given(send_first=st.booleans(), action=st.one_of(
        st.sampled_from(("send_code", "verify_code")), hostile()), code=either("123456"))
    def run(send_first, action, code):
        example = {"send_first": send_first, "action": action, "code": code}
        with isolated(client):
            if send_first:
                findings.request(client, "post", url, {"action": "send_code"}, example=example)
                sent = sms_code_from_outbox(alice.mobile)
            response = findings.request(client, "post", url, {"action": action, "code": code},
                                        example=example, follow=True)
            shown = messages_of(response)
            typed = unicodedata.normalize("NFKC", arrives(code)).strip()
            if action == "verify_code" and not (send_first and typed == sent):
                if not re.fullmatch(r"[0-9]{6}", typed):  # a slip: no try is used
                    expected = "문자로 받은 인증번호 6자리 숫자를 입력하세요."
                elif send_first:
                    expected = "인증번호가 일치하지 않습니다. (남은 입력 횟수: 4회)"
                else:
                    expected = "먼저 '인증번호 받기'를 눌러 인증번호를 받으세요."
                findings.expect(has(shown, expected), f"rebind: {expected[:16]}",
                                f"expected {expected!r}, got {shown}", example)
                findings.expect("_auth_user_id" not in client.session, "rebind: logged in",
                                "a wrong code logged in", example)

    run()
    findings.assert_none()


# ------------------------------------------------------------------------------ 권한 부가정보


@pytest.fixture
def alice_active(personas, complete_supplementary_info):
    """alice with her vaccination permission approved and her education request cancelled
    (so it is requestable again); her institution's supplementary info is complete."""
    from permissions.models import Grant
    from permissions.services import grant_approve, grant_cancel

    alice = personas.alice
    grants = Grant.objects.filter(user=alice)
    grant_approve(grant_id=grants.get(permission_type__code="vaccination_user").pk,
                  officer=personas.oscar.officer)
    grant_cancel(grant_id=grants.get(permission_type__code="education_learner").pk, user=alice)
    complete_supplementary_info(alice.institution)
    alice.refresh_from_db()
    return alice


def test_permission_request_and_cancel(client, alice_active):
    from institutions.models import ApprovingBody
    from permissions.models import Grant, PermissionType

    findings = Findings()
    client.force_login(alice_active)
    codes = list(PermissionType.objects.values_list("code", flat=True))
    central = ApprovingBody.objects.get(kind="central")
    pending = Grant.objects.filter(user=alice_active).order_by("pk")
    targets = ("/permissions/?status=requested", "https://evil.example/", "//evil.example/x",
               "/\\evil.example", "javascript:alert(1)")

    base = {"permission": "education_learner", "next": targets[0],
            **{f"body_{code}": str(central.pk) for code in codes}}
    # A bare word as 'next' is neither a URL nor the name of one.
    sharp = [{**base, "permission": NUL}, {**base, "next": "nowhere"},
             {**base, "body_education_learner": SUPERSCRIPT},
             {**base, "body_education_learner": HUGE}]

    @fuzz(40)
    @given(posted=mutated(base, permission=st.one_of(st.sampled_from(codes), hostile()),
                          next=st.one_of(st.sampled_from(targets), hostile())),
           cancel_next=st.one_of(st.sampled_from(targets), hostile()))
    @example(posted=sharp[0], cancel_next="nowhere")
    @example(posted=sharp[1], cancel_next=targets[1])
    @example(posted=sharp[2], cancel_next=targets[2])
    @example(posted=sharp[3], cancel_next=targets[3])
    def run(posted, cancel_next):
        example = {**posted, "cancel next": cancel_next}
        with isolated(client):
            response = findings.request(client, "post", "/permissions/request/", posted,
                                        example=example)
            findings.expect(response.status_code == 302, "request: not a redirect",
                            f"status {response.status_code}", example)
            shown = messages_of(findings.request(client, "get", "/", example=example))
            findings.note(f"request: {shown[0][:20] if shown else 'no message'}")
            code = posted["permission"]
            if code not in codes:
                findings.expect(has(shown, "신청할 권한을 선택하세요."), "request: no such type",
                                f"got {shown}", example)
            elif not ApprovingBody.objects.filter(pk=safe_int(posted[f"body_{code}"])).exists():
                findings.expect(has(shown, "권한의 승인기관을 선택하세요."), "request: no body",
                                f"got {shown}", example)
            before = list(pending.values_list("pk", "status"))
            findings.request(client, "post", f"/permissions/{before[-1][0]}/cancel/",
                             {"next": cancel_next}, example=example)
            if stored_markup():
                findings.add("request: markup stored", "the raw markup was stored", example)

    run()
    findings.assert_none()


# ---------------------------------------------------------------------------- the approvals


def test_approval_queue_filters(client, personas):
    findings = Findings()
    client.force_login(personas.oscar)
    valid = {"status": "all", "permission": "vaccination_user", "region": "11",
             "date_from": "2026-01-01", "date_to": "2099-12-31", "q": "김", "page": "1"}

    @fuzz(30)
    @given(params=mutated(valid))
    @examples("params", [{**valid, name: NUL} for name in ("permission", "region", "q")]
              + [{**valid, "page": HUGE, "date_from": "2026-02-30", "date_to": "99999-01-01"}])
    def run(params):
        with isolated(client):
            response = findings.request(client, "get", "/approvals/", params, example=params)
            findings.expect(response.status_code == 200, "queue: not shown",
                            f"status {response.status_code}", params)

    run()
    findings.assert_none()


def test_approval_decide(client, personas):
    from permissions.models import Grant

    findings = Findings()
    client.force_login(personas.oscar)
    applicant = client.__class__()
    applicant.force_login(personas.alice)
    mine = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    other = Grant.objects.get(user=personas.bob, permission_type__code="vaccination_user")
    grant_ids = st.lists(st.one_of(st.sampled_from((str(mine.pk), str(other.pk))), hostile()),
                         min_size=0, max_size=3)
    backs = ("/approvals/?status=all", "https://evil.example/", "//evil.example",
             "/approvals/../admin/")

    @fuzz(50)
    @given(grant=grant_ids, action=st.one_of(st.sampled_from(("approve", "reject")), hostile()),
           reason=either("기관 정보가 확인되지 않습니다."),
           back=st.one_of(st.sampled_from(backs), hostile()))
    @example(grant=[SUPERSCRIPT], action="approve", reason="", back=backs[0])
    @example(grant=[HUGE], action="approve", reason="", back=backs[0])
    @example(grant=[BEYOND_BIGINT, "9" * 30], action="approve", reason="", back=backs[0])
    @example(grant=[str(mine.pk)], action="reject", reason=NUL, back=backs[0])
    @example(grant=[str(mine.pk)], action="reject", reason=SCRIPT, back=backs[1])
    def run(grant, action, reason, back):
        example = {"grant": grant, "action": action, "reason": reason, "back": back}
        with isolated(client, applicant):
            response = findings.request(client, "post", "/approvals/decide/", {
                "grant": grant, "action": action, "reason": reason, "back": back},
                example=example)
            findings.expect(response.status_code in (302, 404), "decide: status",
                            f"status {response.status_code}", example)
            location = response.get("Location", "")
            findings.expect(response.status_code != 302 or location.startswith("/approvals/"),
                            "decide: goes back outside the queue", f"→ {location!r}", example)
            ids = [safe_int(g) for g in grant]
            in_scope = bool(ids) and all(i == mine.pk for i in ids)
            decided = Grant.objects.filter(pk=mine.pk).exclude(status="requested").exists()
            refused = not (in_scope and action in ("approve", "reject")
                           and (action == "approve" or reason.strip()))
            findings.note(f"decide: {response.status_code}, {'refused' if refused else 'decided'}")
            findings.expect(not (refused and decided), "decide: refused but decided",
                            "the request changed state", example)
            findings.expect(not Grant.objects.filter(pk=other.pk).exclude(
                status="requested").exists(), "decide: another body's request decided",
                "bob's request changed state", example)
            if refused and stored_markup():
                findings.add("decide: markup stored", "refused, yet the markup was stored",
                             example)
            if decided:  # wherever the reason is shown, it is escaped
                for url in (f"/approvals/{mine.pk}/", "/approvals/?status=all"):
                    findings.request(client, "get", url, example=example)
                for url in ("/", "/me/", "/permissions/?status=rejected"):
                    findings.request(applicant, "get", url, example=example, follow=True)

    run()
    findings.assert_none()


def test_ids_in_paths_and_page_numbers(client, personas):
    """Hostile values where the URL expects an id, and as page numbers and region codes."""
    findings = Findings()
    clients = {}
    for name in ("oscar", "hana", "alice"):
        clients[name] = client.__class__()
        clients[name].force_login(getattr(personas, name))
    anonymous = client

    @fuzz(25)
    @given(value=hostile())
    @examples("value", [NUL, SUPERSCRIPT, HUGE, BEYOND_BIGINT, "-1", "０１"])
    def run(value):
        example = {"value": value}
        part = quote(value, safe="")
        visits = (
            (anonymous, "get", f"/notices/{part}/", None),
            (anonymous, "get", f"/library/{part}/download/", None),
            (anonymous, "get", "/notices/", {"page": value}),
            (anonymous, "get", "/library/", {"page": value}),
            (anonymous, "get", "/contacts/", {"region": value}),
            (clients["alice"], "get", f"/work/{part}/", None),
            (clients["alice"], "get", "/work/", {"page": value}),
            (clients["oscar"], "get", f"/approvals/{part}/", None),
            (clients["hana"], "get", f"/helpdesk/users/{part}/", None),
            (clients["hana"], "get", f"/helpdesk/institutions/{part}/", None),
            (clients["alice"], "post", f"/permissions/{part}/cancel/", None),
            (clients["hana"], "get", "/permissions/", {"status": value}),
        )
        for who, method, url, data in visits:
            with isolated(who):
                response = findings.request(who, method, url, data, example=example)
                findings.expect(response.status_code in (200, 302, 404),
                                f"ids: {method} {url.split(part)[0] if part else url}",
                                f"{method.upper()} {url[:60]} → {response.status_code}", example)

    run()
    findings.assert_none()


# ------------------------------------------------------------------------------ helpdesk


def test_helpdesk_search(client, personas):
    findings = Findings()
    client.force_login(personas.hana)

    @fuzz(40)
    @given(q=either("김앨리"), page=either("1"))
    @example(q=NUL, page="1")
    @example(q="01011112222" + "\x00", page=HUGE)
    def run(q, page):
        example = {"q": q, "page": page}
        with isolated(client):
            response = findings.request(client, "get", "/helpdesk/", {"q": q, "page": page},
                                        example=example)
            findings.expect(response.status_code == 200, "search: status",
                            f"status {response.status_code}", example)

    run()
    findings.assert_none()


def test_helpdesk_reveal(client, personas):
    findings = Findings()
    client.force_login(personas.hana)
    url = f"/helpdesk/users/{personas.alice.pk}/"

    @fuzz(40)
    @given(field=st.one_of(st.sampled_from(("name", "mobile", "office_phone")), hostile()),
           reason=either("본인 확인 요청 (전화)"))
    @example(field="mobile", reason=NUL)
    @example(field=NUL, reason="본인 확인 요청 (전화)")
    def run(field, reason):
        example = {"field": field, "reason": reason}
        with isolated(client):
            response = findings.request(client, "post", url, {"field": field, "reason": reason},
                                        example=example)
            shown = messages_of(response)
            findings.note(f"reveal: {response.status_code}")
            if field not in ("name", "mobile", "office_phone"):
                expected = "확인할 항목을 선택하세요."
            elif not " ".join(reason.split()):
                expected = "개인정보를 확인하는 사유를 입력하세요."
            else:
                expected = None
            if expected:
                findings.expect(response.status_code == 400 and shown == [expected],
                                f"reveal: {expected[:12]}",
                                f"expected {expected!r}, got {response.status_code} {shown}",
                                example)
                findings.expect(not stored_markup(), "reveal: markup stored",
                                "refused, yet the markup was stored", example)
            else:  # POST/redirect/GET: the reveal shows on the page it redirects to
                findings.expect(response.status_code == 302 and response.url == url,
                                "reveal: refused", f"got {response.status_code} {shown}",
                                example)

    run()
    findings.assert_none()


def expected_correction_errors(values: dict[str, str]) -> list[str]:
    """The correction form's rules: every field's first broken rule, in the page's order
    (empty: the correction is accepted)."""
    import unicodedata

    from institutions.validators import has_control_characters

    errors = []
    for key, label, max_length in (("name", "기관명", 120), ("postcode", "우편번호", 5),
                                   ("address", "주소", 200)):
        value = " ".join(unicodedata.normalize("NFKC", values[key]).split())
        if not value:
            errors.append(f"{particle(label, '을/를')} 입력하세요.")
        elif len(value) > max_length:
            errors.append(f"{particle(label, '은/는')} {max_length}자 이내로 입력하세요.")
        elif has_control_characters(value):
            errors.append("입력할 수 없는 문자가 포함되어 있습니다.")
        elif key == "postcode":
            if not re.fullmatch(r"[0-9]{5}", value):
                errors.append("우편번호는 숫자 5자리로 입력하세요.")
        elif not any(ch.isalnum() for ch in value):
            errors.append(f"{particle(label, '은/는')} 한글, 영문 또는 숫자로 입력하세요.")
    reason = values["reason"]
    if not reason:
        errors.append("수정 사유를 입력하세요.")
    elif len(reason) > 500:
        errors.append("수정 사유는 500자 이내로 입력하세요.")
    return list(dict.fromkeys(errors))


def test_helpdesk_institution_correction(client, personas):
    from institutions.models import Institution

    findings = Findings()
    client.force_login(personas.hana)
    viewers = {"alice": client.__class__(), "oscar": client.__class__()}
    for name, viewer in viewers.items():
        viewer.force_login(getattr(personas, name))
    institution = personas.alice.institution
    url = f"/helpdesk/institutions/{institution.pk}/"
    valid = {"name": "종로연세의원", "postcode": "03000", "address": "서울특별시 종로구 1",
             "reason": "기관 요청 (전화)"}

    @fuzz(50)
    @given(posted=mutated(valid))
    @examples("posted", [{**valid, "reason": NUL}, {**valid, "name": NUL},
                         {**valid, "postcode": "０３０００"}, {**valid, "name": SCRIPT},
                         {**valid, "name": "🏥🏥", "address": "✨", "reason": ""}])
    def run(posted):
        with isolated(client, *viewers.values()):
            response = findings.request(client, "post", url, posted, example=posted)
            values = {k: " ".join(arrives(v).split()) for k, v in posted.items()}
            expected = expected_correction_errors(values)
            findings.note(f"correction: {(expected[0] if expected else 'accepted')[:16]}")
            shown = messages_of(response)
            if expected:
                findings.expect(response.status_code == 400 and shown == expected,
                                f"correction: {expected[0][:14]}",
                                f"expected {expected!r}, got {response.status_code} {shown}",
                                posted)
                now = Institution.objects.get(pk=institution.pk)
                findings.expect((now.name, now.address, now.postcode) == (
                    institution.name, institution.address, institution.postcode),
                    "correction: refused but changed", "the institution changed", posted)
                findings.expect(not stored_markup(), "correction: markup stored",
                                "refused, yet the markup was stored", posted)
            else:
                findings.expect(response.status_code == 302, "correction: valid refused",
                                f"got {response.status_code} {shown}", posted)
                # Wherever the institution's name and address are shown, they are escaped.
                findings.request(client, "get", url, example=posted)
                findings.request(client, "get", "/helpdesk/", {"q": "alice01"}, example=posted)
                findings.request(viewers["alice"], "get", "/me/", example=posted)
                findings.request(viewers["oscar"], "get", "/approvals/", example=posted)

    run()
    findings.assert_none()


# ----------------------------------------------------------------- 의료기관 부가정보 (alice)


def test_supplementary_info_form(client, personas):
    """alice, approved, with her institution's info still missing, posts the form."""
    from institutions.models import (
        ApprovingBody,
        Category,
        MedicalInformationSystem,
        SupplementaryInfo,
    )
    from permissions.models import Grant
    from permissions.services import grant_approve

    findings = Findings()
    alice = personas.alice
    grant_approve(grant_id=Grant.objects.get(user=alice, permission_type__code="vaccination_user"
                                             ).pk, officer=personas.oscar.officer)
    client.force_login(alice)
    url = "/vaccination/institution-info/"
    valid = {
        "english_name": "Jongno Yonsei Clinic", "business_number": "1168200276",
        "representative_name": "김대표", "phone_area": "02", "phone_number": "21483500",
        "fax_area": "02", "fax_number": "21483501",
        "category": Category.objects.get(code="31").pk,
        "jurisdiction": ApprovingBody.objects.get(code="HC-11110-1").pk,
        "information_system": MedicalInformationSystem.objects.get(name="의사랑").pk,
        "information_system_other": "", "predoctor_names": "이예진\n박예진",
        "vaccinator_names": "최접종", "mobile": "01012345678", "email_local": "clinic",
        "email_domain": "naver.com", "email_domain_custom": "", "email_consent": "yes",
        "mobile_consent": "yes",
    }

    valid = {k: str(v) for k, v in valid.items()}

    @fuzz(40)
    @given(posted=mutated(valid))
    @examples("posted", [{**valid, "representative_name": NUL},
                         {**valid, "category": SUPERSCRIPT, "jurisdiction": HUGE},
                         {**valid, "information_system": BEYOND_BIGINT},
                         {**valid, "business_number": "１１６８２００２７６"},
                         {**valid, "english_name": SCRIPT, "predoctor_names": SCRIPT * 40},
                         {**valid, "representative_name": SCRIPT, "vaccinator_names": ATTRIBUTE,
                          "information_system_other": IMG}])
    def run(posted):
        with isolated(client):
            response = findings.request(client, "post", url, posted, example=posted)
            findings.note(f"supplementary form: {response.status_code}")
            findings.expect(response.status_code in (302, 400), "supplementary: status",
                            f"status {response.status_code}", posted)
            if response.status_code == 400:
                shown = messages_of(response)
                findings.expect(not SupplementaryInfo.objects.exists(),
                                "supplementary: refused but stored", "a record was saved",
                                posted)
                if response.context is not None and "form" in response.context:
                    errors = response.context["form"].errors
                    unclear = {f: e for f, e in errors.items()
                               if not all(HANGUL.search(str(m)) for m in e)}
                    findings.expect(bool(errors) and has(shown, FORM_HAS_ERRORS) and not unclear,
                                    "supplementary: unclear errors",
                                    f"errors {dict(errors)}, page says {shown}", posted)
            elif response.status_code == 302:
                findings.request(client, "get", url, example=posted)  # shown escaped

    run()
    findings.assert_none()


# ----------------------------------------------------------------------- withdrawal, admin


def test_withdrawal(client, personas, stranger):
    from accounts.models import User

    findings = Findings()
    alice = personas.alice
    client.force_login(alice)
    known = certificate_messages()

    @fuzz(30)
    @given(fields=certificate_fields())
    @examples("fields", CERTIFICATE_EXAMPLES)
    def run(fields):
        with isolated(client):
            response, expected = post_certificate_fields(findings, client, "/me/withdraw/",
                                                         fields, stranger, follow=False)
            shown = messages_of(response)
            if expected is not None:
                findings.expect(shown == [expected], f"withdraw: message for {expected[:20]}",
                                f"expected {expected!r}, got {shown}", fields)
            else:
                findings.expect(len(shown) == 1 and (
                    shown[0] in known or shown[0] == NOT_OWN_CERTIFICATE),
                    "withdraw: unclear message", f"got {shown}", fields)
            findings.expect(User.objects.get(pk=alice.pk).status == alice.status,
                            "withdraw: withdrawn", "a stranger's signature withdrew alice",
                            fields)

    run()
    findings.assert_none()


def test_admin_login_form(client, settings, reference_data):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    findings = Findings()
    admin = User.objects.create_superuser(username="nadmin", password="national-admin-pw-2026")
    TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)

    @fuzz(30)
    @given(username=either("nadmin"), password=either("national-admin-pw-2026"),
           otp_token=either("123456"))
    @example(username=NUL, password=NUL, otp_token=NUL)
    @example(username="nadmin", password="national-admin-pw-2026", otp_token=HUGE)
    def run(username, password, otp_token):
        example = {"username": username, "password": password, "otp_token": otp_token}
        with isolated(client):
            response = findings.request(client, "post", "/admin/login/", {
                **example, "next": "/admin/"}, example=example)
            findings.expect(response.status_code in (200, 400), "admin login: status",
                            f"status {response.status_code}", example)
            findings.expect("_auth_user_id" not in client.session, "admin login: logged in",
                            "logged in without a valid code", example)

    run()
    findings.assert_none()
