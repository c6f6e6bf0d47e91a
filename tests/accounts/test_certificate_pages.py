"""Who may use which certificate, and revocation, as the login and signup pages show it."""

from html import unescape

import pytest

from accounts import pki
from accounts.models import StoredCrl
from kdcis.models import AuditEvent
from tests.accounts.helpers import bind, post_certificate

pytestmark = pytest.mark.django_db
GPKI = "1.2.410.100001.2.2.1"
EPKI = "1.2.410.100001.5.3.1.3"


def test_an_officer_signs_in_with_a_gpki_certificate(client, test_pki, personas):
    issued = test_pki.issue("오보건()1101", policy_oid=GPKI)
    bind(personas.oscar, issued)
    response = post_certificate(client, "/login/", issued)
    assert response.status_code == 302 and response.url == "/"
    assert client.session["_auth_user_id"] == str(personas.oscar.pk)


def test_helpdesk_staff_sign_in_with_an_epki_certificate(client, test_pki, personas):
    issued = test_pki.issue("한상담()1102", policy_oid=EPKI)
    bind(personas.hana, issued)
    assert post_certificate(client, "/login/", issued).url == "/"


def test_an_applicant_with_a_gpki_certificate_is_told_which_to_use(client, test_pki, personas,
                                                                  settings):
    issued = test_pki.issue("김앨리()1103", policy_oid=GPKI)
    bind(personas.alice, issued)
    response = post_certificate(client, "/login/", issued)
    body = unescape(response.content.decode())
    assert response.status_code == 200
    assert "보건소 담당자와 헬프데스크 직원만" in body
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="account.login_failed",
                                     new__reason="government_not_allowed").exists()
    # The settings can open GPKI to applicants.
    settings.CERT_GOVERNMENT_FOR_APPLICANTS = True
    assert post_certificate(client, "/login/", issued).url == "/"


def test_signup_with_a_gpki_certificate_is_refused_by_default(client, test_pki,
                                                             reference_data):
    client.post("/signup/consent/", {"agree": "on"})
    response = post_certificate(client, "/signup/certificate/",
                                test_pki.issue("이신규()1104", policy_oid=GPKI), follow=True)
    assert "보건소 담당자와 헬프데스크 직원만" in unescape(response.content.decode())


def test_a_limited_use_certificate_signs_up(client, test_pki, reference_data):
    client.post("/signup/consent/", {"agree": "on"})
    response = post_certificate(client, "/signup/certificate/",
                                test_pki.issue("이신규()1105",
                                               policy_oid=pki.DEMO_LIMITED_POLICY_OID))
    assert response.url == "/signup/profile/"


def test_a_ca_without_any_crl_source_refuses_with_a_clear_message(client, test_pki, personas,
                                                                 settings, caplog):
    settings.CERT_CRL_PATHS = []
    issued = test_pki.issue("김앨리()1106", crl_urls=["ldap://127.0.0.1:9/cn=dp9p9"
                                                     "?certificateRevocationList"])
    bind(personas.alice, issued)
    response = post_certificate(client, "/login/", issued)
    body = unescape(response.content.decode())
    assert "폐지 여부를 확인할 수 없습니다" in body
    assert "_auth_user_id" not in client.session
    assert any("revocation_unknown" in r.getMessage() and "Run refresh_crls" in r.getMessage()
               for r in caplog.records)
    # Its distribution point is now known to refresh_crls.
    assert StoredCrl.objects.filter(url__startswith="ldap://127.0.0.1:9/").exists()
