import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import pki
from accounts.certificates import TrustStore, verify_signed_challenge
from accounts.models import User
from accounts.selectors import bindings_for_certificate
from accounts.services import (
    RequestedPermission,
    helpdesk_assign,
    signup_submit,
    staff_account_create,
)
from institutions.models import ApprovingBody, Institution
from kdcis.models import LibraryFile, Notice
from permissions.models import Grant, Officer, PermissionType
from permissions.services import grant_approve, officer_assign

DEMO_DIR = settings.BASE_DIR / "var" / "demo"

# username, certificate CN, p12 password, mobile, role, extra
PERSONAS = [
    ("jongno01", "김보건()0010041200805281000001", "demo-officer-1", "01090000001", "officer",
     "HC-11110-1"),
    ("gangnam01", "이강남()0010041200805281000002", "demo-officer-2", "01090000002", "officer",
     "HC-11680-1"),
    ("kdca01", "정중앙()0010041200805281000003", "demo-central-1", "01090000003", "officer",
     "KDCA-VPM"),
    ("help01", "박상담()0010041200805281000004", "demo-helpdesk-1", "01090000004", "helpdesk",
     ""),
    ("clinic01", "홍길동()0010041200805281234567", "demo-clinic-1", "01012345678", "applicant",
     "11110101"),
    ("clinic02", "최대기()0010041200805281000006", "demo-clinic-2", "01022223333", "pending",
     "11110102"),
]
UNREGISTERED = [
    ("new-applicant", "이신규()0010041200805281000010", "demo-new-1", "valid"),
    ("new-applicant-2", "강하나()0010041200805281000011", "demo-new-2", "valid"),
    ("revoked", "한폐기()0010041200805281000012", "demo-revoked", "revoked"),
    ("expired", "오만료()0010041200805281000013", "demo-expired", "expired"),
]


class Command(BaseCommand):
    help = (
        "Create the demo set: a demo CA with its CRL under var/demo/ (the trust anchors and CRL "
        "that `make run` configures), .p12 certificates with their passwords, two health-center "
        "officers, a central-department officer, a helpdesk agent, an approved and a pending "
        "applicant, a national admin (password + TOTP), and a notice and a library file. "
        "Idempotent: existing files and accounts are kept."
    )

    def handle(self, *args, **options):
        DEMO_DIR.mkdir(parents=True, exist_ok=True)
        ca = self._authority()
        issued = {}
        revoked_serials = []
        for name, cn, password, *_rest in PERSONAS:
            issued[name] = self._certificate(ca, name, cn, password)
        for name, cn, password, kind in UNREGISTERED:
            issued[name] = self._certificate(ca, name, cn, password, kind=kind)
            if kind == "revoked":
                revoked_serials.append(issued[name].cert.serial_number)
        crl = pki.make_crl(ca, revoked_serials,
                           next_update=timezone.now() + dt.timedelta(days=3650))
        (DEMO_DIR / "crl.pem").write_bytes(pki.pem(crl))
        trust = TrustStore.from_pem_bundle(
            pki.pem(ca.cert), [pki.pem(crl)], allow_corporate=False)
        with transaction.atomic():
            self._accounts(issued, trust)
            admin_secret = self._admin()
            self._content()
        self._write_summary(admin_secret)

    # -- files

    def _authority(self) -> pki.Authority:
        cert_path, key_path = DEMO_DIR / "ca.pem", DEMO_DIR / "ca-key.pem"
        if cert_path.exists() and key_path.exists():
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            return pki.Authority(cert=cert, key=key)
        ca = pki.make_ca("KDCIS Demo Root CA",
                         not_after=timezone.now() + dt.timedelta(days=3650))
        cert_path.write_bytes(pki.pem(ca.cert))
        key_path.write_bytes(pki.pem(ca.key))
        key_path.chmod(0o600)
        return ca

    def _certificate(self, ca, name, cn, password, *, kind="valid") -> pki.Issued:
        p12_path = DEMO_DIR / f"{name}.p12"
        if p12_path.exists():
            key, cert, _extra = serialization.pkcs12.load_key_and_certificates(
                p12_path.read_bytes(), password.encode())
            return pki.Issued(cert=cert, key=key)
        now = timezone.now()
        window = {}
        if kind == "expired":
            window = {"not_before": now - dt.timedelta(days=400),
                      "not_after": now - dt.timedelta(days=35)}
        issued = pki.make_user_certificate(ca, common_name=cn, **window)
        p12_path.write_bytes(pki.to_p12(issued, password, ca=ca))
        return issued

    # -- database

    def _verified(self, issued, trust):
        challenge = b"demo-data-binding"
        return verify_signed_challenge(
            certificate=issued.der, challenge=challenge,
            signature=pki.sign_challenge(issued.key, challenge), trust=trust)

    def _accounts(self, issued, trust) -> None:
        vaccination = PermissionType.objects.get(code="vaccination_user")
        for username, _cn, _pw, mobile, role, extra in PERSONAS:
            if User.objects.filter(username=username).exists():
                continue
            cert = self._verified(issued[username], trust)
            if bindings_for_certificate(cert).exists():
                continue
            if role in ("officer", "helpdesk"):
                user = staff_account_create(certificate=cert, username=username, mobile=mobile,
                                            office_phone="0221483500")
                if role == "officer":
                    officer_assign(user=user, body=ApprovingBody.objects.get(code=extra))
                else:
                    helpdesk_assign(user=user)
                continue
            institution = Institution.objects.get(number=extra)
            user = signup_submit(
                certificate=cert, name=cert.name, username=username, institution=institution,
                mobile=mobile, office_phone="0221480000", consent_at=timezone.now(),
                consent_version=settings.CONSENT_NOTICE_VERSION,
                permissions=[RequestedPermission(permission_type=vaccination,
                                                 body=institution.jurisdiction)],
            )
            if role == "applicant":
                grant = Grant.objects.get(user=user, permission_type=vaccination)
                officer = Officer.objects.get(body=institution.jurisdiction)
                grant_approve(grant_id=grant.pk, officer=officer)

    def _admin(self) -> str:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        admin = User.objects.filter(username="admin").first()
        if admin is None:
            admin = User.objects.create_superuser(
                username="admin", password="demo-admin-password-2026", name="국가관리자")
            admin.status = User.Status.ACTIVE
            admin.save(update_fields=["status"])
        device = TOTPDevice.objects.filter(user=admin, name="demo").first()
        if device is None:
            device = TOTPDevice.objects.create(user=admin, name="demo", confirmed=True)
        return device.config_url

    def _content(self) -> None:
        if not Notice.objects.exists():
            Notice.objects.create(
                title="질병보건통합관리시스템 사용자 가입 및 권한 신청 안내",
                body="처음 사용하시는 경우 '사용자 가입'에서 개인정보수집동의, 인증서등록, "
                     "사용자정보등록, 권한신청 순으로 가입을 진행하세요.\n"
                     "예방접종관리 메뉴를 3개월 이상 사용하지 않으면 권한이 자동으로 "
                     "미승인 처리됩니다.",
                published_at=timezone.now())
        if not LibraryFile.objects.exists():
            from django.core.files.base import ContentFile

            guide = Path(settings.BASE_DIR) / "docs" / "user-guide.ko.txt"
            item = LibraryFile(title="사용자 가입 및 예방접종 권한 신청 방법",
                               description="사용자 가입과 권한 신청 절차 안내서",
                               published_at=timezone.now())
            item.file.save("user-guide.ko.txt", ContentFile(guide.read_bytes()), save=False)
            item.save()

    def _write_summary(self, admin_otp_url: str) -> None:
        lines = ["Demo certificates (var/demo/, pick them in the certificate dialog):"]
        for username, _cn, password, _m, role, extra in PERSONAS:
            lines.append(f"  {username}.p12  password {password}  ({role} {extra})")
        for name, _cn, password, kind in UNREGISTERED:
            lines.append(f"  {name}.p12  password {password}  (not signed up; {kind})")
        lines += [
            "National admin: /admin/  user admin  password demo-admin-password-2026",
            f"  TOTP (add to an authenticator app): {admin_otp_url}",
            "  or print the current code: .venv/bin/python manage.py demo_totp",
            "SMS messages, codes included, are printed in this terminal (console SMS backend).",
        ]
        text = "\n".join(lines)
        (DEMO_DIR / "README.txt").write_text(text + "\n", encoding="utf-8")
        self.stdout.write(text)
