"""Drive the signup wizard through Django's test client, signing challenges like the browser."""

from __future__ import annotations

import base64

from accounts import pki
from accounts.models import PhoneVerification


def post_certificate(client, url: str, issued: pki.Issued, *, challenge: str | None = None,
                     sign_with=None, signed_text: bytes | None = None, follow: bool = False):
    """GET the page for its challenge, sign it with the certificate's key, POST the result."""
    page = client.get(url)
    challenge = challenge or page.context["challenge"]
    key = sign_with or issued.key
    signature = pki.sign_challenge(key, signed_text or challenge.encode())
    return client.post(url, {
        "challenge": challenge,
        "certificate": base64.b64encode(issued.der).decode(),
        "signature": base64.b64encode(signature).decode(),
    }, follow=follow)


def sms_code_from_outbox(phone: str) -> str:
    """The newest verification code queued for `phone` (the outbox keeps the text)."""
    from kdcis.models import SmsMessage

    text = SmsMessage.objects.filter(to=phone).order_by("-id").values_list("text", flat=True)[0]
    return text.split("[")[2].split("]")[0]


def walk_to_profile(client, test_pki, cn: str = "이신규()0010041200805281000010"):
    client.post("/signup/consent/", {"agree": "on"})
    issued = test_pki.issue(cn)
    response = post_certificate(client, "/signup/certificate/", issued)
    assert response.status_code == 302 and response.url == "/signup/profile/", response
    return issued


def complete_profile(client, *, username: str = "newuser01", mobile: str = "01055556666",
                     institution_number: str = "11110101", office_phone: str = "0221483500",
                     follow: bool = False):
    from institutions.models import Institution

    inst = Institution.objects.get(number=institution_number)
    base = {"username": username, "query": inst.name, "mobile": mobile,
            "office_phone": office_phone, "institution_choice": str(inst.pk)}
    client.post("/signup/profile/check-id/", base)
    client.post("/signup/profile/send-code/", base)
    code = sms_code_from_outbox(mobile)
    client.post("/signup/profile/verify-code/", {**base, "code": code})
    assert PhoneVerification.objects.filter(phone=mobile, verified_at__isnull=False).exists()
    return client.post("/signup/profile/", base, follow=follow)


def bind(user, issued: pki.Issued):
    """Re-bind a persona to a fresh certificate (whose key the test holds) so it can log in
    through the real challenge-response."""
    import hashlib

    from cryptography.x509.oid import NameOID

    from accounts.certificates import issuer_key

    binding = user.certificate
    binding.fingerprint = hashlib.sha256(issued.der).hexdigest()
    binding.subject_cn = issued.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    binding.not_before = issued.cert.not_valid_before_utc
    binding.not_after = issued.cert.not_valid_after_utc
    binding.issuer_dn = issuer_key(issued.cert.issuer)
    binding.serial = format(issued.cert.serial_number, "x")
    binding.save()
    return binding
