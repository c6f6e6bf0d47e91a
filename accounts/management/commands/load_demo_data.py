import datetime as dt
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import npki, pki
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

# username, certificate CN, p12 password, mobile, role, extra (approving body code for an
# officer, institution number for an applicant). There is an officer for the jurisdiction
# (관할보건소) of every demo institution (institutions.reference.DEMO_INSTITUTIONS), so every
# demo applicant's request has someone to decide it.
PERSONAS = [
    ("jongno01", "김보건()0010041200805281000001", "demo-officer-1", "01090000001", "officer",
     "HC-11110-1"),
    ("gangnam01", "이강남()0010041200805281000002", "demo-officer-2", "01090000002", "officer",
     "HC-11680-1"),
    ("junggu01", "윤중구()0010041200805281000020", "demo-officer-3", "01090000020", "officer",
     "HC-11140-1"),
    ("mapo01", "장마포()0010041200805281000021", "demo-officer-4", "01090000021", "officer",
     "HC-11440-1"),
    ("haeundae01", "배해운()0010041200805281000022", "demo-officer-5", "01090000022", "officer",
     "HC-26350-1"),
    ("gunwi01", "권군위()0010041200805281000023", "demo-officer-6", "01090000023", "officer",
     "HC-27720-1"),
    ("jemulpo01", "문제물()0010041200805281000024", "demo-officer-7", "01090000024", "officer",
     "HC-28125-1"),
    ("jangan01", "서장안()0010041200805281000025", "demo-officer-8", "01090000025", "officer",
     "HC-41111-1"),
    ("songtan01", "임송탄()0010041200805281000026", "demo-officer-9", "01090000026", "officer",
     "HC-41220-1"),
    ("chuncheon01", "신춘천()0010041200805281000027", "demo-officer-10", "01090000027",
     "officer", "HC-51110-1"),
    ("wansan01", "전완산()0010041200805281000028", "demo-officer-11", "01090000028", "officer",
     "HC-52111-1"),
    ("gjdonggu01", "황동구()0010041200805281000029", "demo-officer-12", "01090000029",
     "officer", "HC-12210-1"),
    ("mokpo01", "노목포()0010041200805281000030", "demo-officer-13", "01090000030", "officer",
     "HC-12110-1"),
    ("jejudongbu01", "고제주()0010041200805281000031", "demo-officer-14", "01090000031",
     "officer", "HC-50110-1"),
    ("kdca01", "정중앙()0010041200805281000003", "demo-central-1", "01090000003", "officer",
     "KDCA-VPM"),
    ("help01", "박상담()0010041200805281000004", "demo-helpdesk-1", "01090000004", "helpdesk",
     ""),
    ("clinic01", "홍길동()0010041200805281234567", "demo-clinic-1", "01012345678", "applicant",
     "11110101"),
    ("clinic02", "최대기()0010041200805281000006", "demo-clinic-2", "01022223333", "pending",
     "11110102"),
]
# Certificates of nobody signed up: ten fresh applicants, then two the portal must refuse.
UNREGISTERED = [
    ("new-applicant", "이신규()0010041200805281000010", "demo-new-1", "valid"),
    ("new-applicant-2", "강하나()0010041200805281000011", "demo-new-2", "valid"),
    ("new-applicant-3", "조민준()0010041200805281000040", "demo-new-3", "valid"),
    ("new-applicant-4", "윤서연()0010041200805281000041", "demo-new-4", "valid"),
    ("new-applicant-5", "장도윤()0010041200805281000042", "demo-new-5", "valid"),
    ("new-applicant-6", "임하은()0010041200805281000043", "demo-new-6", "valid"),
    ("new-applicant-7", "한지호()0010041200805281000044", "demo-new-7", "valid"),
    ("new-applicant-8", "오수아()0010041200805281000045", "demo-new-8", "valid"),
    ("new-applicant-9", "서예준()0010041200805281000046", "demo-new-9", "valid"),
    ("new-applicant-10", "신지우()0010041200805281000047", "demo-new-10", "valid"),
    ("revoked", "한폐기()0010041200805281000012", "demo-revoked", "revoked"),
    ("expired", "오만료()0010041200805281000013", "demo-expired", "expired"),
]
# A renewed certificate (same subject, same CA, new key and serial) of a signed-up persona:
# logging in with it is not refused but offers 인증서 재등록 (accounts.services
# .renewal_candidate), confirmed by a code sent to the persona's mobile.
# file name, p12 password, the persona whose certificate it renews
RENEWED = [("clinic01-renewed", "demo-clinic-1-renewed", "clinic01")]
# The same certificates as Korean users hold them, under var/demo/NPKI/<CA>/USER/<DN>/
# (signCert.der + a SEED signPri.key, the .p12's password): persona or file name, the
# CA folder, the key's scheme (npki.SCHEMES). The folder as a whole lists all of them in
# the certificate window, the expired one marked.
NPKI_FOLDERS = [
    ("new-applicant-2", "yessign", "pbes1"),
    ("new-applicant-3", "KICA", "pbes2"),
    ("clinic01", "yessign", "pbes1"),
    ("jongno01", "SignKorea", "pbes2"),
    ("expired", "CrossCert", "pbes1"),
]
# A .p12 whose key bag is SEED-encrypted, as Korean certificate programs export:
# file name, the certificate it holds (persona or file name), key scheme.
SEED_P12 = [("new-applicant-4-seed", "new-applicant-4", "pbes2")]


class Command(BaseCommand):
    help = (
        "Create the demo set: a demo CA with its CRL under var/demo/ (the trust anchors and CRL "
        "that `make run` configures), .p12 certificates with their passwords: an officer for "
        "the health center of every demo institution, a central-department officer, a helpdesk "
        "agent, an approved and a pending applicant, ten applicants not signed up yet, a "
        "renewed certificate of the approved applicant (re-binding), a revoked and an expired "
        "one; a national admin (password + TOTP), a notice, a 업무연락 and a library file. "
        "Idempotent: existing files and accounts are kept; a second run changes nothing."
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
        cn_of = {username: cn for username, cn, *_rest in PERSONAS}
        for name, password, persona in RENEWED:
            self._certificate(ca, name, cn_of[persona], password, kind="renewed")
        passwords = {name: password for name, _cn, password, *_rest in PERSONAS}
        passwords.update({name: password for name, _cn, password, _k in UNREGISTERED})
        for name, ca_folder, scheme in NPKI_FOLDERS:
            self._npki_folder(issued[name], passwords[name], ca_folder, scheme)
        for file_name, name, scheme in SEED_P12:
            path = DEMO_DIR / f"{file_name}.p12"
            if not path.exists():
                path.write_bytes(npki.to_seed_p12(issued[name], passwords[name], ca=ca,
                                                  scheme=scheme))
        crl_pem = self._crl(ca, revoked_serials)
        trust = TrustStore.from_pem_bundle(pki.pem(ca.cert), [crl_pem], allow_corporate=False)
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
        elif kind == "renewed":  # a renewal runs a year past the certificate it replaces
            window = {"not_after": now + dt.timedelta(days=365 + 365)}
        issued = pki.make_user_certificate(ca, common_name=cn, **window)
        p12_path.write_bytes(pki.to_p12(issued, password, ca=ca))
        return issued

    def _npki_folder(self, issued: pki.Issued, password: str, ca_folder: str,
                     scheme: str) -> None:
        """Kept while it holds this certificate (its key's salt is random: rewriting it
        would change the files on every run)."""
        cert = (DEMO_DIR / "NPKI" / ca_folder / "USER" / npki.subject_folder_name(issued)
                / "signCert.der")
        if cert.exists() and cert.read_bytes() == issued.der:
            return
        npki.write_npki_folder(DEMO_DIR, issued, password, ca_folder=ca_folder, scheme=scheme)

    def _crl(self, ca: pki.Authority, revoked_serials: list[int]) -> bytes:
        """The demo CRL: kept while it is the CA's, lists the same serials and has more than
        a year to run (so a second run rewrites nothing); otherwise issued again."""
        path = DEMO_DIR / "crl.pem"
        if path.exists():
            crl = x509.load_pem_x509_crl(path.read_bytes())
            if (crl.is_signature_valid(ca.cert.public_key())
                    and {r.serial_number for r in crl} == set(revoked_serials)
                    and crl.next_update_utc > timezone.now() + dt.timedelta(days=365)):
                return path.read_bytes()
        crl = pki.make_crl(ca, revoked_serials,
                           next_update=timezone.now() + dt.timedelta(days=3650))
        path.write_bytes(pki.pem(crl))
        return pki.pem(crl)

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
                body = ApprovingBody.objects.get(code=extra) if role == "officer" else None
                # An officer's office phone is their body's (blank where none is known).
                office = re.sub(r"\D", "", body.phone) if body else "0221483500"
                user = staff_account_create(certificate=cert, username=username, mobile=mobile,
                                            office_phone=office)
                if body is not None:
                    officer_assign(user=user, body=body)
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
        if not Notice.objects.filter(kind=Notice.Kind.NOTICE).exists():
            Notice.objects.create(
                title="질병보건통합관리시스템 사용자 가입 및 권한 신청 안내",
                body="처음 사용하시는 경우 '사용자 가입'에서 개인정보수집동의, 인증서등록, "
                     "사용자정보등록, 권한신청 순으로 가입을 진행하세요.\n"
                     "예방접종관리 메뉴를 3개월 이상 사용하지 않으면 권한이 자동으로 "
                     "미승인 처리됩니다.",
                published_at=timezone.now())
        if not Notice.objects.filter(kind=Notice.Kind.WORK).exists():
            Notice.objects.create(
                kind=Notice.Kind.WORK,
                title="[질병관리청 예방접종관리과] 관할 의료기관 권한 신청 처리 협조 요청",
                body="각 보건소에서는 관할 의료기관의 '예방접종관리 User' 권한 신청을 "
                     "확인하시어 신속히 승인 또는 반려하여 주시기 바랍니다.\n"
                     "승인기관을 잘못 선택한 신청은 반려 사유에 기관 주소지 관할 보건소를 "
                     "안내하여 주시기 바랍니다.",
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
        bodies = {body.code: str(body) for body in ApprovingBody.objects.select_related(
            "region").filter(code__in=[p[5] for p in PERSONAS if p[4] == "officer"])}
        institutions = dict(Institution.objects.values_list("number", "name"))
        lines = ["Demo certificates (var/demo/, pick them in the certificate dialog):"]
        for username, _cn, password, _m, role, extra in PERSONAS:
            if role == "officer":
                what = f"officer of {bodies.get(extra, extra)}"
            elif role in ("applicant", "pending"):
                state = "approved" if role == "applicant" else "request pending"
                what = f"applicant of {institutions.get(extra, extra)}, {state}"
            else:
                what = role
            lines.append(f"  {username}.p12  password {password}  ({what})")
        for name, _cn, password, kind in UNREGISTERED:
            lines.append(f"  {name}.p12  password {password}  (not signed up; {kind})")
        for name, password, persona in RENEWED:
            lines.append(f"  {name}.p12  password {password}  (renewed certificate of "
                         f"{persona}: logging in with it offers 인증서 재등록)")
        lines.append("The same certificates as an NPKI folder (choose var/demo/NPKI with "
                     "'인증서 폴더', or signCert.der + signPri.key of one folder with "
                     "'인증서 파일'; the .p12's password):")
        for name, ca_folder, scheme in NPKI_FOLDERS:
            kind = {"pbes1": "SEED pbeWithSHA1AndSeed-CBC", "pbes2": "PBES2 + SEED"}[scheme]
            lines.append(f"  NPKI/{ca_folder}/USER/cn={_cn_of(name)},...  {name}'s "
                         f"certificate, key {kind}")
        for file_name, name, _scheme in SEED_P12:
            lines.append(f"  {file_name}.p12  password {_password_of(name)}  ({name}'s "
                         "certificate in a .p12 whose key is SEED-encrypted)")
        lines += [
            "National admin: /admin/  user admin  password demo-admin-password-2026",
            f"  TOTP (add to an authenticator app): {admin_otp_url}",
            "  or print the current code: .venv/bin/python manage.py demo_totp",
            "SMS messages, codes included, are printed in this terminal (console SMS backend).",
        ]
        text = "\n".join(lines)
        path = DEMO_DIR / "README.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != text + "\n":
            path.write_text(text + "\n", encoding="utf-8")
        self.stdout.write(text)


def _cn_of(name: str) -> str:
    for username, cn, *_rest in PERSONAS + UNREGISTERED:
        if username == name:
            return cn
    raise KeyError(name)


def _password_of(name: str) -> str:
    for username, _cn, password, *_rest in PERSONAS + UNREGISTERED:
        if username == name:
            return password
    raise KeyError(name)
