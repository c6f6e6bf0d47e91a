"""The proof that 탈퇴 erases the person: every kind of row they can leave, then a scan of every
text-like column of every table of the database for each of their values, and none is found.

PostgreSQL only: the scan reads the catalogue (information_schema) of every schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client

from accounts.models import SignupDraft, User
from institutions.models import ApprovingBody, Institution, SupplementaryInfo
from kdcis.audit import verify_chain
from kdcis.models import AuditEvent, SmsMessage
from permissions.models import Grant
from tests.accounts.helpers import complete_profile, post_certificate, sms_code_from_outbox

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

IP = "203.0.113.77"
IP_RENEWAL = "198.51.100.23"
CN = "최증명()0010041200805281777001"
USERNAME = "prooftest77"
MOBILE = "01077776543"
OFFICE = "0317778899"
EMAIL = "choi.proof@example.kr"
TEXT_TYPES = ("character varying", "character", "text", "json", "jsonb", "inet", "cidr",
              "uuid", "bytea", "xml", "ARRAY", "USER-DEFINED", "tsvector", "name")


def text_columns() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, table) → [(column, data type)] of every text-like column outside the
    catalogue schemas."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT c.table_schema, c.table_name, c.column_name, c.data_type
            FROM information_schema.columns c
            JOIN information_schema.tables t
              ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
              AND t.table_type = 'BASE TABLE'
            ORDER BY 1, 2, c.ordinal_position""")
        rows = cursor.fetchall()
    tables: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        tables.setdefault((schema, table), [])
        if data_type in TEXT_TYPES:
            tables[(schema, table)].append((column, data_type))
    return tables


def _as_text(column: str, data_type: str) -> str:
    quoted = connection.ops.quote_name(column)
    if data_type == "bytea":
        # Bytes as text (non-ASCII escaped), and their hex form.
        return f"encode({quoted}, 'escape') || ' ' || encode({quoted}, 'hex')"
    return f"{quoted}::text"


def find_everywhere(values: dict[str, str]) -> list[str]:
    """Where each value occurs: 'schema.table.column: label'. Sessions are also decoded."""
    found = []
    tables = text_columns()
    assert ("public", "kdcis_auditevent") in tables and len(tables) > 20
    with connection.cursor() as cursor:
        for (schema, table), columns in tables.items():
            for column, data_type in columns:
                expr = _as_text(column, data_type)
                for label, value in values.items():
                    cursor.execute(
                        f"SELECT count(*) FROM {connection.ops.quote_name(schema)}."
                        f"{connection.ops.quote_name(table)} "
                        f"WHERE position(lower(%s) in lower({expr})) > 0", [value])
                    if cursor.fetchone()[0]:
                        found.append(f"{schema}.{table}.{column}: {label}")
    for session in Session.objects.all():
        decoded = json.dumps(session.get_decoded(), ensure_ascii=False, default=str).lower()
        found.extend(f"session {session.session_key}: {label}"
                     for label, value in values.items() if value.lower() in decoded)
    return found


def _persons_values(issued, renewed, binding_serials) -> dict[str, str]:
    values = {
        "username": USERNAME, "name": "최증명", "mobile": MOBILE,
        "mobile with dashes": "010-7777-6543", "office phone": OFFICE,
        "office phone with dashes": "031-777-8899", "e-mail": EMAIL,
        "subject CN": CN, "IP": IP, "renewal IP": IP_RENEWAL,
    }
    for label, cert in (("certificate", issued), ("renewed certificate", renewed)):
        values[f"{label} serial (hex)"] = format(cert.cert.serial_number, "x")
        values[f"{label} serial (decimal)"] = str(cert.cert.serial_number)
        values[f"{label} subject DN"] = cert.cert.subject.rfc4514_string()
        values[f"{label} fingerprint"] = hashlib.sha256(cert.der).hexdigest()
        values[f"{label} fingerprint prefix"] = hashlib.sha256(cert.der).hexdigest()[:16]
    for serial in binding_serials:
        values.setdefault(f"stored serial {serial}", serial)
    return values


def test_withdrawal_leaves_none_of_the_persons_values_in_any_table(
        personas, test_pki, complete_supplementary_info):
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    from accounts.services import helpdesk_search_record
    from permissions.services import grant_approve, officer_assign

    institution = Institution.objects.get(number="11110101")
    complete_supplementary_info(institution)
    jongno = ApprovingBody.objects.get(code="HC-11110-1")

    # Signup through the wizard from the person's own address: consent, certificate, ID
    # check, SMS code sent and verified, permission request.
    issued = test_pki.issue(CN)
    # First a signup begun on another PC and left after the code was sent (a draft with the
    # name, the number and the certificate).
    other_pc = Client(REMOTE_ADDR=IP)
    other_pc.post("/signup/consent/", {"agree": "on"})
    post_certificate(other_pc, "/signup/certificate/", issued)
    other_pc.post("/signup/profile/send-code/", {"username": USERNAME, "mobile": MOBILE,
                                       "office_phone": OFFICE, "query": institution.name,
                                       "institution_choice": str(institution.pk)})
    assert SignupDraft.objects.filter(data__icontains=MOBILE).exists()
    browser = Client(REMOTE_ADDR=IP)
    browser.post("/signup/consent/", {"agree": "on"})
    assert post_certificate(browser, "/signup/certificate/", issued).url == "/signup/profile/"
    complete_profile(browser, username=USERNAME, mobile=MOBILE, office_phone=OFFICE,
                     institution_number=institution.number)
    browser.post("/signup/permissions/", {"perm_vaccination_user": "on",
                                          "body_vaccination_user": str(jongno.pk)})
    person = User.objects.get(username=USERNAME)
    User.objects.filter(pk=person.pk).update(email=EMAIL)

    # Approved by the officer (an SMS to the person), then a certificate login and use.
    grant = Grant.objects.get(user=person, permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
    assert post_certificate(browser, "/login/", issued).status_code == 302
    browser.get("/vaccination/")
    browser.get("/permissions/")

    # The supplementary info saved by the person (institution data: it stays).
    complete_supplementary_info(institution, actor=person)

    # A renewed certificate: one renewal completed (code to the phone), one left parked in an
    # anonymous session.
    renewed = test_pki.issue(CN, serial=0x7A11C001,
                             not_after=issued.cert.not_valid_after_utc + dt.timedelta(days=365))
    renewing = Client(REMOTE_ADDR=IP_RENEWAL)
    url = post_certificate(renewing, "/login/", renewed).url
    assert url == "/login/renewed-certificate/"
    renewing.post(url, {"action": "send_code"})
    assert renewing.post(url, {"action": "verify_code",
                               "code": sms_code_from_outbox(MOBILE)}).url == "/"
    newer = test_pki.issue(CN, serial=0x7A11C002,
                           not_after=renewed.cert.not_valid_after_utc + dt.timedelta(days=30))
    parked = Client(REMOTE_ADDR=IP_RENEWAL)
    assert post_certificate(parked, "/login/", newer).url == "/login/renewed-certificate/"

    # An officer role, the helpdesk's search, page view and reveal.
    person.refresh_from_db()
    officer_assign(user=person, body=ApprovingBody.objects.get(code="HC-11680-1"))
    helpdesk = Client(REMOTE_ADDR="192.0.2.10")
    helpdesk.force_login(personas.hana)
    helpdesk.get("/helpdesk/", {"q": "최증명"})
    helpdesk_search_record(agent=personas.hana, kind="mobile", shown=[person], total=1)
    helpdesk.get(f"/helpdesk/users/{person.pk}/")
    helpdesk.post(f"/helpdesk/users/{person.pk}/",
                  {"field": "mobile", "reason": f"최증명 본인 요청 {MOBILE} 확인"})
    helpdesk.get(f"/helpdesk/users/{person.pk}/")

    # The national admin's log, as an earlier release wrote it.
    admin = User.objects.create_superuser(username="proofadmin", password="x" * 16)
    LogEntry.objects.create(
        user=admin, content_type=ContentType.objects.get_for_model(User),
        object_id=str(person.pk), object_repr=f"{USERNAME} 최증명",
        action_flag=CHANGE, change_message=f"changed mobile {MOBILE} email {EMAIL}")

    binding_serials = [person.certificate.serial]
    values = _persons_values(issued, renewed, binding_serials)
    values.update({"newer certificate serial (hex)": format(newer.cert.serial_number, "x"),
                   "newer certificate fingerprint": hashlib.sha256(newer.der).hexdigest()})
    before = find_everywhere(values)
    # The scan finds what is there: every kind of value is stored before the withdrawal.
    for label in ("username", "name", "mobile", "office phone", "e-mail", "subject CN", "IP",
                  "renewed certificate serial (hex)"):
        assert any(hit.endswith(f": {label}") for hit in before), (label, before)
    assert SmsMessage.objects.filter(to=MOBILE).exists()

    kept = {
        "institution": list(Institution.objects.filter(pk=institution.pk).values()),
        "supplementary": list(SupplementaryInfo.objects
                              .filter(institution=institution).values()),
    }

    post_certificate(browser, "/me/withdraw/", renewed)
    person.refresh_from_db()
    assert person.status == "withdrawn"

    survivors = find_everywhere(values)
    assert survivors == [], "\n".join(survivors)
    # Institution data stays as it was; the trail keeps its pseudonymous rows and verifies.
    assert kept == {
        "institution": list(Institution.objects.filter(pk=institution.pk).values()),
        "supplementary": list(SupplementaryInfo.objects
                              .filter(institution=institution).values()),
    }
    assert AuditEvent.objects.filter(subject_ref=str(person.ref)).count() > 10
    report = verify_chain()
    assert report.ok, report.problem
