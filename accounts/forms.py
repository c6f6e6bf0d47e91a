"""Forms validate and normalise; they never write."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from institutions.models import InstitutionType, Region
from kdcis.phones import is_landline, is_mobile

# ASCII only, whole string: a look-alike letter (Cyrillic "о") or a trailing newline is refused.
USERNAME_RE = re.compile(r"[a-z][a-z0-9]{3,19}", re.ASCII)


def _digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


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
    institution = forms.IntegerField(label=_("기관명"), required=False,
                                     widget=forms.HiddenInput)
    mobile = forms.CharField(label=_("휴대폰번호"), required=False)
    code = forms.CharField(label=_("인증번호"), required=False)
    office_phone = forms.CharField(label=_("기관(부서) 전화번호"), required=False)

    def clean_query(self) -> str:
        # HIRA's public files number institutions with 80 characters (암호화요양기호).
        return " ".join((self.cleaned_data.get("query") or "").split())[:100]

    def clean_name(self) -> str:
        return " ".join((self.cleaned_data.get("name") or "").split())[:30]

    def clean_username(self) -> str:
        return (self.cleaned_data.get("username") or "").strip()[:60]

    def clean_code(self) -> str:
        return _digits(self.cleaned_data.get("code") or "")[:12]

    def clean_office_phone(self) -> str:
        return _digits(self.cleaned_data.get("office_phone") or "")[:30]

    def clean_mobile(self) -> str:
        return _digits(self.cleaned_data.get("mobile") or "")[:30]


def office_phone_error(value: str) -> str | None:
    if not value:
        return str(_("기관(부서) 전화번호를 입력하세요."))
    if not value.isdigit():
        return str(_("기관(부서) 전화번호는 숫자만 입력하세요."))
    if not is_landline(value):
        return str(_("지역번호를 포함한 올바른 전화번호를 입력하세요. (예: 0221483500)"))
    return None
