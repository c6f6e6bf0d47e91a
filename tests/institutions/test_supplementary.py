"""의료기관 부가정보: the form, the service, the forced redirect and the helpdesk correction."""

from __future__ import annotations

from html import unescape
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from django.test import RequestFactory

from institutions.middleware import SupplementaryInfoMiddleware
from institutions.models import (
    ApprovingBody,
    Category,
    Institution,
    MedicalInformationSystem,
    SupplementaryInfo,
)
from institutions.selectors import needs_supplementary_info, supplementary_complete
from institutions.services import InstitutionError, institution_correct, supplementary_info_save
from institutions.validators import (
    business_number_ok,
    contains_hangul,
    english_name_problem,
)
from kdcis.models import AuditEvent
from permissions.models import Grant
from permissions.services import grant_approve
from tests.accounts.helpers import bind, post_certificate

URL = "/vaccination/institution-info/"
NOTICE = "부가정보를 입력하셔야 합니다"


# ------------------------------------------------------------------------------- helpers


class FormValues(HTMLParser):
    """What a browser would send back: text inputs, checked radios, selected options and
    textareas, by field name."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and name != "csrfmiddlewaretoken":
            if a.get("type") == "radio":
                if "checked" in a:
                    self.values[name] = a.get("value", "")
                else:
                    self.values.setdefault(name, "")
            else:
                self.values[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            # Browsers drop the newline right after <textarea>.
            value = self.values[self._textarea]
            self.values[self._textarea] = value[1:] if value.startswith("\n") else value
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_values(response) -> dict[str, str]:
    parser = FormValues()
    parser.feed(response.content.decode())
    return parser.values


def text(response) -> str:
    return unescape(response.content.decode())


def approve_vaccination(user, officer):
    grant = Grant.objects.get(user=user, permission_type__code="vaccination_user",
                              status=Grant.Status.REQUESTED)
    grant_approve(grant_id=grant.pk, officer=officer)
    user.refresh_from_db()
    return user


def make_applicant(make_verified, *, username, name, number, mobile, serial):
    """Another applicant, signed up through the same service as the personas."""
    from django.conf import settings
    from django.utils import timezone

    from accounts.services import RequestedPermission, signup_submit
    from permissions.models import PermissionType

    inst = Institution.objects.get(number=number)
    _issued, cert = make_verified(f"{name}()0010041200805287{serial:06d}")
    return signup_submit(
        certificate=cert, name=cert.name, username=username, institution=inst, mobile=mobile,
        office_phone="0221483500", consent_at=timezone.now(),
        consent_version=settings.CONSENT_NOTICE_VERSION,
        permissions=[RequestedPermission(
            permission_type=PermissionType.objects.get(code="vaccination_user"),
            body=inst.jurisdiction)])




def valid_post(**overrides) -> dict[str, str]:
    data = {
        "english_name": "Jongno Yonsei Clinic",
        "business_number": "1168200276",
        "representative_name": "김대표",
        "phone_area": "02",
        "phone_number": "21483500",
        "fax_area": "02",
        "fax_number": "21483501",
        "category": str(Category.objects.get(code="31").pk),
        "jurisdiction": str(ApprovingBody.objects.get(code="HC-11110-1").pk),
        "information_system": str(MedicalInformationSystem.objects.get(name="의사랑").pk),
        "information_system_other": "",
        "predoctor_names": "이예진\n박예진",
        "vaccinator_names": "최접종",
        "mobile": "01012345678",
        "email_local": "clinic",
        "email_domain": "naver.com",
        "email_domain_custom": "",
        "email_consent": "yes",
        "mobile_consent": "yes",
    }
    data.update(overrides)
    return data


def service_data(**overrides) -> dict:
    data = {
        "english_name": "Jongno Yonsei Clinic", "business_number": "1168200276",
        "representative_name": "김대표", "phone_area": "02", "phone_number": "21483500",
        "fax_area": "", "fax_number": "", "category": Category.objects.get(code="31"),
        "jurisdiction": ApprovingBody.objects.get(code="HC-11110-1"),
        "information_system": MedicalInformationSystem.objects.get(name="의사랑"),
        "information_system_other": "", "predoctor_names": [], "vaccinator_names": [],
        "mobile": "01012345678", "email": "clinic@naver.com", "email_consent": True,
        "mobile_consent": True,
    }
    data.update(overrides)
    return data


@pytest.fixture
def alice(personas):
    """alice with her vaccination permission approved by oscar (종로구보건소)."""
    return approve_vaccination(personas.alice, personas.oscar.officer)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


# ------------------------------------------------------------------- pure rules (no DB)


@pytest.mark.parametrize("number", ["1168200276", "1348672683", "2208162517"])
def test_valid_business_numbers_pass_the_checksum(number):
    assert business_number_ok(number)


@pytest.mark.parametrize("number", [
    "1168200277", "116820027", "11682002760", "116-82-00276", "", "abcdefghij",
    "１１６８２００２７６", None, 1168200276,
])
def test_invalid_business_numbers_fail(number):
    assert not business_number_ok(number)


def test_the_ninth_digit_counts_twice_in_the_checksum():
    # Changing only the 9th digit must change the expected check digit by more than ×5.
    base = "116820027"
    valid = [d for d in "0123456789" if business_number_ok(base + d)]
    assert valid == ["6"]


@pytest.mark.parametrize("name,problem", [
    ("Jongno Yonsei Clinic", None),
    ("St. Mary's Hospital (Seoul) - Dept/ENT & Co.+1", None),
    ("종로 Clinic", "hangul"),
    ("ㅎ", "hangul"),
    ("Clinic<script>", "characters"),
    ("Clinic\x00", "characters"),
    ("Clinic\n", "characters"),
    ("12345", "no_letter"),
    ("Café", "characters"),
])
def test_the_english_name_rule(name, problem):
    assert english_name_problem(name) == problem
    assert contains_hangul(name) == (problem == "hangul")


# ----------------------------------------------------------------------------- access


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith("/login/")


@pytest.mark.django_db
def test_a_user_without_the_vaccination_permission_gets_the_explanation(client, personas):
    # alice's request is still pending at 종로구보건소.
    client.force_login(personas.alice)
    response = client.get(URL)
    assert response.status_code == 403
    assert "이 메뉴를 사용할 권한이 없습니다" in text(response)
    assert 'name="english_name"' not in text(response)


@pytest.mark.django_db
def test_an_officer_without_the_permission_gets_the_explanation(client, personas):
    client.force_login(personas.oscar)
    response = client.get(URL)
    assert response.status_code == 403
    assert "이 메뉴를 사용할 권한이 없습니다" in text(response)


@pytest.mark.django_db
def test_the_form_shows_the_seed_layout(alice_client, alice):
    response = alice_client.get(URL)
    assert response.status_code == 200
    body = text(response)
    assert ("현재 선택하신 메뉴는 예방접종관리 > 국가예방접종사업 > 계약·점검관리 > "
            "의료기관부가정보관리 입니다.") in body
    assert "※ 기관명, 기관주소를 수정하려면 HelpDesk(1644-1407)에 요청하시기 바랍니다." in body
    assert "예방접종소식지 발송, 국가예방접종지원사업 관련 긴급 안내 문자 발송 등" in body
    assert "이메일(e-mail), 대표자 휴대전화번호" in body
    values = form_values(response)
    # Read-only institution data is shown, never posted.
    for shown in ("11110101", "종로연세의원", "03154", "서울특별시 종로구 종로 1"):
        assert f'value="{shown}" readonly' in body
    assert "institution_number" not in values and "name" not in values
    # 관할보건소 and 종별구분 come from the institution; no consent is pre-selected.
    assert values["jurisdiction"] == str(alice.institution.jurisdiction_id)
    assert values["category"] == str(alice.institution.category_id)
    assert values["email_consent"] == "" and values["mobile_consent"] == ""
    assert 'value="yes"' in body and "동의안함" in body
    # Every control has a label.
    for field in ("english_name", "business_number", "representative_name", "phone_area",
                  "phone_number", "fax_area", "fax_number", "category", "jurisdiction",
                  "information_system", "information_system_other", "predoctor_names",
                  "vaccinator_names", "mobile", "email_local", "email_domain",
                  "email_domain_custom", "email_consent_0", "email_consent_1",
                  "mobile_consent_0", "mobile_consent_1"):
        assert f'for="id_{field}"' in body, field
    # The menu leads to it.
    assert f'<a href="{URL}">의료기관부가정보관리</a>' in response.content.decode()
    assert "계약·점검관리" in body and "국가예방접종사업" in body


@pytest.mark.django_db
def test_a_pharmacy_user_is_not_forced_and_cannot_fill_it(client, personas, make_verified):
    pharmacist = make_applicant(make_verified, username="pharm01", name="약사님",
                                number="11680901", mobile="01077778888", serial=1)
    approve_vaccination(pharmacist, personas.olga.officer)
    assert not needs_supplementary_info(pharmacist)
    client.force_login(pharmacist)
    home = client.get("/vaccination/")
    assert home.status_code == 200 and NOTICE not in text(home)
    response = client.get(URL)
    assert response.status_code == 403
    assert "의료기관(병의원) 사용자만" in text(response)
    refused = client.post(URL, valid_post())
    assert refused.status_code == 403
    assert not SupplementaryInfo.objects.exists()


# ------------------------------------------------------------------------- bad inputs


BAD_INPUTS = [
    # field, overrides, expected message (part)
    ("english_name", {"english_name": "종로연세의원"}, "[한글 입력 불가]"),
    ("english_name", {"english_name": "Jongno 연세 Clinic"}, "[한글 입력 불가]"),
    ("english_name", {"english_name": ""}, "기관명(영문)을 입력하세요."),
    ("english_name", {"english_name": "<b>Clinic</b>"}, "영문, 숫자, 공백과 문장부호"),
    ("english_name", {"english_name": "A" * 101}, "100자 이내"),
    ("business_number", {"business_number": "1168200277"}, "올바른 사업자등록번호가 아닙니다"),
    ("business_number", {"business_number": "116820027"}, "숫자 10자리입니다. (입력: 9자리)"),
    ("business_number", {"business_number": "11682002760"},
     "숫자 10자리입니다. (입력: 11자리)"),
    ("business_number", {"business_number": "116-82-00277"}, "올바른 사업자등록번호가 아닙니다"),
    ("business_number", {"business_number": "116820027a"}, "숫자만 입력하세요"),
    ("business_number", {"business_number": ""}, "사업자등록번호를 입력하세요."),
    ("representative_name", {"representative_name": ""}, "대표자 성명을 입력하세요."),
    ("representative_name", {"representative_name": "김\x1b대표"}, "입력할 수 없는 문자"),
    ("phone_area", {"phone_area": "099"}, "전화번호의 지역번호를 목록에서 선택하세요."),
    ("phone_area", {"phone_area": ""}, "전화번호의 지역번호를 선택하세요."),
    ("phone_number", {"phone_number": ""}, "전화번호를 입력하세요."),
    ("phone_number", {"phone_number": "123"}, "지역번호를 뺀 7~8자리 숫자"),
    ("phone_number", {"phone_number": "2148350a"}, "지역번호를 뺀 7~8자리 숫자"),
    ("fax_area", {"fax_area": "0999"}, "팩스번호의 지역번호를 목록에서 선택하세요."),
    ("fax_area", {"fax_area": ""}, "팩스번호의 지역번호를 선택하세요."),
    ("fax_number", {"fax_number": "01"}, "지역번호를 뺀 7~8자리 숫자"),
    ("category", {"category": ""}, "종별구분을 선택하세요."),
    ("category", {"category": "999999"}, "종별구분을 목록에서 선택하세요."),
    ("information_system", {"information_system": ""}, "사용하는 의료정보시스템을 선택하세요."),
    ("information_system_other", {"information_system": "OTHER"}, "'기타'를 선택한 경우"),
    ("predoctor_names", {"predoctor_names": "\n".join(f"의사{i}" for i in range(21))},
     "최대 20명까지"),
    ("vaccinator_names", {"vaccinator_names": "가" * 31}, "30자 이내"),
    ("mobile", {"mobile": "0101234567"}, "010으로 시작하는 11자리"),
    ("mobile", {"mobile": "01112345678"}, "010으로 시작하는 11자리"),
    ("mobile", {"mobile": ""}, "휴대전화번호 수집(이용)에 동의한 경우 휴대전화번호를 입력하세요."),
    ("email_local", {"email_local": "clinic mail"}, "이메일 아이디는 영문, 숫자와"),
    ("email_local", {"email_local": "a..b"}, "올바른 이메일 주소가 아닙니다."),
    ("email_local", {"email_local": ""}, "이메일 수집(이용)에 동의한 경우 이메일을 입력하세요."),
    ("email_domain", {"email_domain": "evil.example"}, "이메일 도메인을 목록에서 선택하세요."),
    ("email_domain_custom", {"email_domain": "", "email_domain_custom": "not a domain"},
     "이메일 도메인을 확인하세요."),
    ("email_domain_custom", {"email_domain": "", "email_domain_custom": ""},
     "이메일 도메인을 목록에서 선택하거나 직접 입력하세요."),
    ("email_consent", {"email_consent": ""}, "이메일 수집(이용) 동의 여부를 선택하세요."),
    ("mobile_consent", {"mobile_consent": ""}, "휴대전화번호 수집(이용) 동의 여부를 선택하세요."),
    ("mobile_consent", {"mobile_consent": "maybe"}, "휴대전화번호 수집(이용) 동의 여부를 선택하세요."),
]


def _bad_input_problems(client, field, overrides, message) -> list[str]:
    """What is wrong with the page for one bad input (empty when it behaves)."""
    if overrides.get("information_system") == "OTHER":
        overrides = {**overrides, "information_system": str(
            MedicalInformationSystem.objects.get(name="기타").pk)}
    posted = valid_post(**overrides)
    response = client.post(URL, posted)
    if response.status_code != 400:
        return [f"status {response.status_code}"]
    body = text(response)
    problems = []
    if message not in body or "입력한 내용을 확인하세요" not in body:
        problems.append(f"message {message!r} missing")
    else:
        # The message sits in the field's own row, next to its control.
        row = body[body.index(f'id="id_{field}'):]
        if message not in row[:row.index("</tr>")]:
            problems.append(f"message {message!r} not in the field's row")
    # Everything else comes back as typed.
    kept = form_values(response)
    for name, value in posted.items():
        if name != field and name not in overrides and kept.get(name) != value:
            problems.append(f"{name}: typed {value!r}, shown {kept.get(name)!r}")
    return problems


@pytest.mark.django_db
def test_every_bad_input_shows_its_message_and_keeps_everything_typed(alice_client):
    # One test walks the whole table: each case is a separate POST, so they cannot
    # influence one another, and the personas are built once instead of forty times.
    failures = {}
    for field, overrides, message in BAD_INPUTS:
        problems = _bad_input_problems(alice_client, field, overrides, message)
        if problems:
            failures[f"{field} {overrides}"] = problems
    assert not failures, failures
    assert not SupplementaryInfo.objects.exists()


@pytest.mark.django_db
def test_the_jurisdiction_is_fixed_until_the_first_save_then_it_can_change(alice_client, alice):
    """The guide: 관할보건소 is disabled until the first '저장' (pre-selected from the address,
    and said so); afterwards it is a choice, and a bad one gets its message."""
    page = text(alice_client.get(URL))
    assert "기관 주소지 관할 보건소(종로구보건소)로 저장됩니다" in page
    select = page.split('name="jurisdiction"')[1].split(">")[0]
    assert "disabled" in select
    other = ApprovingBody.objects.get(code="HC-11680-1")
    assert alice_client.post(URL, valid_post(jurisdiction=str(other.pk))).status_code == 302
    info = SupplementaryInfo.objects.get(institution=alice.institution)
    assert info.jurisdiction.code == "HC-11110-1"  # a posted value changes nothing yet
    page = text(alice_client.get(URL))
    assert "disabled" not in page.split('name="jurisdiction"')[1].split(">")[0]
    for bad, message in (("", "관할보건소를 선택하세요."), ("abc", "관할보건소를 목록에서 선택하세요.")):
        response = alice_client.post(URL, valid_post(jurisdiction=bad))
        assert response.status_code == 400 and message in text(response)
    assert alice_client.post(URL, valid_post(jurisdiction=str(other.pk))).status_code == 302
    info.refresh_from_db()
    assert info.jurisdiction == other


@pytest.mark.django_db
def test_missing_consent_choices_give_both_messages(alice_client):
    posted = valid_post()
    del posted["email_consent"]
    del posted["mobile_consent"]
    response = alice_client.post(URL, posted)
    assert response.status_code == 400
    body = text(response)
    assert "이메일 수집(이용) 동의 여부를 선택하세요." in body
    assert "휴대전화번호 수집(이용) 동의 여부를 선택하세요." in body
    kept = form_values(response)
    assert kept["english_name"] == "Jongno Yonsei Clinic"
    assert kept["email_consent"] == "" and kept["mobile_consent"] == ""


HOSTILE = [
    "A" * 100_000, "\x00", "\x00\x01\x02", "<script>alert(1)</script>",
    "'; DROP TABLE x; --", "\u202eevil", "😀" * 50, "\ud7a3" * 5000, "9" * 40, "-1",
]
PLAIN_TEXT = {"<script>alert(1)</script>", "'; DROP TABLE x; --", "-1"}


@pytest.mark.django_db
def test_hostile_input_never_breaks_the_page(alice_client):
    for value in HOSTILE:
        posted = {key: value for key in valid_post()}
        response = alice_client.post(URL, posted)
        assert response.status_code == 400, value[:20]
        assert "<script>alert(1)</script>" not in response.content.decode()
        mixed = alice_client.post(URL, valid_post(representative_name=value[:500],
                                                  predoctor_names=value,
                                                  information_system_other=value))
        # Printable text is stored as typed (and shown escaped); control characters, bidi
        # overrides, emoji, over-long and digits-only names are refused on the form.
        expected = 302 if value in PLAIN_TEXT else 400
        assert mixed.status_code == expected, value[:20]
    # Markup typed into a free-text field is stored as text and shown escaped.
    script = "<script>alert(1)</script>"
    assert alice_client.post(URL, valid_post(representative_name=script)).status_code == 302
    assert SupplementaryInfo.objects.get().representative_name == script
    page = alice_client.get(URL).content.decode()
    assert script not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# ------------------------------------------------------------------------------ saving


@pytest.mark.django_db
@pytest.mark.parametrize("pasted", ["116-82-00276", " 116 82 00276 ", "１１６－８２－００２７６"])
def test_a_business_number_pasted_with_dashes_is_the_same_number(alice_client, alice, pasted):
    response = alice_client.post(URL, valid_post(business_number=pasted))
    assert response.status_code == 302
    info = SupplementaryInfo.objects.get(institution=alice.institution)
    assert info.business_number == "1168200276"


@pytest.mark.django_db
def test_a_valid_save_creates_the_record_and_an_audit_row(alice_client, alice):
    response = alice_client.post(URL, valid_post())
    assert response.status_code == 302 and response.url == URL
    page = alice_client.get(URL)
    assert "저장되었습니다." in text(page)
    info = SupplementaryInfo.objects.get(institution=alice.institution)
    assert info.english_name == "Jongno Yonsei Clinic"
    assert info.business_number == "1168200276"
    assert (info.phone_area, info.phone_number) == ("02", "21483500")
    assert (info.fax_area, info.fax_number) == ("02", "21483501")
    assert info.predoctor_names == ["이예진", "박예진"]
    assert info.vaccinator_names == ["최접종"]
    assert info.email == "clinic@naver.com" and info.mobile == "01012345678"
    assert info.email_consent is True and info.mobile_consent is True
    assert info.consented_at is not None
    assert info.updated_by == alice
    assert info.is_complete and supplementary_complete(alice.institution)
    event = AuditEvent.objects.get(action="institution.supplementary_saved")
    assert event.target_type == "institutions.institution"
    assert event.target_id == str(alice.institution_id)
    assert event.old == {}
    assert event.new["business_number"] == "1168200276"
    assert event.new["jurisdiction"] == "HC-11110-1"
    assert event.new["information_system"] == "의사랑"
    # People's values are masked in the audit row; the record itself keeps them.
    assert event.new["representative_name"] != info.representative_name
    assert event.new["predoctor_names"] == ["이*진", "박*진"]
    assert event.new["mobile"] == "010-****-5678" and event.new["email"] == "c***@naver.com"
    assert "01012345678" not in str(event.new) and "clinic@naver.com" not in str(event.new)
    # The saved values come back in the form.
    values = form_values(page)
    assert values["email_local"] == "clinic" and values["email_domain"] == "naver.com"
    assert values["email_consent"] == "yes" and values["mobile_consent"] == "yes"
    assert values["predoctor_names"].strip() == "이예진\n박예진"


@pytest.mark.django_db
def test_an_update_audits_old_and_new_values(alice_client, alice):
    alice_client.post(URL, valid_post())
    other_body = ApprovingBody.objects.get(code="HC-11140-1")
    response = alice_client.post(URL, valid_post(
        english_name="Jongno Yonsei Medical Clinic", jurisdiction=str(other_body.pk),
        email_domain="", email_domain_custom="Clinic.Example.co.kr"))
    assert response.status_code == 302
    info = SupplementaryInfo.objects.get()
    assert info.jurisdiction == other_body
    assert info.email == "clinic@clinic.example.co.kr"
    event = AuditEvent.objects.filter(action="institution.supplementary_saved").first()
    assert event.old == {"english_name": "Jongno Yonsei Clinic", "jurisdiction": "HC-11110-1",
                         "email": "c***@naver.com"}
    assert event.new == {"english_name": "Jongno Yonsei Medical Clinic",
                         "jurisdiction": "HC-11140-1", "email": "c***@clinic.example.co.kr"}
    # A typed domain comes back as '직접입력' + the domain.
    values = form_values(alice_client.get(URL))
    assert values["email_domain"] == "" and values["email_domain_custom"] == (
        "clinic.example.co.kr")
    # Saving the same values again changes nothing and writes no audit row.
    count = AuditEvent.objects.filter(action="institution.supplementary_saved").count()
    alice_client.post(URL, valid_post(
        english_name="Jongno Yonsei Medical Clinic", jurisdiction=str(other_body.pk),
        email_domain="", email_domain_custom="clinic.example.co.kr"))
    assert AuditEvent.objects.filter(action="institution.supplementary_saved").count() == count


@pytest.mark.django_db
def test_refused_consent_keeps_no_email_or_mobile(alice_client, alice):
    alice_client.post(URL, valid_post())
    response = alice_client.post(URL, valid_post(email_consent="no", mobile_consent="no",
                                                 email_local="bad address", mobile="123"))
    assert response.status_code == 302
    info = SupplementaryInfo.objects.get()
    assert info.email == "" and info.mobile == ""
    assert info.email_consent is False and info.mobile_consent is False
    assert info.is_complete
    event = AuditEvent.objects.filter(action="institution.supplementary_saved").first()
    assert event.old["email_consent"] is True and event.new["email_consent"] is False


@pytest.mark.django_db
def test_other_information_system_keeps_its_free_text(alice_client):
    other = MedicalInformationSystem.objects.get(name="기타")
    alice_client.post(URL, valid_post(information_system=str(other.pk),
                                      information_system_other="  우리병원  자체시스템 "))
    assert SupplementaryInfo.objects.get().information_system_other == "우리병원 자체시스템"
    # A listed system drops the free text.
    alice_client.post(URL, valid_post(information_system_other="leftover"))
    assert SupplementaryInfo.objects.get().information_system_other == ""


@pytest.mark.django_db
def test_names_are_normalised_to_a_list(alice_client):
    alice_client.post(URL, valid_post(predoctor_names=" 이예진 \r\n\r\n박  예진, 이예진\n",
                                      vaccinator_names=""))
    info = SupplementaryInfo.objects.get()
    assert info.predoctor_names == ["이예진", "박 예진"]
    assert info.vaccinator_names == []


@pytest.mark.django_db
def test_every_user_of_the_institution_edits_the_same_record(client, alice, personas,
                                                             make_verified):
    colleague = make_applicant(make_verified, username="carol01", name="최동료",
                               number="11110101", mobile="01066667777", serial=2)
    approve_vaccination(colleague, personas.oscar.officer)
    client.force_login(alice)
    client.post(URL, valid_post())
    client.force_login(colleague)
    page = client.get(URL)
    assert form_values(page)["english_name"] == "Jongno Yonsei Clinic"
    client.post(URL, valid_post(representative_name="최원장"))
    assert SupplementaryInfo.objects.count() == 1
    info = SupplementaryInfo.objects.get()
    assert info.representative_name == "최원장" and info.updated_by == colleague


@pytest.mark.django_db
def test_the_record_survives_the_users_withdrawal(alice_client, alice):
    alice_client.post(URL, valid_post())
    institution = alice.institution
    alice.institution = None
    alice.save(update_fields=["institution"])
    assert SupplementaryInfo.objects.filter(institution=institution).exists()
    alice.delete()
    info = SupplementaryInfo.objects.get(institution=institution)
    assert info.updated_by is None
    assert info.english_name == "Jongno Yonsei Clinic"


@pytest.mark.django_db
def test_the_service_refuses_a_non_medical_institution_and_a_non_health_center(personas):
    pharmacy = Institution.objects.get(number="11680901")
    with pytest.raises(InstitutionError) as exc:
        supplementary_info_save(institution=pharmacy, data=service_data(), actor=None)
    assert exc.value.code == "not_medical"
    clinic = Institution.objects.get(number="11110101")
    central = ApprovingBody.objects.get(kind="central")
    with pytest.raises(InstitutionError):
        supplementary_info_save(institution=clinic, data=service_data(jurisdiction=central),
                                actor=None)
    with pytest.raises(InstitutionError):
        supplementary_info_save(institution=clinic, data=service_data(email_consent=None),
                                actor=None)
    assert not SupplementaryInfo.objects.exists()


@pytest.mark.django_db
def test_the_database_keeps_no_email_without_consent(personas):
    from django.db import IntegrityError, transaction

    clinic = Institution.objects.get(number="11110101")
    info = supplementary_info_save(institution=clinic, data=service_data(), actor=None)
    info.email_consent = False
    with pytest.raises(IntegrityError), transaction.atomic():
        info.save()
    info.refresh_from_db()
    info.email = ""
    with pytest.raises(IntegrityError), transaction.atomic():
        info.save()


# --------------------------------------------------------------- the helpdesk correction


@pytest.mark.django_db
def test_the_helpdesk_corrects_name_and_address_with_a_reason(personas):
    clinic = Institution.objects.get(number="11110101")
    corrected = institution_correct(
        institution=clinic, name="종로연세내과의원", address="서울특별시 종로구 종로 2",
        postcode="03155", reason="기관 요청(사업자등록증 확인)", actor=personas.hana,
        ip="10.0.0.1")
    clinic.refresh_from_db()
    assert clinic.name == corrected.name == "종로연세내과의원"
    assert clinic.address == "서울특별시 종로구 종로 2" and clinic.postcode == "03155"
    event = AuditEvent.objects.get(action="institution.corrected")
    assert event.old == {"number": "11110101", "name": "종로연세의원",
                         "address": "서울특별시 종로구 종로 1", "postcode": "03154"}
    assert event.new == {"number": "11110101", "name": "종로연세내과의원",
                         "address": "서울특별시 종로구 종로 2", "postcode": "03155"}
    assert event.reason == "기관 요청(사업자등록증 확인)"
    assert event.actor == personas.hana and event.ip == "10.0.0.1"
    # Only what is given changes; the same values again write nothing.
    institution_correct(institution=clinic, name="종로연세내과의원", reason="다시",
                        actor=personas.hana)
    assert AuditEvent.objects.filter(action="institution.corrected").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "oscar", "anonymous"])
def test_nobody_but_the_helpdesk_corrects_an_institution(personas, who):
    actor = AnonymousUser() if who == "anonymous" else getattr(personas, who)
    clinic = Institution.objects.get(number="11110101")
    with pytest.raises(InstitutionError) as exc:
        institution_correct(institution=clinic, name="바뀐이름", reason="요청", actor=actor)
    assert exc.value.code == "forbidden"
    clinic.refresh_from_db()
    assert clinic.name == "종로연세의원"
    assert not AuditEvent.objects.filter(action="institution.corrected").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("kwargs,code", [
    ({"name": "새이름", "reason": "  "}, "reason_required"),
    ({"reason": "요청"}, "nothing"),
    ({"name": "  ", "reason": "요청"}, "required"),
    ({"postcode": "1234", "reason": "요청"}, "postcode"),
    ({"name": "가" * 121, "reason": "요청"}, "too_long"),
    ({"address": "종로\x00", "reason": "요청"}, "control"),
])
def test_a_correction_needs_a_reason_and_sane_values(personas, kwargs, code):
    clinic = Institution.objects.get(number="11110101")
    with pytest.raises(InstitutionError) as exc:
        institution_correct(institution=clinic, actor=personas.hana, **kwargs)
    assert exc.value.code == code


# ----------------------------------------------------------------- the forced redirect


@pytest.mark.django_db
def test_the_first_page_after_login_is_the_form_with_the_notice(client, test_pki, alice):
    issued = test_pki.issue("김앨리()2001")
    bind(alice, issued)
    response = post_certificate(client, "/login/", issued)
    assert response.status_code == 302 and response.url == "/"
    landing = client.get("/", follow=True)
    assert landing.redirect_chain == [(URL, 302)]
    assert landing.status_code == 200
    body = text(landing)
    assert NOTICE in body
    assert 'name="english_name"' in body
    # The notice is for the first page only; the main screen is reachable afterwards.
    again = client.get("/")
    assert again.status_code == 200 and NOTICE not in text(again)


@pytest.mark.django_db
def test_the_vaccination_area_redirects_to_the_form_until_it_is_saved(alice_client):
    alice_client.get(URL)  # the first page after force_login
    response = alice_client.get("/vaccination/")
    assert response.status_code == 302 and response.url == URL
    assert NOTICE in text(alice_client.get(response.url))
    assert alice_client.post(URL, valid_post()).status_code == 302
    response = alice_client.get("/vaccination/")
    assert response.status_code == 200
    # Other areas were never blocked.
    assert alice_client.get("/permissions/").status_code == 200


@pytest.mark.django_db
def test_after_saving_a_login_no_longer_lands_on_the_form(client, test_pki, alice):
    supplementary_info_save(institution=alice.institution, data=service_data(), actor=alice)
    issued = test_pki.issue("김앨리()2002")
    bind(alice, issued)
    post_certificate(client, "/login/", issued)
    landing = client.get("/", follow=True)
    assert landing.redirect_chain == []
    assert NOTICE not in text(landing)


@pytest.mark.django_db
def test_a_pending_medical_user_is_not_sent_to_a_form_they_cannot_open(client, test_pki,
                                                                      personas):
    issued = test_pki.issue("김앨리()2003")
    bind(personas.alice, issued)
    post_certificate(client, "/login/", issued)
    landing = client.get("/", follow=True)
    assert landing.redirect_chain == []
    assert "가입 신청 처리 현황" in text(landing)


@pytest.mark.django_db
def test_the_middleware_costs_no_query_for_anonymous_users_or_outside_the_area(
        personas, django_assert_num_queries):
    middleware = SupplementaryInfoMiddleware(lambda request: HttpResponse("ok"))
    factory = RequestFactory()

    def request_for(path, user, session):
        request = factory.get(path)
        request.user = user
        request.session = session
        request._messages = FallbackStorage(request)
        return request

    with django_assert_num_queries(0):
        for path in ("/", "/vaccination/", URL, "/permissions/"):
            response = middleware(request_for(path, AnonymousUser(), SessionStore()))
            assert response.status_code == 200
    alice = approve_vaccination(personas.alice, personas.oscar.officer)
    session = SessionStore()
    session.create()
    session = SessionStore(session_key=session.session_key)
    with django_assert_num_queries(1):  # loading the session Django needs anyway
        assert middleware(request_for("/permissions/", alice, session)).status_code == 200
    with django_assert_num_queries(0):
        assert middleware(request_for("/notices/", alice, session)).status_code == 200
    # Inside the area: one query (plus the menus' cached permission lookup on a redirect).
    with django_assert_num_queries(2):
        assert middleware(request_for("/vaccination/", alice, session)).status_code == 302
    supplementary_info_save(institution=alice.institution, data=service_data(), actor=alice)
    alice._approved_areas = None
    with django_assert_num_queries(1):
        assert middleware(request_for("/vaccination/", alice, session)).status_code == 200
    # Once complete, the session remembers it.
    with django_assert_num_queries(0):
        assert middleware(request_for("/vaccination/", alice, session)).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_users_saving_the_first_record_at_once_make_one_record(personas):
    import threading

    from django.db import connection

    clinic = Institution.objects.get(number="11110101")
    payloads = [service_data(representative_name=name) for name in ("김대표", "최원장")]
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def save(data):
        try:
            barrier.wait(timeout=10)
            supplementary_info_save(institution=clinic, data=data, actor=None)
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(data,)) for data in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert SupplementaryInfo.objects.count() == 1
    events = list(AuditEvent.objects.filter(action="institution.supplementary_saved")
                  .order_by("id"))
    assert len(events) == 2
    assert events[0].old == {} and events[1].old == {
        "representative_name": events[0].new["representative_name"]}
