"""Deploy checks refuse what is only safe on a developer's machine (issue 16, items 1 and 5)."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from accounts import checks as certificate_checks
from accounts import pki
from kdcis import checks


def ids(errors) -> set[str]:
    return {error.id for error in errors}


@pytest.fixture
def production(settings, tmp_path):
    """Settings as a real deployment gives them: DEBUG off, Twilio, a CA of its own with a
    CRL."""
    ca = pki.make_ca("Production Root CA", key=pki.cached_key("check-ca"),
                     organization="Korea Information Security Agency")
    anchors, crl = tmp_path / "anchors.pem", tmp_path / "root.crl"
    anchors.write_bytes(pki.pem(ca.cert))
    crl.write_bytes(pki.pem(pki.make_crl(ca, [])))
    settings.DEBUG = False
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "ACx", "token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.CERT_TRUST_ANCHORS, settings.CERT_CRL_PATHS = str(anchors), [str(crl)]
    settings.TRUSTED_PROXY_HOPS = 1
    settings.LEGACY_TRUSTED_PROXY_IP_HEADER = ""
    return settings


def all_errors():
    return (checks.sms_backend_configured(None) + certificate_checks.certificate_trust_configured(None)
            + checks.client_address_configured(None))


def test_a_real_deployment_passes(production):
    assert all_errors() == []


def test_the_console_sms_backend_is_a_deploy_error(production):
    production.SMS_BACKEND = "console"
    assert ids(all_errors()) == {"kdcis.E002"}
    production.DEBUG = True  # make run
    assert checks.sms_backend_configured(None) == []


def test_twilio_without_credentials_is_a_deploy_error(production):
    production.TWILIO_AUTH_TOKEN = ""
    assert ids(all_errors()) == {"kdcis.E003"}


def test_the_default_trust_anchor_is_the_demo_ca_and_a_deploy_error(production):
    # The settings' default when CERT_TRUST_ANCHORS is not set.
    default = Path(django_settings.BASE_DIR) / "var" / "demo" / "ca.pem"
    production.CERT_TRUST_ANCHORS = str(default)
    assert ids(all_errors()) == {"kdcis.E004"}


def test_a_copy_of_the_demo_ca_elsewhere_is_a_deploy_error(production, test_pki):
    production.CERT_TRUST_ANCHORS = str(test_pki.anchors)  # made by accounts/pki.py
    production.CERT_CRL_PATHS = [str(test_pki.crl)]
    assert ids(all_errors()) == {"kdcis.E004"}


@pytest.mark.django_db  # the CRL store (refresh_crls) is a source too: it is asked
def test_a_ca_without_a_crl_is_a_deploy_error(production):
    production.CERT_CRL_PATHS = []
    assert ids(all_errors()) == {"kdcis.E006"}


def test_a_missing_anchor_file_is_a_deploy_error(production, tmp_path):
    production.CERT_TRUST_ANCHORS = str(tmp_path / "nowhere.pem")
    assert ids(all_errors()) == {"kdcis.E005"}


def test_the_old_proxy_header_setting_is_a_deploy_error(production):
    production.LEGACY_TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    assert ids(all_errors()) == {"kdcis.E007"}


def test_the_env_example_ships_no_unsafe_production_value():
    text = (Path(django_settings.BASE_DIR) / ".env.example").read_text()
    values = dict(line.split("=", 1) for line in text.splitlines()
                  if line and not line.startswith("#"))
    assert "var/demo" not in values["CERT_TRUST_ANCHORS"]
    assert values["SMS_BACKEND"] == "twilio"
    assert values["CERT_CRL_PATHS"]
    assert values["TRUSTED_PROXY_HOPS"] == "1"
    assert "TRUSTED_PROXY_IP_HEADER" not in values
