"""Every URL pattern of the project, opened by every persona.

`POLICY` says, for each URL name (and, for Django's admin, for the whole `admin/` prefix),
who may reach the page. The walk takes `get_resolver().url_patterns` recursively (the
admin's too), fills path converters with ids of real objects of the right kind, GETs each
URL as each persona (and POSTs an empty body where the view only takes POST), and fails with
one table listing every violation:

- a persona outside the policy reached the page: status 200, or a state change (a new audit
  row, a grant or an account that changed);
- a refused persona was refused in the wrong way (the admin must send outsiders to its login
  page; an officer of another body gets 404 for a request, not a hint that it exists);
- a persona the policy lets in did not get a page it must reach (so that a broken login
  cannot make the whole walk pass by refusing everybody);
- any 5xx, for anyone.

`VARIANTS` adds the same patterns with other objects whose policy differs (another body's
request, an unpublished notice, a 업무연락 under /notices/) and a few real POSTs (a decision, a helpdesk correction) that
only the right persona may turn into a state change.

Each visit runs in a savepoint that is rolled back, with the client's cookies restored, so
no visit (a logout, a cancellation, a withdrawal) changes what the next one sees. Set
ACCESS_MATRIX_DUMP=1 to print the whole matrix (one row per URL, one column per persona).

A URL pattern added later without a policy entry fails `test_every_url_pattern_has_a_policy`.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve

PERSONAS = (
    "anonymous",
    "alice_pending",  # applicant of 종로연세의원, requests pending
    "oscar",  # officer of 종로구보건소 (alice's vaccination request is addressed to it)
    "olga",  # officer of 강남구보건소
    "carl",  # officer of the central department
    "hana",  # helpdesk
    "nadmin",  # national admin, logged in through the admin form with password + TOTP
    "nadmin_no_otp",  # the same superuser with a session that never passed the OTP step
    "alice_active",  # alice once approved, her institution's supplementary info complete
)
EVERYONE = frozenset(PERSONAS)
SIGNED_IN = EVERYONE - {"anonymous"}
ACTIVE = frozenset({"alice_active", "oscar", "olga", "carl", "hana"})
OFFICERS = frozenset({"oscar", "olga", "carl"})
ALICE = frozenset({"alice_pending", "alice_active"})
NOBODY: frozenset[str] = frozenset()


# ------------------------------------------------------------------------------ the policy


@dataclass(frozen=True)
class Redirect:
    """A refusal by redirect to `to` (a prefix, unless `exact`)."""

    to: str
    exact: bool = False

    def matches(self, status: int, location: str) -> bool:
        if status not in (301, 302, 303, 307, 308):
            return False
        return location == self.to if self.exact else location.startswith(self.to)

    def __str__(self) -> str:
        return f"302 → {self.to}" + ("" if self.exact else "…")


Expect = Redirect | int
LOGIN = Redirect("/login/")
ADMIN_LOGIN = Redirect("/admin/login/?next=")


@dataclass(frozen=True)
class Rule:
    """Who may reach a page, and how the others are refused (None: any refusal will do)."""

    allowed: frozenset[str]
    must_reach: bool = False  # every allowed persona gets 200 on GET
    anonymous: Expect | None = LOGIN
    others: Expect | None = None  # signed-in personas outside `allowed`
    per_persona: dict[str, Expect] = field(default_factory=dict)

    def refusal_for(self, persona: str) -> Expect | None:
        if persona in self.per_persona:
            return self.per_persona[persona]
        return self.anonymous if persona == "anonymous" else self.others


PUBLIC = Rule(EVERYONE)
AREA_HOLDER = Rule(frozenset({"alice_active"}), must_reach=True, others=403)
HELPDESK = Rule(frozenset({"hana"}), must_reach=True, others=403)
ADMIN = Rule(frozenset({"nadmin"}), anonymous=ADMIN_LOGIN, others=ADMIN_LOGIN)

POLICY: dict[str, Rule] = {
    # The login page and main screen, the wizard and the public information pages.
    # A helpdesk agent's home is their search.
    "home": Rule(EVERYONE - {"hana"}, must_reach=True,
                 per_persona={"hana": Redirect("/helpdesk/", exact=True)}),
    "login": PUBLIC,
    "logout": PUBLIC,
    "signup": PUBLIC,
    "signup_consent": PUBLIC,
    "signup_certificate": PUBLIC,
    "signup_profile": PUBLIC,
    "signup_profile_save": PUBLIC,
    "signup_profile_check_id": PUBLIC,
    "signup_profile_search": PUBLIC,
    "signup_profile_results": PUBLIC,
    "signup_profile_send_code": PUBLIC,
    "signup_profile_verify_code": PUBLIC,
    "signup_check_id": PUBLIC,
    "signup_permissions": PUBLIC,
    "signup_done": PUBLIC,
    "signup_restart": PUBLIC,
    "signup_institution_request": PUBLIC,
    "signup_institution_request_cancel": PUBLIC,
    "contacts": Rule(EVERYONE, must_reach=True),
    "institution_registration": Rule(EVERYONE, must_reach=True),
    "notices": Rule(EVERYONE, must_reach=True),
    "notice_detail": Rule(EVERYONE, must_reach=True),
    "library": Rule(EVERYONE, must_reach=True),
    "library_download": Rule(EVERYONE, must_reach=True),
    "faq": Rule(EVERYONE, must_reach=True),
    # 업무연락: work between the system's users, so any signed-in account (see
    # kdcis.views.work_list); visitors go to the login page.
    "work_list": Rule(SIGNED_IN, must_reach=True),
    "work_detail": Rule(SIGNED_IN, must_reach=True),
    "healthz": Rule(EVERYONE, must_reach=True),
    # A renewed certificate is re-bound only right after a certificate login in the same
    # session; without one, nobody gets the page.
    "rebind": Rule(NOBODY, anonymous=LOGIN, others=LOGIN),
    # 내정보 and withdrawal: any signed-in user.
    "me": Rule(SIGNED_IN, must_reach=True),
    "withdraw": Rule(SIGNED_IN, must_reach=True),
    # 내 정보 열람: any signed-in user, about themselves only (no id in the URL).
    "my_data": Rule(SIGNED_IN, must_reach=True),
    "my_data_download": Rule(SIGNED_IN, must_reach=True),
    # 권한 부가정보: any signed-in user (a pending applicant too: after a rejection it is
    # where they ask again); a request may be made by any signed-in account, a
    # cancellation only by the request's owner (others: as if it did not exist).
    "permissions": Rule(SIGNED_IN, must_reach=True),
    "permission_request": Rule(SIGNED_IN),
    "permission_cancel": Rule(ALICE, others=404),
    "permission_change_body": Rule(ALICE, others=404),
    # The menu areas: only holders of the approved permission.
    "vaccination_home": AREA_HOLDER,
    "education_home": AREA_HOLDER,
    "vaccination_institution_info": AREA_HOLDER,
    # The approval queue: officers; a request's page only for its own body's officers.
    "approvals": Rule(OFFICERS, must_reach=True, others=403),
    "approval_detail": Rule(frozenset({"oscar"}), must_reach=True, others=403,
                            per_persona={"olga": 404, "carl": 404}),
    "approval_decide": Rule(OFFICERS, others=403),
    # 이관: only the officers of the body the request was sent to (others: not found).
    "approval_transfer": Rule(frozenset({"oscar"}), others=403,
                              per_persona={"olga": 404, "carl": 404}),
    # 기관등록 신청: the queue tab for officers; a request only for its own body's officers.
    "institution_requests": Rule(OFFICERS, must_reach=True, others=403),
    "institution_request_detail": Rule(frozenset({"oscar"}), must_reach=True, others=403,
                                       per_persona={"olga": 404, "carl": 404}),
    "institution_request_decide": Rule(OFFICERS, others=403),
    "helpdesk_institution_requests": HELPDESK,
    "helpdesk_institution_request": HELPDESK,
    # The helpdesk.
    "helpdesk": HELPDESK,
    "helpdesk_user": HELPDESK,
    "helpdesk_institution": HELPDESK,
    # A user's 내 정보 열람 for the helpdesk: only right after a reveal with a reason (a GET
    # without one goes back to the user's page); everyone else is refused.
    "helpdesk_user_data": Rule(NOBODY, others=403,
                               per_persona={"hana": Redirect("/helpdesk/users/")}),
    # The admin: its login form is public; everything else needs a verified OTP session.
    "admin:login": PUBLIC,
    "admin:index": Rule(frozenset({"nadmin"}), must_reach=True, anonymous=ADMIN_LOGIN,
                        others=ADMIN_LOGIN),
    "admin:reports": Rule(frozenset({"nadmin"}), must_reach=True, anonymous=ADMIN_LOGIN,
                          others=ADMIN_LOGIN),
    # Django's admin answers an outsider's logout with its index (which asks to log in).
    "admin:logout": Rule(frozenset({"nadmin"}), anonymous=Redirect("/admin/", exact=True),
                         others=Redirect("/admin/", exact=True)),
}
# Whole URL prefixes: every pattern under Django's admin (one per registered model and
# view, named or not) belongs to the national admins.
PREFIX_POLICY: dict[str, Rule] = {"admin/": ADMIN}


@dataclass(frozen=True)
class Variant:
    """The same URL pattern with another object, whose policy differs from the default."""

    name: str
    what: str
    fills: dict[str, Callable[[World], object]]
    rule: Rule
    data: Callable[[World], dict] | None = None  # POSTed instead of the plain GET


def _correction(w: World) -> dict:
    institution = w.alice.institution
    return {"name": institution.name + " 의원", "postcode": institution.postcode or "03000",
            "address": institution.address or "서울특별시 종로구", "reason": "기관 요청 (전화)"}


NOT_FOUND_FOR_ALL = Rule(NOBODY, anonymous=404, others=404)
VARIANTS: tuple[Variant, ...] = (
    Variant("approval_detail", "bob's request (강남구보건소)",
            {"grant_id": lambda w: w.bob_vaccination.pk},
            Rule(frozenset({"olga"}), must_reach=True, others=403,
                 per_persona={"oscar": 404, "carl": 404})),
    Variant("approval_detail", "alice's education request (central department)",
            {"grant_id": lambda w: w.alice_education.pk},
            Rule(frozenset({"carl"}), must_reach=True, others=403,
                 per_persona={"oscar": 404, "olga": 404})),
    Variant("permission_cancel", "bob's request", {"grant_id": lambda w: w.bob_vaccination.pk},
            Rule(NOBODY, others=404)),
    Variant("permission_change_body", "bob's request",
            {"grant_id": lambda w: w.bob_vaccination.pk}, Rule(NOBODY, others=404)),
    Variant("notice_detail", "an unpublished notice", {"pk": lambda w: w.draft_notice.pk},
            NOT_FOUND_FOR_ALL),
    Variant("notice_detail", "a notice published tomorrow",
            {"pk": lambda w: w.future_notice.pk}, NOT_FOUND_FOR_ALL),
    Variant("notice_detail", "a 업무연락 (signed-in users only)",
            {"pk": lambda w: w.work_notice.pk}, NOT_FOUND_FOR_ALL),
    Variant("work_detail", "a 공지 (not a 업무연락)", {"pk": lambda w: w.notice.pk},
            Rule(NOBODY, anonymous=LOGIN, others=404)),
    Variant("work_detail", "an unpublished 업무연락", {"pk": lambda w: w.draft_work_notice.pk},
            Rule(NOBODY, anonymous=LOGIN, others=404)),
    Variant("library_download", "a file published tomorrow",
            {"pk": lambda w: w.future_file.pk}, NOT_FOUND_FOR_ALL),
    # Decisions and corrections posted for real: only the right person changes anything.
    Variant("approval_decide", "approve alice's vaccination request", {},
            Rule(frozenset({"oscar"}), others=403, per_persona={"olga": 404, "carl": 404}),
            data=lambda w: {"grant": [w.alice_vaccination.pk], "action": "approve"}),
    Variant("approval_decide", "reject bob's request", {},
            Rule(frozenset({"olga"}), others=403, per_persona={"oscar": 404, "carl": 404}),
            data=lambda w: {"grant": [w.bob_vaccination.pk], "action": "reject",
                            "reason": "기관 확인 불가"}),
    Variant("helpdesk_user", "reveal alice's mobile number", {"pk": lambda w: w.alice.pk},
            Rule(frozenset({"hana"}), others=403),
            data=lambda w: {"field": "mobile", "reason": "본인 확인 요청 (전화)"}),
    Variant("helpdesk_institution", "correct alice's institution's name",
            {"pk": lambda w: w.alice.institution_id}, Rule(frozenset({"hana"}), others=403),
            data=_correction),
    Variant("permission_cancel", "alice's request, with a next URL elsewhere",
            {"grant_id": lambda w: w.alice_vaccination.pk}, Rule(ALICE, others=404),
            data=lambda w: {"next": "https://evil.example/"}),
)


def rule_for(endpoint: Endpoint) -> Rule | None:
    if endpoint.name and endpoint.name in POLICY:
        return POLICY[endpoint.name]
    for prefix, rule in PREFIX_POLICY.items():
        if endpoint.route.startswith(prefix):
            return rule
    return None


# ----------------------------------------------------------------------- walking the URLs


@dataclass(frozen=True)
class Endpoint:
    route: str  # the full pattern, e.g. "approvals/<int:grant_id>/"
    name: str | None  # with its namespace: "approval_detail", "admin:accounts_user_change"
    params: tuple[str, ...]
    model: type | None  # the model of an admin per-model pattern

    @property
    def label(self) -> str:
        return self.name or self.route


_ROUTE_PARAM = re.compile(r"(?<!\?P)<(?:[^<>:]+:)?([^<>]+)>")
_REGEX_PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def endpoints() -> list[Endpoint]:
    """Every URL pattern of the project, with its full route and namespaced name."""
    from kdcis.admin_site import kdcis_admin_site

    admin_models = {f"admin/{m._meta.app_label}/{m._meta.model_name}/": m
                    for m in kdcis_admin_site._registry}
    found: list[Endpoint] = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                ns = namespace + (f"{entry.namespace}:" if entry.namespace else "")
                walk(entry.url_patterns, route, ns)
                continue
            params = tuple(_ROUTE_PARAM.findall(route) + _REGEX_PARAM.findall(route))
            model = next((m for p, m in admin_models.items() if route.startswith(p)), None)
            found.append(Endpoint(route=route, name=f"{namespace}{entry.name}"
                                  if entry.name else None, params=params, model=model))

    walk(get_resolver().url_patterns, "", "")
    return found


def concrete_path(route: str, values: dict[str, object]) -> str:
    path = _ROUTE_PARAM.sub(lambda m: str(values[m.group(1)]), route)
    path = _REGEX_PARAM.sub(lambda m: str(values[m.group(1)]), path)
    return "/" + path.replace("^", "").replace("$", "")


# Path converters of the portal's own patterns: name → {parameter: object id}.
PORTAL_FILLS: dict[str, dict[str, Callable[[World], object]]] = {
    "helpdesk_user": {"pk": lambda w: w.alice.pk},
    "helpdesk_user_data": {"pk": lambda w: w.alice.pk},
    "helpdesk_institution": {"pk": lambda w: w.alice.institution_id},
    "permission_cancel": {"grant_id": lambda w: w.alice_vaccination.pk},
    "permission_change_body": {"grant_id": lambda w: w.alice_vaccination.pk},
    "approval_detail": {"grant_id": lambda w: w.alice_vaccination.pk},
    "approval_transfer": {"grant_id": lambda w: w.alice_vaccination.pk},
    "notice_detail": {"pk": lambda w: w.notice.pk},
    "work_detail": {"pk": lambda w: w.work_notice.pk},
    "library_download": {"pk": lambda w: w.library_file.pk},
    "institution_request_detail": {"pk": lambda w: w.jongno_request.pk},
    "institution_request_decide": {"pk": lambda w: w.jongno_request.pk},
    "helpdesk_institution_request": {"pk": lambda w: w.jongno_request.pk},
}
# Path converters of Django's admin patterns, by parameter name.
ADMIN_FILLS: dict[str, Callable[[World, Endpoint], object]] = {
    "object_id": lambda w, e: w.row_of(e.model) if e.model else w.alice.pk,
    "pk": lambda w, e: w.row_of(e.model),
    "content_type_id": lambda w, e: w.user_content_type,
    "app_label": lambda w, e: "accounts",
    "url": lambda w, e: "no-such-page/",
}


def fill_rule_missing(endpoint: Endpoint) -> list[str]:
    known = set(PORTAL_FILLS.get(endpoint.name or "", {}))
    if endpoint.route.startswith("admin/"):
        known |= set(ADMIN_FILLS)
    return [p for p in endpoint.params if p not in known]


def values_for(endpoint: Endpoint, world: World) -> dict[str, object]:
    portal = PORTAL_FILLS.get(endpoint.name or "", {})
    values = {}
    for param in endpoint.params:
        if param in portal:
            values[param] = portal[param](world)
        else:
            values[param] = ADMIN_FILLS[param](world, endpoint)
    return values


# ------------------------------------------------------------------- coverage of the table


def test_every_url_pattern_has_a_policy():
    """A new URL pattern must be added to POLICY (and PORTAL_FILLS when it takes ids)."""
    problems = []
    for endpoint in endpoints():
        if rule_for(endpoint) is None:
            problems.append(f"no policy for {endpoint.label!r} ({endpoint.route})")
        missing = fill_rule_missing(endpoint)
        if missing:
            problems.append(f"no id to put in {missing} of {endpoint.label!r} "
                            f"({endpoint.route}): add it to PORTAL_FILLS")
    assert not problems, "\n".join(problems)


def test_the_policy_names_only_existing_url_patterns():
    names = {e.name for e in endpoints() if e.name}
    stale = (sorted(set(POLICY) - names) + sorted(set(PORTAL_FILLS) - names)
             + sorted({v.name for v in VARIANTS} - names))
    assert not stale, f"policy entries for URL names that no longer exist: {stale}"


# --------------------------------------------------------------------------------- the world


@dataclass
class World:
    alice: object
    alice_vaccination: object
    alice_education: object
    bob_vaccination: object
    notice: object
    draft_notice: object
    future_notice: object
    work_notice: object
    draft_work_notice: object
    library_file: object
    future_file: object
    user_content_type: int
    jongno_request: object
    rows: dict = field(default_factory=dict)

    def row_of(self, model) -> object:
        if model not in self.rows:
            row = model._default_manager.order_by("pk").first()
            self.rows[model] = row.pk if row is not None else 0
        return self.rows[model]


ADMIN_PASSWORD = "national-admin-password-2026"


def _totp_code(device) -> str:
    from django_otp.oath import totp

    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits,
                 drift=device.drift)
    return f"{value:0{device.digits}d}"


@pytest.fixture
def world(personas, complete_supplementary_info, settings, tmp_path) -> World:
    """The personas plus one row in every table the admin shows, a notice, a library file
    on disk and alice's institution's complete supplementary info."""
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from accounts.models import PhoneVerification, User
    from kdcis.models import LibraryFile, Notice, RateCounter, SmsMessage
    from permissions.models import Grant

    settings.MEDIA_ROOT = str(tmp_path)
    (Path(tmp_path) / "library").mkdir()
    (Path(tmp_path) / "library" / "guide.txt").write_text("guide", encoding="utf-8")
    now = timezone.now()
    yesterday, tomorrow = now - dt.timedelta(days=1), now + dt.timedelta(days=1)
    notice = Notice.objects.create(title="공지", body="내용", published_at=yesterday)
    draft_notice = Notice.objects.create(title="초안", body="내용", published_at=yesterday,
                                         is_published=False)
    future_notice = Notice.objects.create(title="예약", body="내용", published_at=tomorrow)
    work_notice = Notice.objects.create(kind=Notice.Kind.WORK, title="업무연락", body="내용",
                                        published_at=yesterday)
    draft_work_notice = Notice.objects.create(kind=Notice.Kind.WORK, title="초안",
                                              body="내용", published_at=yesterday,
                                              is_published=False)
    library_file = LibraryFile.objects.create(title="안내서", file="library/guide.txt",
                                              published_at=yesterday)
    future_file = LibraryFile.objects.create(title="예약", file="library/guide.txt",
                                             published_at=tomorrow)
    SmsMessage.objects.create(to="01011112222", text="[질병보건통합관리시스템] 알림")
    RateCounter.objects.create(key="login-fail:127.0.0.1", window_start=now, count=1)
    PhoneVerification.objects.create(session_key="s", phone="01011112222", code_hash="x$y",
                                     created_at=now, expires_at=now, ip="127.0.0.1")
    complete_supplementary_info(personas.alice.institution)
    from institutions.models import ApprovingBody, InstitutionRequest, InstitutionType

    jongno_request = InstitutionRequest.objects.create(
        name="새봄의원", type=InstitutionType.objects.get(code="clinic"),
        business_number="1168200276", postcode="03154", address="서울특별시 종로구 종로 33",
        region_id="11", sigungu_code="11110", phone="0227001234",
        body=ApprovingBody.objects.get(code="HC-11110-1"), applicant_name="정새봄")
    grants = Grant.objects.select_related("permission_type")
    return World(
        alice=personas.alice,
        alice_vaccination=grants.get(user=personas.alice,
                                     permission_type__code="vaccination_user"),
        alice_education=grants.get(user=personas.alice,
                                   permission_type__code="education_learner"),
        bob_vaccination=grants.get(user=personas.bob, permission_type__code="vaccination_user"),
        notice=notice, draft_notice=draft_notice, future_notice=future_notice,
        work_notice=work_notice, draft_work_notice=draft_work_notice,
        library_file=library_file, future_file=future_file,
        user_content_type=ContentType.objects.get_for_model(User).pk,
        jongno_request=jongno_request,
    )


def _clients(personas) -> dict[str, Client]:
    """A logged-in client per persona (alice_active is made later, once she is approved)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    clients = {"anonymous": Client()}
    for persona, user in (("alice_pending", personas.alice), ("oscar", personas.oscar),
                          ("olga", personas.olga), ("carl", personas.carl),
                          ("hana", personas.hana)):
        clients[persona] = Client()
        clients[persona].force_login(user)
    nadmin = User.objects.create_superuser(username="nadmin", password=ADMIN_PASSWORD,
                                           name="나관리")
    device = TOTPDevice.objects.create(user=nadmin, name="phone", confirmed=True)
    clients["nadmin"] = Client()
    response = clients["nadmin"].post("/admin/login/", {
        "username": "nadmin", "password": ADMIN_PASSWORD, "otp_token": _totp_code(device),
        "next": "/admin/"})
    assert response.status_code == 302 and response.url == "/admin/", "admin login failed"
    clients["nadmin_no_otp"] = Client()
    clients["nadmin_no_otp"].force_login(nadmin)
    return clients


def _approve_alice(personas) -> Client:
    """alice becomes active: oscar approves her vaccination request, carl her education
    request (her institution's supplementary info is already complete)."""
    from permissions.models import Grant
    from permissions.services import grant_approve

    for code, officer in (("vaccination_user", personas.oscar), ("education_learner",
                                                                  personas.carl)):
        grant = Grant.objects.get(user=personas.alice, permission_type__code=code)
        grant_approve(grant_id=grant.pk, officer=officer.officer)
    personas.alice.refresh_from_db()
    assert personas.alice.status == "active"
    client = Client()
    client.force_login(personas.alice)
    return client


# ------------------------------------------------------------------------------- the visits


@dataclass(frozen=True)
class Target:
    endpoint: Endpoint
    path: str
    rule: Rule
    label: str
    data: dict | None = None


@dataclass
class Visit:
    persona: str
    method: str
    target: Target
    status: int
    location: str = ""
    changed: bool = False
    error: str = ""


# Audit actions that record a read (the helpdesk looking someone up), not a change.
READ_ACTIONS = ("helpdesk.viewed", "helpdesk.searched")


def _state() -> tuple:
    """What a request must not change unless it is allowed to: the audit trail (every
    service writes a row: roles, institutions' data, withdrawals...), and, in case a change
    forgot its audit row, the grants and the accounts."""
    from accounts.models import User
    from kdcis.models import AuditEvent
    from permissions.models import Grant

    return (
        AuditEvent.objects.exclude(action__in=READ_ACTIONS).count(),
        tuple(Grant.objects.order_by("pk").values_list("pk", "status")),
        tuple(User.objects.order_by("pk").values_list("pk", "status", "is_helpdesk",
                                                      "is_staff", "is_superuser")),
    )


def _last_app_frame(exc: BaseException) -> str:
    root = str(Path(__file__).resolve().parents[2])
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith(root) and "/.venv/" not in f.filename
              and "/tests/" not in f.filename]
    if not frames:
        return "no application frame"
    frame = frames[-1]
    return f"{Path(frame.filename).relative_to(root)}:{frame.lineno} in {frame.name}"


def visit(client: Client, persona: str, target: Target) -> Visit:
    """GET the page (POST an empty body when the view only takes POST), in a savepoint that
    is rolled back, with the client's cookies restored afterwards."""
    cookies = copy.deepcopy(client.cookies)
    method = "GET"
    try:
        with transaction.atomic():
            before = _state()
            if target.data is not None:
                method = "POST"
                response = client.post(target.path, target.data)
            else:
                response = client.get(target.path)
            if response.status_code == 405 and target.data is None:
                method = "POST"
                response = client.post(target.path)
            changed = _state() != before
            transaction.set_rollback(True)
        return Visit(persona, method, target, response.status_code,
                     response.get("Location", ""), changed)
    except Exception as exc:  # the test client re-raises what the view raised: a 500
        detail = f"{type(exc).__name__}: {str(exc)[:120]} at {_last_app_frame(exc)}"
        print(f"{persona} {method} {target.path}", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
        return Visit(persona, method, target, 500, error=detail)
    finally:
        client.cookies = cookies


def problems_of(visit: Visit) -> list[tuple[str, str]]:
    """(expected, problem) pairs for one visit; empty when it follows the policy."""
    rule = visit.target.rule
    if visit.status >= 500:
        return [("no 5xx", visit.error or "server error")]
    target = urlsplit(visit.location.replace("\\", "/"))
    if target.scheme or target.netloc:
        return [("same site", "redirects off the site")]
    if visit.persona in rule.allowed:
        if rule.must_reach and visit.method == "GET" and visit.status != 200:
            return [("200", "an allowed persona did not get the page")]
        return []
    found = []
    if visit.status == 200:
        found.append(("refused", "reached a page outside the policy"))
    elif visit.changed:
        found.append(("refused", "changed state outside the policy"))
    expected = rule.refusal_for(visit.persona)
    if expected is not None and not found:
        ok = (expected.matches(visit.status, visit.location) if isinstance(expected, Redirect)
              else visit.status == expected)
        if not ok:
            found.append((str(expected), "refused in the wrong way"))
    return found


def violation_table(visits: list[Visit]) -> str:
    rows = []
    for v in visits:
        for expected, problem in problems_of(v):
            got = f"{v.status}" + (f" → {v.location}" if v.location else "")
            rows.append((v.persona, v.method, v.target.path, v.target.label, got, expected,
                         problem))
    if not rows:
        return ""
    header = ("persona", "method", "url", "pattern", "got", "expected", "problem")
    widths = [min(60, max(len(str(r[i])) for r in [header, *rows])) for i in range(7)]

    def line(row) -> str:
        return "  ".join(str(c)[:60].ljust(w) for c, w in zip(row, widths, strict=True))

    return "\n".join([f"{len(rows)} access violation(s):", line(header),
                      line(["-" * w for w in widths]), *map(line, rows)])


def matrix_dump(visits: list[Visit]) -> str:
    """One line per URL, one column per persona: the status each got."""
    by_path: dict[str, dict[str, str]] = {}
    for v in visits:
        cell = str(v.status) + ("*" if v.changed else "") + ("P" if v.method == "POST" else "")
        key = v.target.path + (f" ({v.target.label})" if v.target.data is not None else "")
        by_path.setdefault(key, {})[v.persona] = cell
    lines = ["url".ljust(70) + " ".join(p[:7].ljust(7) for p in PERSONAS)]
    for path, cells in by_path.items():
        lines.append(path[:70].ljust(70) + " ".join(cells.get(p, "").ljust(7)
                                                      for p in PERSONAS))
    return "\n".join(lines)


def targets_for(world: World) -> list[Target]:
    """One URL per pattern (ids of real objects filled in), plus the variants."""
    targets = []
    everything = endpoints()
    for endpoint in everything:
        path = concrete_path(endpoint.route, values_for(endpoint, world))
        targets.append(Target(endpoint, path, rule_for(endpoint), endpoint.label))
    by_name = {e.name: e for e in everything if e.name}
    for variant in VARIANTS:
        endpoint = by_name[variant.name]
        values = {param: fill(world) for param, fill in variant.fills.items()}
        targets.append(Target(endpoint, concrete_path(endpoint.route, values), variant.rule,
                              f"{variant.name}: {variant.what}",
                              variant.data(world) if variant.data else None))
    for target in targets:
        match = resolve(target.path)
        # The URL really exercises this pattern (not an earlier one that matches it too).
        assert match.route == target.endpoint.route or (
            target.endpoint.name and match.view_name == target.endpoint.name
        ), f"{target.path} resolves to {match.view_name or match.route}, not {target.label}"
    return targets


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_every_persona_reaches_exactly_what_the_policy_allows(world, personas, persona):
    """One persona per case, so parallel workers share the matrix (alice_active is the one
    whose world differs: alice approved first)."""
    uncovered = [e.label for e in endpoints() if rule_for(e) is None or fill_rule_missing(e)]
    assert not uncovered, f"patterns without a policy or ids: {uncovered}"
    clients = _clients(personas)  # before the ids are taken: the admin's OTP device is one
    targets = targets_for(world)
    client = _approve_alice(personas) if persona == "alice_active" else clients[persona]
    visits = [visit(client, persona, target) for target in targets]

    assert len(visits) == len(targets)
    if os.environ.get("ACCESS_MATRIX_DUMP"):  # this persona's column, to review the policy
        print(matrix_dump(visits), file=sys.stderr)
    report = violation_table(visits)
    assert not report, "\n" + report
