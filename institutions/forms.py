"""The 의료기관 부가정보 form: validates and normalises, never writes."""

from __future__ import annotations

import re
import unicodedata

from django import forms
from django.core.validators import validate_email
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from institutions.models import (
    ApprovingBody,
    Category,
    Institution,
    InstitutionType,
    MedicalInformationSystem,
    SupplementaryInfo,
)
from institutions.validators import (
    ENGLISH_NAME_MESSAGES,
    business_number_ok,
    english_name_problem,
    has_control_characters,
)
from kdcis.korean import particle
from kdcis.phones import AREA_CODES, is_landline, is_mobile
from kdcis.widgets import PlainSelect

OTHER_SYSTEM_NAME = "기타"
EMAIL_DOMAINS = (
    "naver.com", "daum.net", "hanmail.net", "gmail.com", "nate.com", "korea.kr",
    "kakao.com", "hotmail.com", "outlook.com",
)
DIRECT_DOMAIN = ""  # the '직접입력' choice: the domain is typed
MAX_NAMES = 20
MAX_NAME_LENGTH = 30

_SPACES = re.compile(r"\s+")
_PHONE_SEPARATORS = re.compile(r"[\s\-]")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}")
_EMAIL_DOMAIN = re.compile(
    r"(?=.{4,190}\Z)([A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
)
_NAME_SEPARATORS = re.compile(r"[\r\n,]+")

CONSENT_CHOICES = (("yes", _("동의")), ("no", _("동의안함")))

MSG_CONTROL = _("입력할 수 없는 문자가 포함되어 있습니다.")


def _squash(value: str) -> str:
    """Trim and collapse runs of whitespace (tabs, newlines …) into one space."""
    return _SPACES.sub(" ", value or "").strip()


def _no_control(value: str) -> str:
    if has_control_characters(value):
        raise forms.ValidationError(MSG_CONTROL, code="control")
    return value


def split_names(value: str) -> list[str]:
    """One name a line (commas also separate), trimmed, empty lines and repeats dropped."""
    names: list[str] = []
    for part in _NAME_SEPARATORS.split(value or ""):
        name = _squash(part)
        if name and name not in names:
            names.append(name)
    return names


def _area_choices(empty_label) -> list[tuple[str, str]]:
    return [("", empty_label)] + [(code, code) for code in AREA_CODES]


class SupplementaryInfoForm(forms.Form):
    """Every field of the seed's screen table that the user edits.

    `institution` gives the defaults (종별구분, 관할보건소) and `current` (the saved record,
    if any) the initial values; `data_for_service()` returns what the service takes.
    """

    english_name = forms.CharField(
        label=_("기관명(영문)"), max_length=100,
        error_messages={"required": _("기관명(영문)을 입력하세요."),
                        "max_length": _("기관명(영문)은 100자 이내로 입력하세요.")},
        widget=forms.TextInput(attrs={"size": 50, "autocomplete": "organization",
                                      "placeholder": _("[한글 입력 불가]"), "lang": "en"}),
    )
    business_number = forms.CharField(
        label=_("사업자등록번호"),
        error_messages={"required": _("사업자등록번호를 입력하세요.")},
        widget=forms.TextInput(attrs={"maxlength": 14, "size": 14, "inputmode": "numeric",
                                      "placeholder": _("['-' 없이 입력]")}),
    )
    representative_name = forms.CharField(
        label=_("대표자 성명"), max_length=MAX_NAME_LENGTH,
        error_messages={"required": _("대표자 성명을 입력하세요."),
                        "max_length": _("대표자 성명은 30자 이내로 입력하세요.")},
        widget=forms.TextInput(attrs={"size": 20}),
    )
    phone_area = forms.ChoiceField(
        label=_("전화번호 지역번호"), choices=_area_choices(_("선택")), widget=PlainSelect,
        error_messages={"required": _("전화번호의 지역번호를 선택하세요."),
                        "invalid_choice": _("전화번호의 지역번호를 목록에서 선택하세요.")},
    )
    phone_number = forms.CharField(
        label=_("전화번호 (지역번호 제외)"), max_length=20,
        error_messages={"required": _("전화번호를 입력하세요."),
                        "max_length": _("전화번호를 확인하세요.")},
        widget=forms.TextInput(attrs={"type": "tel", "size": 12, "inputmode": "tel",
                                      "maxlength": 20}),
    )
    fax_area = forms.ChoiceField(
        label=_("팩스번호 지역번호"), choices=_area_choices(_("선택")), required=False,
        widget=PlainSelect,
        error_messages={"invalid_choice": _("팩스번호의 지역번호를 목록에서 선택하세요.")},
    )
    fax_number = forms.CharField(
        label=_("팩스번호 (지역번호 제외)"), max_length=20, required=False,
        error_messages={"max_length": _("팩스번호를 확인하세요.")},
        widget=forms.TextInput(attrs={"type": "tel", "size": 12, "inputmode": "tel",
                                      "maxlength": 20}),
    )
    category = forms.ModelChoiceField(
        label=_("종별구분"), queryset=Category.objects.all(), empty_label=_("선택"),
        widget=PlainSelect,
        error_messages={"required": _("종별구분을 선택하세요."),
                        "invalid_choice": _("종별구분을 목록에서 선택하세요.")},
    )
    jurisdiction = forms.ModelChoiceField(
        label=_("관할보건소"), queryset=ApprovingBody.objects.none(), empty_label=_("선택"),
        error_messages={"required": _("관할보건소를 선택하세요."),
                        "invalid_choice": _("관할보건소를 목록에서 선택하세요.")},
    )
    information_system = forms.ModelChoiceField(
        label=_("사용하는 의료정보시스템"), queryset=MedicalInformationSystem.objects.none(),
        empty_label=_("선택"), widget=PlainSelect,
        error_messages={"required": _("사용하는 의료정보시스템을 선택하세요."),
                        "invalid_choice": _("사용하는 의료정보시스템을 목록에서 선택하세요.")},
    )
    information_system_other = forms.CharField(
        label=_("의료정보시스템 직접입력"), max_length=100, required=False,
        error_messages={"max_length": _("의료정보시스템 이름은 100자 이내로 입력하세요.")},
        widget=forms.TextInput(attrs={"size": 24}),
    )
    predoctor_names = forms.CharField(
        label=_("예진의사명"), required=False, max_length=1000,
        error_messages={"max_length": _("예진의사명이 너무 깁니다.")},
        widget=forms.Textarea(attrs={"rows": 3, "cols": 30}),
    )
    vaccinator_names = forms.CharField(
        label=_("접종자성명"), required=False, max_length=1000,
        error_messages={"max_length": _("접종자성명이 너무 깁니다.")},
        widget=forms.Textarea(attrs={"rows": 3, "cols": 30}),
    )
    mobile = forms.CharField(
        label=_("휴대전화번호"), required=False, max_length=20,
        error_messages={"max_length": _("휴대전화번호를 확인하세요.")},
        widget=forms.TextInput(attrs={"type": "tel", "size": 16, "inputmode": "tel",
                                      "autocomplete": "tel", "maxlength": 20,
                                      "placeholder": "01012345678"}),
    )
    email_local = forms.CharField(
        label=_("이메일 아이디"), required=False, max_length=64,
        error_messages={"max_length": _("이메일 아이디는 64자 이내로 입력하세요.")},
        widget=forms.TextInput(attrs={"size": 18, "autocapitalize": "none",
                                      "spellcheck": "false"}),
    )
    email_domain = forms.ChoiceField(
        label=_("이메일 도메인 선택"), required=False, widget=PlainSelect,
        choices=[(DIRECT_DOMAIN, _("직접입력"))] + [(d, d) for d in EMAIL_DOMAINS],
        error_messages={"invalid_choice": _("이메일 도메인을 목록에서 선택하세요.")},
    )
    email_domain_custom = forms.CharField(
        label=_("이메일 도메인 직접입력"), required=False, max_length=190,
        error_messages={"max_length": _("이메일 도메인이 너무 깁니다.")},
        widget=forms.TextInput(attrs={"size": 18, "autocapitalize": "none",
                                      "spellcheck": "false"}),
    )
    email_consent = forms.ChoiceField(
        label=_("이메일"), choices=CONSENT_CHOICES, widget=forms.RadioSelect,
        error_messages={"required": _("이메일 수집(이용) 동의 여부를 선택하세요."),
                        "invalid_choice": _("이메일 수집(이용) 동의 여부를 선택하세요.")},
    )
    mobile_consent = forms.ChoiceField(
        label=_("휴대전화번호"), choices=CONSENT_CHOICES, widget=forms.RadioSelect,
        error_messages={"required": _("휴대전화번호 수집(이용) 동의 여부를 선택하세요."),
                        "invalid_choice": _("휴대전화번호 수집(이용) 동의 여부를 선택하세요.")},
    )

    def __init__(self, *args, institution: Institution,
                 current: SupplementaryInfo | None = None, **kwargs):
        if not args and "data" not in kwargs:
            kwargs.setdefault("initial", initial_for(institution, current))
        super().__init__(*args, **kwargs)
        self.institution = institution
        # Inactive reference rows stay selectable for the record that already uses them.
        keep_body = current.jurisdiction_id if current else institution.jurisdiction_id
        self.fields["jurisdiction"].queryset = (
            ApprovingBody.objects.filter(kind=ApprovingBody.Kind.HEALTH_CENTER)
            .filter(Q(is_active=True) | Q(pk=keep_body))
            .select_related("region")
            .order_by("region_id", "sigungu", "name")
        )
        # The guide: 관할보건소 is fixed to the address's health center until the first 저장;
        # only a saved record's can be changed (a disabled field keeps its initial value,
        # whatever is posted).
        self.jurisdiction_fixed = current is None and bool(institution.jurisdiction_id)
        if self.jurisdiction_fixed:
            self.fields["jurisdiction"].disabled = True
            self.fields["jurisdiction"].initial = institution.jurisdiction_id
        keep_system = current.information_system_id if current else None
        self.fields["information_system"].queryset = MedicalInformationSystem.objects.filter(
            Q(is_active=True) | Q(pk=keep_system)
        )

    # ------------------------------------------------------------------ one field at a time

    def clean_english_name(self) -> str:
        value = _squash(self.cleaned_data["english_name"])
        problem = english_name_problem(value)
        if problem:
            raise forms.ValidationError(ENGLISH_NAME_MESSAGES[problem], code=problem)
        return value

    def clean_business_number(self) -> str:
        return clean_business_number(self.cleaned_data["business_number"])

    def clean_representative_name(self) -> str:
        return _no_control(_squash(self.cleaned_data["representative_name"]))

    def clean_information_system_other(self) -> str:
        return _no_control(_squash(self.cleaned_data.get("information_system_other")))

    def _clean_names(self, field: str, label) -> list[str]:
        raw = self.cleaned_data.get(field) or ""
        _no_control(raw.replace("\r", "").replace("\n", "").replace("\t", ""))
        names = split_names(raw)
        if len(names) > MAX_NAMES:
            raise forms.ValidationError(
                _("%(label)s 최대 %(max)d명까지 입력할 수 있습니다."),
                code="too_many", params={"label": particle(str(label), "은/는"), "max": MAX_NAMES})
        if any(len(n) > MAX_NAME_LENGTH for n in names):
            raise forms.ValidationError(
                _("%(label)s의 이름은 한 명당 %(max)d자 이내로 입력하세요."),
                code="too_long", params={"label": label, "max": MAX_NAME_LENGTH})
        return names

    def clean_predoctor_names(self) -> list[str]:
        return self._clean_names("predoctor_names", _("예진의사명"))

    def clean_vaccinator_names(self) -> list[str]:
        return self._clean_names("vaccinator_names", _("접종자성명"))

    def clean_phone_number(self) -> str:
        return _PHONE_SEPARATORS.sub("", self.cleaned_data.get("phone_number") or "")

    def clean_fax_number(self) -> str:
        return _PHONE_SEPARATORS.sub("", self.cleaned_data.get("fax_number") or "")

    def clean_mobile(self) -> str:
        return _PHONE_SEPARATORS.sub("", self.cleaned_data.get("mobile") or "")

    def clean_email_local(self) -> str:
        return (self.cleaned_data.get("email_local") or "").strip()

    def clean_email_domain_custom(self) -> str:
        return (self.cleaned_data.get("email_domain_custom") or "").strip().lower()

    def clean_email_consent(self) -> bool:
        return self.cleaned_data["email_consent"] == "yes"

    def clean_mobile_consent(self) -> bool:
        return self.cleaned_data["mobile_consent"] == "yes"

    # ------------------------------------------------------------------ fields together

    def clean(self) -> dict:
        data = super().clean()
        self._check_phone("phone", required=True, label=_("전화번호"))
        self._check_phone("fax", required=False, label=_("팩스번호"))
        system = data.get("information_system")
        if system is not None and system.name == OTHER_SYSTEM_NAME:
            if not data.get("information_system_other") and (
                "information_system_other" not in self.errors
            ):
                self.add_error("information_system_other",
                               _("'기타'를 선택한 경우 사용하는 의료정보시스템 이름을 입력하세요."))
        elif "information_system_other" in data:
            data["information_system_other"] = ""
        self._check_mobile(data)
        self._check_email(data)
        return data

    def _check_phone(self, prefix: str, *, required: bool, label) -> None:
        area_field, number_field = f"{prefix}_area", f"{prefix}_number"
        if area_field in self.errors or number_field in self.errors:
            return
        area = self.cleaned_data.get(area_field) or ""
        number = self.cleaned_data.get(number_field) or ""
        if not area and not number:
            if required:
                self.add_error(number_field, _("%(label)s를 입력하세요.") % {"label": label})
            return
        if not area:
            self.add_error(area_field,
                           _("%(label)s의 지역번호를 선택하세요.") % {"label": label})
            return
        if not number:
            self.add_error(number_field, _("%(label)s를 입력하세요.") % {"label": label})
            return
        if not (number.isascii() and number.isdigit()) or not is_landline(area + number):
            self.add_error(number_field, _(
                "%(label)s는 지역번호를 뺀 7~8자리 숫자로 입력하세요. (예: 2148-3500)"
            ) % {"label": label})

    def _check_mobile(self, data: dict) -> None:
        if "mobile" in self.errors or "mobile_consent" in self.errors:
            return
        if not data.get("mobile_consent"):
            # Not collected without consent: whatever was typed is not kept.
            data["mobile"] = ""
            return
        mobile = data.get("mobile") or ""
        if not mobile:
            self.add_error("mobile", _("휴대전화번호 수집(이용)에 동의한 경우 휴대전화번호를 "
                                       "입력하세요."))
        elif not is_mobile(mobile):
            self.add_error("mobile", _(
                "휴대전화번호는 010으로 시작하는 11자리 숫자로 입력하세요. (예: 01012345678)"))

    def _check_email(self, data: dict) -> None:
        fields = ("email_local", "email_domain", "email_domain_custom", "email_consent")
        if any(f in self.errors for f in fields):
            return
        data["email"] = ""
        if not data.get("email_consent"):
            return  # not collected without consent
        local = data.get("email_local") or ""
        domain = data.get("email_domain") or data.get("email_domain_custom") or ""
        if not local:
            self.add_error("email_local", _("이메일 수집(이용)에 동의한 경우 이메일을 "
                                            "입력하세요."))
            return
        if not _EMAIL_LOCAL.fullmatch(local):
            self.add_error("email_local", _(
                "이메일 아이디는 영문, 숫자와 . _ % + - 만 입력할 수 있습니다."))
            return
        if not domain:
            self.add_error("email_domain_custom", _(
                "이메일 도메인을 목록에서 선택하거나 직접 입력하세요."))
            return
        if not _EMAIL_DOMAIN.fullmatch(domain):
            self.add_error("email_domain_custom", _(
                "이메일 도메인을 확인하세요. (예: example.co.kr)"))
            return
        address = f"{local}@{domain}"
        try:
            validate_email(address)
        except forms.ValidationError:
            self.add_error("email_local", _("올바른 이메일 주소가 아닙니다."))
            return
        data["email"] = address

    # ------------------------------------------------------------------ for the template

    @property
    def jurisdiction_selected(self) -> str:
        value = self["jurisdiction"].value()
        return str(getattr(value, "pk", value) or "")

    def data_for_service(self) -> dict:
        """The cleaned values under the model's field names."""
        data = self.cleaned_data
        return {
            "english_name": data["english_name"],
            "business_number": data["business_number"],
            "representative_name": data["representative_name"],
            "phone_area": data["phone_area"],
            "phone_number": data["phone_number"],
            "fax_area": data["fax_area"] if data.get("fax_number") else "",
            "fax_number": data.get("fax_number") or "",
            "category": data["category"],
            "jurisdiction": data["jurisdiction"],
            "information_system": data["information_system"],
            "information_system_other": data.get("information_system_other") or "",
            "predoctor_names": data.get("predoctor_names") or [],
            "vaccinator_names": data.get("vaccinator_names") or [],
            "mobile": data.get("mobile") or "",
            "email": data.get("email") or "",
            "email_consent": data["email_consent"],
            "mobile_consent": data["mobile_consent"],
        }


def initial_for(institution: Institution, current: SupplementaryInfo | None) -> dict:
    """What the form shows before anything is typed: the saved record, or the institution's
    own 종별구분 and 관할보건소."""
    if current is None:
        return {"category": institution.category_id,
                "jurisdiction": institution.jurisdiction_id}
    local, _at, domain = current.email.rpartition("@")
    known = domain in EMAIL_DOMAINS
    consent = {True: "yes", False: "no", None: None}
    return {
        "english_name": current.english_name,
        "business_number": current.business_number,
        "representative_name": current.representative_name,
        "phone_area": current.phone_area,
        "phone_number": current.phone_number,
        "fax_area": current.fax_area,
        "fax_number": current.fax_number,
        "category": current.category_id,
        "jurisdiction": current.jurisdiction_id,
        "information_system": current.information_system_id,
        "information_system_other": current.information_system_other,
        "predoctor_names": "\n".join(current.predoctor_names or []),
        "vaccinator_names": "\n".join(current.vaccinator_names or []),
        "mobile": current.mobile,
        "email_local": local,
        "email_domain": domain if known else DIRECT_DOMAIN,
        "email_domain_custom": "" if known else domain,
        "email_consent": consent[current.email_consent],
        "mobile_consent": consent[current.mobile_consent],
    }


def _correction_text(value: str, *, label: str, max_length: int, text: bool = True) -> str:
    """One error per field, the first rule it breaks (the helpdesk sees all fields' errors
    at once)."""
    value = " ".join(unicodedata.normalize("NFKC", value or "").split())
    if not value:
        raise forms.ValidationError(_("%(label)s 입력하세요."),
                                    params={"label": particle(label, "을/를")}, code="required")
    if len(value) > max_length:
        raise forms.ValidationError(_("%(label)s %(max)d자 이내로 입력하세요."),
                                    params={"label": particle(label, "은/는"), "max": max_length},
                                    code="too_long")
    if has_control_characters(value):
        raise forms.ValidationError(_("입력할 수 없는 문자가 포함되어 있습니다."), code="control")
    if text and not any(ch.isalnum() for ch in value):  # emoji or punctuation only
        raise forms.ValidationError(_("%(label)s 한글, 영문 또는 숫자로 입력하세요."),
                                    params={"label": particle(label, "은/는")}, code="no_text")
    return value


class InstitutionCorrectionForm(forms.Form):
    """The helpdesk's correction of an institution's name and address, on its request."""

    name = forms.CharField(required=False, strip=False)
    postcode = forms.CharField(required=False, strip=False)
    address = forms.CharField(required=False, strip=False)
    reason = forms.CharField(required=False, strip=False)

    def clean_name(self) -> str:
        return _correction_text(self.cleaned_data["name"], label=str(_("기관명")),
                                max_length=120)

    def clean_postcode(self) -> str:
        value = _correction_text(self.cleaned_data["postcode"], label=str(_("우편번호")),
                                 max_length=5, text=False)
        if not re.fullmatch(r"[0-9]{5}", value):
            raise forms.ValidationError(_("우편번호는 숫자 5자리로 입력하세요."), code="postcode")
        return value

    def clean_address(self) -> str:
        return _correction_text(self.cleaned_data["address"], label=str(_("주소")),
                                max_length=200)

    def clean_reason(self) -> str:
        value = " ".join((self.cleaned_data["reason"] or "").split())
        if not value:
            raise forms.ValidationError(_("수정 사유를 입력하세요."), code="required")
        if len(value) > 500:
            raise forms.ValidationError(_("수정 사유는 500자 이내로 입력하세요."), code="too_long")
        return value


def clean_business_number(value: str | None) -> str:
    """Ten digits with the national check digit. A number pasted as printed
    ("116-82-00276", full-width digits) is the same number."""
    value = unicodedata.normalize("NFKC", value or "")
    value = re.sub(r"[\s\-‐‑–—]", "", value)
    if not (value.isascii() and value.isdigit()):
        raise forms.ValidationError(
            _("사업자등록번호는 숫자만 입력하세요."), code="digits")
    if len(value) != 10:
        raise forms.ValidationError(
            _("사업자등록번호는 숫자 10자리입니다. (입력: %(count)d자리)"),
            code="length", params={"count": len(value)})
    if not business_number_ok(value):
        raise forms.ValidationError(
            _("올바른 사업자등록번호가 아닙니다. 번호를 다시 확인하세요."), code="checksum")
    return value


class InstitutionRequestForm(forms.Form):
    """기관등록 신청: what the health center needs to register an institution."""

    name = forms.CharField(label=_("기관명"), max_length=120)
    type = forms.ModelChoiceField(label=_("기관유형"), queryset=InstitutionType.objects.all(),
                                  empty_label=_(":: 기관유형선택 ::"))
    business_number = forms.CharField(label=_("사업자등록번호"), max_length=20)
    postcode = forms.CharField(label=_("우편번호"), max_length=5)
    sigungu_code = forms.ChoiceField(label=_("시군구"), choices=())
    dong = forms.CharField(label=_("읍면동"), max_length=40, required=False)
    address = forms.CharField(label=_("주소"), max_length=200)
    phone = forms.CharField(label=_("기관 전화번호"), max_length=20)
    mobile = forms.CharField(label=_("결과를 받을 휴대폰번호"), max_length=13, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from institutions.jurisdiction import sigungu_choices

        self.fields["sigungu_code"].choices = [("", _(":: 시군구선택 ::"))] + [
            (code, label) for code, _sido, label in sigungu_choices()]
        self.fields["type"].queryset = InstitutionType.objects.exclude(code="health_center")

    def clean_name(self) -> str:
        value = _no_control(_squash(self.cleaned_data["name"]))
        if not any(ch.isalnum() for ch in value):
            raise forms.ValidationError(_("기관명을 한글, 영문 또는 숫자로 입력하세요."))
        return value

    def clean_business_number(self) -> str:
        return clean_business_number(self.cleaned_data["business_number"])

    def clean_postcode(self) -> str:
        value = re.sub(r"\s", "", self.cleaned_data["postcode"] or "")
        if not re.fullmatch(r"[0-9]{5}", value):
            raise forms.ValidationError(_("우편번호는 숫자 5자리로 입력하세요."))
        return value

    def clean_dong(self) -> str:
        return _no_control(_squash(self.cleaned_data.get("dong")))

    def clean_address(self) -> str:
        return _no_control(_squash(self.cleaned_data["address"]))

    def clean_phone(self) -> str:
        value = re.sub(r"[\s\-]", "", self.cleaned_data["phone"] or "")
        if not (value.isdigit() and (is_landline(value) or is_mobile(value))):
            raise forms.ValidationError(
                _("기관 전화번호는 지역번호를 포함하여 숫자만 입력하세요."))
        return value

    def clean_mobile(self) -> str:
        value = re.sub(r"[\s\-]", "", self.cleaned_data.get("mobile") or "")
        if value and not is_mobile(value):
            raise forms.ValidationError(_("휴대폰번호를 확인하세요. (예: 01012345678)"))
        return value
