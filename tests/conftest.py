"""Shared fixtures: a test PKI, personas, the PostgreSQL marker and the OS Chromium."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from accounts import pki

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")

# Hashing a password with the portal's hasher (PBKDF2, 1,000,000 iterations) costs about half
# a second; the tests' admins and superusers sign in with a fast one. Servers the tests start
# as processes keep the real one, and tests/kdcis/test_settings.py checks that the portal
# itself hashes with the strong one.
django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_report_header(config):
    vendor = "PostgreSQL" if ON_POSTGRES else "SQLite (tests marked 'postgres' are skipped)"
    return [f"database: {vendor}", f"chromium: {CHROMIUM if shutil.which(CHROMIUM) else 'missing'}"]


def pytest_collection_modifyitems(config, items):
    browser_missing = not shutil.which(CHROMIUM)
    require_browser = os.environ.get("REQUIRE_BROWSER") == "1"
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(pytest.mark.skip(
                reason="needs PostgreSQL: run with DATABASE_URL=postgres://... (CI does)"))
        if "browser" in item.keywords and browser_missing and not require_browser:
            item.add_marker(pytest.mark.skip(
                reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (CI does)"))


# ------------------------------------------------------------------------------- test PKI


@dataclass
class TestPKI:
    ca: pki.Authority
    directory: Path
    anchors: Path
    crl: Path
    revoked_serial: int
    # (common name, serial) -> index into the session's pool of RSA keys, for this test.
    key_slots: dict = field(default_factory=dict)

    def issue(self, cn: str = "홍길동()0010041200805281234567", **kwargs) -> pki.Issued:
        """A fresh certificate of the test CA. Within one test, each (common name, serial)
        has its own RSA key and the same pair gets the same key again; across tests the keys
        come from a session pool (generating a 2048-bit key costs ~50 ms, and tests built
        six personas each), so only the certificates are new."""
        if "key" not in kwargs and kwargs.get("key_type", "rsa") == "rsa":
            slot = self.key_slots.setdefault((cn, kwargs.get("serial")), len(self.key_slots))
            kwargs["key"] = pki.cached_key(f"test-pool:{slot}")
        return pki.make_user_certificate(self.ca, common_name=cn, **kwargs)

    def start_test(self) -> None:
        """Forget which test held which pool key (called before each test)."""
        self.key_slots.clear()

    def p12(self, issued: pki.Issued, password: str, name: str) -> Path:
        path = self.directory / f"{name}.p12"
        path.write_bytes(pki.to_p12(issued, password, ca=self.ca))
        return path


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory) -> TestPKI:
    directory = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)
    ca = pki.make_ca("KDCIS Test Root CA", key=pki.cached_key("test-ca"),
                     not_before=now - dt.timedelta(days=30),
                     not_after=now + dt.timedelta(days=3650))
    revoked_serial = 0x5EED0001
    anchors = directory / "ca.pem"
    anchors.write_bytes(pki.pem(ca.cert))
    crl = directory / "crl.pem"
    crl.write_bytes(pki.pem(pki.make_crl(ca, [revoked_serial],
                                         next_update=now + dt.timedelta(days=365))))
    return TestPKI(ca=ca, directory=directory, anchors=anchors, crl=crl,
                   revoked_serial=revoked_serial)


@pytest.fixture(autouse=True)
def _trust_test_pki(settings, test_pki):
    test_pki.start_test()
    settings.CERT_TRUST_ANCHORS = str(test_pki.anchors)
    settings.CERT_CRL_PATHS = [str(test_pki.crl)]


@pytest.fixture
def pinned_clock(monkeypatch):
    """The rate limits' clock stopped at one moment, so a test's failures never straddle two
    windows (kdcis/ratelimit.py)."""
    from django.utils import timezone

    from kdcis import ratelimit

    now = timezone.now()
    monkeypatch.setattr(ratelimit, "_now", lambda: now)
    return now


# ---------------------------------------------------------------------------- reference data


# The rows in the test database once it is migrated and the reference data is loaded
# (regions, health centers, types, the demo institutions, and what migrations write: the
# FAQ, the audit chain's head), per model, taken once per session (see django_db_setup).
# Content types and auth permissions are left out: the flush's post_migrate makes them.
_reference_rows: dict = {}


def _models_in_foreign_key_order(models):
    remaining, ordered = list(models), []
    while remaining:
        for model in remaining:
            targets = {f.related_model for f in model._meta.concrete_fields
                       if f.is_relation and f.related_model is not model}
            if not targets & set(remaining):
                ordered.append(model)
                remaining.remove(model)
                break
        else:
            raise RuntimeError(f"foreign-key cycle among {remaining}")
    return ordered


def _load_reference_data() -> None:
    from institutions.models import ApprovingBody

    if not ApprovingBody.objects.exists():
        call_command("load_reference_data", verbosity=0, stdout=open(os.devnull, "w"))


def _take_reference_rows() -> None:
    from django.apps import apps

    skipped = {"contenttypes.ContentType", "auth.Permission"}
    models = [m for m in apps.get_models()
              if m._meta.managed and not m._meta.proxy and m._meta.label not in skipped
              and m.objects.exists()]
    for model in _models_in_foreign_key_order(models):
        columns = [f.attname for f in model._meta.concrete_fields]
        _reference_rows[model] = list(model.objects.order_by("pk").values(*columns))


def _restore_reference_rows() -> None:
    """Put the rows back as they were (same ids), one insert per table: what migrating and
    running load_reference_data again would give, without the command's ~1,000 queries."""
    from django.core.management.color import no_style
    from django.db import connection, transaction

    with transaction.atomic():
        for model, rows in _reference_rows.items():
            model.objects.bulk_create([model(**row) for row in rows], batch_size=500)
        # A flush that reset the sequences would otherwise hand out the restored ids again.
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), list(_reference_rows)):
                cursor.execute(sql)


def _reload_after_flush(sender, **kwargs) -> None:
    # A transactional test ends with a flush, which sends post_migrate once per app.
    from institutions.models import ApprovingBody

    if sender.label == "institutions" and not ApprovingBody.objects.exists():
        _restore_reference_rows()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The reference data (regions, health centers, types, the demo institutions) is part of
    the test database, like a migration's data: loaded once after the migrations, so each
    test's rollback keeps it, and put back after a transactional test's flush (from the rows
    taken after the load)."""
    from django.db.models.signals import post_migrate

    with django_db_blocker.unblock():
        _load_reference_data()
        _take_reference_rows()
    post_migrate.connect(_reload_after_flush, dispatch_uid="tests-reference-data")
    yield
    post_migrate.disconnect(dispatch_uid="tests-reference-data")


@pytest.fixture
def reference_data(django_db_blocker):
    """Regions, health centers, types and the demo institutions (in the test database from
    the start; see django_db_setup). Requesting it says a test depends on them."""
    with django_db_blocker.unblock():
        _load_reference_data()


# ---------------------------------------------------------------------------------- personas


@pytest.fixture
def make_verified(test_pki):
    """A VerifiedCertificate for a fresh certificate of the test CA (really verified)."""
    from accounts.certificates import TrustStore, verify_signed_challenge

    def build(cn: str, **kwargs):
        issued = test_pki.issue(cn, **kwargs)
        trust = TrustStore.from_pem_bundle(test_pki.anchors.read_bytes(),
                                           [test_pki.crl.read_bytes()])
        challenge = b"fixture"
        return issued, verify_signed_challenge(
            certificate=issued.der, challenge=challenge,
            signature=pki.sign_challenge(issued.key, challenge), trust=trust)

    return build


_serial = iter(range(1, 10**6))


@pytest.fixture
def personas(reference_data, make_verified):
    """alice: applicant of 종로연세의원 (종로구 jurisdiction) with a pending vaccination request;
    bob: applicant of 강남제일병원 (강남구) with a pending request; oscar: officer of 종로구보건소;
    olga: officer of 강남구보건소; carl: officer of the central department; hana: helpdesk."""
    from django.conf import settings
    from django.utils import timezone

    from accounts.services import (
        RequestedPermission,
        helpdesk_assign,
        signup_submit,
        staff_account_create,
    )
    from institutions.models import ApprovingBody, Institution
    from permissions.models import PermissionType
    from permissions.services import officer_assign

    vaccination = PermissionType.objects.get(code="vaccination_user")
    education = PermissionType.objects.get(code="education_learner")
    central = ApprovingBody.objects.get(kind="central")

    def applicant(username, name, number, mobile, with_education=False):
        inst = Institution.objects.get(number=number)
        _issued, cert = make_verified(f"{name}()00100412008052800{next(_serial):05d}")
        perms = [RequestedPermission(permission_type=vaccination, body=inst.jurisdiction)]
        if with_education:
            perms.append(RequestedPermission(permission_type=education, body=central))
        return signup_submit(
            certificate=cert, name=cert.name, username=username, institution=inst,
            mobile=mobile, office_phone="0221483500", consent_at=timezone.now(),
            consent_version=settings.CONSENT_NOTICE_VERSION, permissions=perms)

    def staff(username, name):
        _issued, cert = make_verified(f"{name}()00100412008052899{next(_serial):05d}")
        return staff_account_create(certificate=cert, username=username, mobile="01099998888")

    class P:
        pass

    p = P()
    p.alice = applicant("alice01", "김앨리", "11110101", "01011112222", with_education=True)
    p.bob = applicant("bob01", "박밥", "11680104", "01033334444")
    p.oscar = staff("oscar01", "오보건")
    officer_assign(user=p.oscar, body=ApprovingBody.objects.get(code="HC-11110-1"))
    p.olga = staff("olga01", "올강남")
    officer_assign(user=p.olga, body=ApprovingBody.objects.get(code="HC-11680-1"))
    p.carl = staff("carl01", "칼중앙")
    officer_assign(user=p.carl, body=central)
    p.hana = staff("hana01", "한상담")
    helpdesk_assign(user=p.hana)
    for name in ("alice", "bob", "oscar", "olga", "carl", "hana"):
        getattr(p, name).refresh_from_db()
    return p


# ---------------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def _playwright():
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium(_playwright):
    """The OS Chromium (never a downloaded browser), headless, with no outside traffic."""
    browser = _playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--no-first-run", "--disable-quic"],
    )
    yield browser
    browser.close()


@pytest.fixture
def page(chromium, live_server):
    """A fresh browser context against the live server; fails the test on any request that
    leaves the server (no CDN) and on any JavaScript error."""
    context = chromium.new_context(locale="ko-KR", base_url=live_server.url)
    outside: list[str] = []
    js_errors: list[str] = []

    def on_request(request):
        if not request.url.startswith((live_server.url, "data:", "blob:")):
            outside.append(request.url)

    context.on("request", on_request)
    page = context.new_page()
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    page.set_default_timeout(15000)
    yield page
    context.close()
    assert not outside, f"a page loaded something from outside the server: {outside}"
    assert not js_errors, f"JavaScript errors: {js_errors}"


SMS_CODE = re.compile(r"SMS to=(\d+) text=.*?\[(\d{6})\]")


def last_sms_code(caplog, phone: str) -> str:
    """The newest verification code the console SMS backend logged for `phone`."""
    codes = [m.group(2) for m in SMS_CODE.finditer(caplog.text) if m.group(1) == phone]
    assert codes, f"no SMS code logged for {phone}"
    return codes[-1]


@pytest.fixture
def complete_supplementary_info():
    """Save a complete 의료기관 부가정보 for an institution, so its users are not sent to
    the form at login (tests of other pages)."""

    def complete(institution, actor=None):
        from institutions.models import ApprovingBody, Category, MedicalInformationSystem
        from institutions.services import supplementary_info_save

        return supplementary_info_save(institution=institution, actor=actor, data={
            "english_name": "Test Clinic", "business_number": "1168200276",
            "representative_name": "김대표", "phone_area": "02", "phone_number": "21483500",
            "fax_area": "", "fax_number": "", "category": Category.objects.get(code="31"),
            "jurisdiction": institution.jurisdiction or ApprovingBody.objects.filter(
                kind="health_center").first(),
            "information_system": MedicalInformationSystem.objects.get(name="의사랑"),
            "information_system_other": "", "predoctor_names": [], "vaccinator_names": [],
            "mobile": "", "email": "", "email_consent": False, "mobile_consent": False,
        })

    return complete
