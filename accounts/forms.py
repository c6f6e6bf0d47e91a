"""Forms validate and normalise; they never write."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.selectors import verified_phone
from institutions.models import Institution, InstitutionType, Region
from kdcis.ids import parse_id
from kdcis.phones import is_landline, is_mobile

# ASCII only, whole string: a look-alike letter (Cyrillic "о") or a trailing newline is refused.
USERNAME_RE = re.compile(r"[a-z][a-z0-9]{3,19}", re.ASCII)


def _digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


def _query(value) -> str:
    # HIRA's public files number institutions with 80 characters (암호화요양기호).
    return " ".join((value or "").split())[:100]


def clean_username(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise forms.ValidationError(_("아이디를 입력하세요."))
    if not USERNAME_RE.fullmatch(value):
        raise forms.ValidationError(
            _("아이디는 영문 소문자로 시작하는 4~20자의 영문 소문자와 숫자만 사용할 수 있습니다.")
        )
    return value


def clean_mobile(value: str) -> str:
    value = _digits(value)
    if not value:
        raise forms.ValidationError(_("휴대폰번호를 입력하세요."))
    if not is_mobile(value):
        raise forms.ValidationError(
            _("휴대폰번호는 010으로 시작하는 11자리 숫자로 입력하세요. (예: 01012345678)")
        )
    return value


class ConsentForm(forms.Form):
    agree = forms.BooleanField(
        label=_("위의 개인정보 수집(이용)에 동의합니다."),
        required=True,
        error_messages={
            "required": _("개인정보 수집(이용)에 동의하셔야 가입을 진행할 수 있습니다.")
        },
    )


class CertificateForm(forms.Form):
    """What the browser posts after signing: the certificate and the signature only."""

    challenge = forms.CharField(widget=forms.HiddenInput, max_length=200)
    certificate = forms.CharField(widget=forms.HiddenInput, max_length=20000,
                                  error_messages={"required": _("인증서를 선택하세요.")})
    signature = forms.CharField(widget=forms.HiddenInput, max_length=4000,
                                error_messages={"required": _("인증서 서명이 없습니다. "
                                                              "다시 시도하세요.")})


class ProfileForm(forms.Form):
    """사용자정보등록 as posted by any of its buttons: every field optional, only normalised.

    Each button posts the whole form, so what was typed is kept whichever button it was; the
    button's own rules are the forms below."""

    # No max_length here: an over-long value must reach the field's own rule (and message)
    # instead of silently dropping out of cleaned_data. Values are capped in clean_*.
    name = forms.CharField(label=_("이름"), required=False)
    username = forms.CharField(label=_("아이디"), required=False)
    institution_type = forms.ModelChoiceField(
        label=_("기관유형"), queryset=InstitutionType.objects.all(), required=False,
        empty_label=_(":: 기관유형선택 ::"),
    )
    region = forms.ModelChoiceField(
        label=_("시도"), queryset=Region.objects.all(), required=False,
        empty_label=_(":: 시도선택 ::"),
    )
    query = forms.CharField(label=_("기관명 또는 기관번호"), required=False)
    # The institution shown as selected (hidden) and the one ticked in the results.
    institution = forms.CharField(label=_("기관명"), required=False, widget=forms.HiddenInput)
    institution_choice = forms.CharField(label=_("선택"), required=False)
    mobile = forms.CharField(label=_("휴대폰번호"), required=False)
    code = forms.CharField(label=_("인증번호"), required=False)
    office_phone = forms.CharField(label=_("기관(부서) 전화번호"), required=False)

    def clean_query(self) -> str:
        return _query(self.cleaned_data.get("query"))

    def clean_name(self) -> str:
        return " ".join((self.cleaned_data.get("name") or "").split())[:30]

    def clean_username(self) -> str:
        return (self.cleaned_data.get("username") or "").strip()[:60]

    def clean_institution(self) -> int | None:
        return parse_id(self.cleaned_data.get("institution"))

    def clean_institution_choice(self) -> int | None:
        return parse_id(self.cleaned_data.get("institution_choice"))

    def clean_code(self) -> str:
        return _digits(self.cleaned_data.get("code") or "")[:12]

    def clean_office_phone(self) -> str:
        return _digits(self.cleaned_data.get("office_phone") or "")[:30]

    def clean_mobile(self) -> str:
        return _digits(self.cleaned_data.get("mobile") or "")[:30]

    def typed_profile(self) -> dict:
        """The draft's profile values this post carries (after is_valid()). A field that did
        not clean (an unknown 기관유형) is left out, so the draft keeps its earlier value."""
        data = self.cleaned_data
        typed = {key: data[key] for key in ("username", "query", "mobile", "office_phone",
                                            "name") if key in data}
        for key in ("institution_type", "region"):
            if data.get(key):
                typed[key] = data[key].pk
            elif key in self.data:  # the select was posted with nothing chosen
                typed[key] = None
        chosen = data.get("institution_choice") or data.get("institution")
        if chosen:
            typed["institution_id"] = chosen
        return typed


class InstitutionSearchForm(forms.Form):
    """'검색': the search needs a name or number."""

    query = forms.CharField(required=False)

    def clean_query(self) -> str:
        query = _query(self.cleaned_data.get("query"))
        if not query:
            raise forms.ValidationError(_("검색할 기관명 또는 기관번호를 입력하세요."))
        return query


class ResultsPageForm(forms.Form):
    """'이전' and '다음 목록' under the search results: the page the button names."""

    page = forms.IntegerField(min_value=1, max_value=100_000)


class PhoneNumberForm(forms.Form):
    """'휴대폰번호 인증' and the code's '확인': a mobile number that can receive a code. (The
    typed code's own rules, and the tries it costs, are accounts.services.phone_code_check's.)"""

    mobile = forms.CharField(required=False)
    code = forms.CharField(required=False)

    def clean_mobile(self) -> str:
        return clean_mobile(self.cleaned_data.get("mobile") or "")

    def clean_code(self) -> str:
        return _digits(self.cleaned_data.get("code") or "")[:12]


class ProfileSubmitForm(forms.Form):
    """'다음' on 사용자정보등록: the profile as the draft now holds it (this post's values, and
    the institution and phone verification of earlier posts) must be complete.

    The ID's availability is not checked here: that check is rate-limited and shared with the
    live '중복검사' (accounts.signup_profile_views)."""

    name = forms.CharField(required=False)
    institution = forms.ModelChoiceField(
        queryset=Institution.objects.filter(status=Institution.Status.OPEN),
        error_messages={"required": _("기관명을 검색하여 소속기관을 선택하세요."),
                        "invalid_choice": _("기관명을 검색하여 소속기관을 선택하세요.")},
    )
    mobile = forms.CharField(required=False)
    office_phone = forms.CharField(required=False)

    def __init__(self, profile: dict, *, corporate: bool, session_key: str):
        super().__init__(data={
            "name": profile.get("name", ""), "institution": profile.get("institution_id") or "",
            "mobile": profile.get("mobile", ""), "office_phone": profile.get("office_phone", ""),
        })
        self.corporate = corporate
        self.session_key = session_key
        self.verification_id = profile.get("verification_id")

    def clean_name(self) -> str:
        name = self.cleaned_data.get("name") or ""
        if self.corporate and not name:
            raise forms.ValidationError(
                _("기관인증서로 가입하는 경우 휴대폰 인증한 본인의 이름을 입력하세요."))
        return name

    def clean_mobile(self) -> str:
        mobile = clean_mobile(self.cleaned_data.get("mobile") or "")
        if not verified_phone(verification_id=self.verification_id,
                              session_key=self.session_key, phone=mobile):
            raise forms.ValidationError(_("'휴대폰번호 인증'을 완료하세요."))
        return mobile

    def clean_office_phone(self) -> str:
        value = self.cleaned_data.get("office_phone") or ""
        problem = office_phone_error(value)
        if problem:
            raise forms.ValidationError(problem)
        return value


def office_phone_error(value: str) -> str | None:
    if not value:
        return str(_("기관(부서) 전화번호를 입력하세요."))
    if not value.isdigit():
        return str(_("기관(부서) 전화번호는 숫자만 입력하세요."))
    if not is_landline(value):
        return str(_("지역번호를 포함한 올바른 전화번호를 입력하세요. (예: 0221483500)"))
    return None


class PermissionRequestForm(forms.Form):
    """권한신청: each ticked permission with an approving body of its kind; a health center
    other than the one of the institution's address only once the applicant confirms it.

    After validation, `picked` holds the ticks and bodies as posted (the draft keeps them,
    valid or not) and `requested` what the account will ask for."""

    off_jurisdiction_ok = forms.BooleanField(required=False)

    def __init__(self, data, *, institution, permission_types):
        super().__init__(data)
        self.institution = institution
        self.permission_types = permission_types
        self.picked: dict[str, dict] = {}
        self.requested: list = []
        self.off_jurisdiction = False

    def clean(self):
        from accounts.services import RequestedPermission  # the service imports this module
        from permissions.selectors import bodies_for

        cleaned = super().clean()
        problems = []
        for ptype in self.permission_types:
            checked = self.data.get(f"perm_{ptype.code}") == "on"
            body_id = parse_id(self.data.get(f"body_{ptype.code}"))
            self.picked[ptype.code] = {"checked": checked, "body_id": body_id}
            body = bodies_for(ptype).filter(pk=body_id).first() if checked else None
            if body is not None:
                self.requested.append(RequestedPermission(permission_type=ptype, body=body))
            elif checked:
                problems.append(_("'%(perm)s' 권한의 승인기관을 선택하세요.") % {"perm": ptype.name})
        if problems:
            raise forms.ValidationError(problems[-1])
        if not self.requested:
            raise forms.ValidationError(_("신청할 권한을 하나 이상 선택하세요."))
        warning = "" if cleaned.get("off_jurisdiction_ok") else self._off_jurisdiction()
        if warning:
            self.off_jurisdiction = True
            raise forms.ValidationError(warning)
        return cleaned

    def _off_jurisdiction(self) -> str:
        """A health center other than the one of the institution's address decides only if
        the applicant confirms it (it may transfer the request back)."""
        home = self.institution.jurisdiction
        for item in self.requested:
            if home is not None and item.body.kind == home.kind and item.body.pk != home.pk:
                return _("선택한 승인기관(%(chosen)s)은 기관 주소지 관할 보건소가 아닙니다. 기관 "
                         "주소지 관할 보건소는 %(home)s입니다. 그대로 신청하려면 아래 확인란을 "
                         "선택하세요.") % {"chosen": item.body.name, "home": home.name}
        return ""

    def first_error(self) -> str:
        return str(next(iter(self.errors.values()))[0])
