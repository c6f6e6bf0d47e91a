"""Rules for institution data (pure: no database).

The business registration number (사업자등록번호) check digit is written here because
python-stdnum's `kr.brn` checks the format only.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

BUSINESS_NUMBER_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)

# Hangul jamo, compatibility jamo, jamo extended A/B and syllables.
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff]")
# Letters, digits, spaces and the punctuation institution names use in English.
ENGLISH_NAME_PUNCTUATION = ".,&'()-/+"
_ENGLISH_NAME = re.compile(r"[A-Za-z0-9 .,&'()\-/+]+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def business_number_ok(value: str) -> bool:
    """True for ten ASCII digits whose last digit is the national check digit.

    Weights 1,3,7,1,3,7,1,3,5 on the first nine digits, plus ⌊(9th digit × 5) / 10⌋; the
    check digit is (10 − sum mod 10) mod 10.
    """
    if not isinstance(value, str) or len(value) != 10 or not value.isascii():
        return False
    if not value.isdigit():
        return False
    digits = [int(c) for c in value]
    total = sum(d * w for d, w in zip(digits, BUSINESS_NUMBER_WEIGHTS, strict=False))
    total += (digits[8] * 5) // 10
    return (10 - total % 10) % 10 == digits[9]


def contains_hangul(value: str) -> bool:
    return bool(_HANGUL.search(value or ""))


def has_control_characters(value: str) -> bool:
    """Control characters (NUL, escape, bidi marks …) have no place in a name or address."""
    return any(unicodedata.category(c) in ("Cc", "Cf") for c in value or "")


def english_name_problem(value: str) -> str | None:
    """None when `value` is a usable English name, else a reason code:
    'hangul', 'characters' (anything else outside letters, digits, spaces and
    ENGLISH_NAME_PUNCTUATION) or 'no_letter'."""
    if contains_hangul(value):
        return "hangul"
    if not _ENGLISH_NAME.fullmatch(value or ""):
        return "characters"
    if not _ASCII_LETTER.search(value):
        return "no_letter"
    return None


ENGLISH_NAME_MESSAGES = {
    "hangul": _("[한글 입력 불가] 기관명(영문)에는 한글을 입력할 수 없습니다. 영문으로 입력하세요."),
    "characters": _("기관명(영문)에는 영문, 숫자, 공백과 문장부호( . , & ' ( ) - / + )만 "
                    "입력할 수 있습니다."),
    "no_letter": _("기관명(영문)에는 영문자를 한 글자 이상 입력하세요."),
}


def validate_english_name(value: str) -> None:
    """A Django validator for the English name rule."""
    problem = english_name_problem(value)
    if problem:
        raise ValidationError(ENGLISH_NAME_MESSAGES[problem], code=f"english_name_{problem}")
