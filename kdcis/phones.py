"""Korean phone-number rules, the one place they live (pure: no database).

A person's mobile number is 010 followed by eight digits: the forms accept only that, the
SMS outbox sends only to that, and the nightly revocation's SQL checks the same pattern
(`MOBILE_PATTERN`). The old 011/016/017/018/019 numbers are not accepted: the guide asks
for a 010 number and nothing stored here can hold another.
"""

from __future__ import annotations

import re

# Geographic area codes plus 070 (internet telephony), as used for office numbers.
AREA_CODES = (
    "02", "031", "032", "033", "041", "042", "043", "044",
    "051", "052", "053", "054", "055", "061", "062", "063", "064", "070",
)
MOBILE_PREFIXES = ("010",)
#: The whole rule for a mobile number's digits (also used by SQL: POSIX-compatible).
MOBILE_PATTERN = re.compile(r"^010[0-9]{8}$")
#: What a typed number may carry besides digits (010-1234-5678, 010 1234 5678).
SEPARATORS_PATTERN = re.compile(r"[-\s]")

_DIGITS = re.compile(r"^[0-9]+$")


class InvalidPhoneNumber(ValueError):
    """Not a Korean mobile number (010 followed by eight digits)."""


def is_mobile(value: str) -> bool:
    """010 followed by eight digits."""
    return bool(MOBILE_PATTERN.match(value or ""))


def normalize_mobile(value: str) -> str:
    """The digits of a mobile number typed with or without dashes and spaces, or raise
    `InvalidPhoneNumber`."""
    digits = SEPARATORS_PATTERN.sub("", value or "")
    if not is_mobile(digits):
        raise InvalidPhoneNumber(f"not a Korean mobile number: {value!r}")
    return digits


def to_e164(number: str) -> str:
    """01012345678 -> +821012345678 (Korea's country code, the trunk 0 dropped)."""
    return "+82" + normalize_mobile(number)[1:]


def split_area_code(value: str) -> tuple[str, str] | None:
    """Split a digits-only landline number into (area code, subscriber number), or None."""
    if not _DIGITS.match(value or ""):
        return None
    for code in sorted(AREA_CODES, key=len, reverse=True):
        if value.startswith(code):
            rest = value[len(code):]
            if 7 <= len(rest) <= 8 and rest[0] not in "01":
                return code, rest
            return None
    return None


def is_landline(value: str) -> bool:
    return split_area_code(value) is not None


def mask_mobile(value: str) -> str:
    """010-****-5678: enough to recognise, not enough to call."""
    if len(value) == 11:
        return f"{value[:3]}-****-{value[7:]}"
    if len(value) >= 4:
        return "*" * (len(value) - 4) + value[-4:]
    return "*" * len(value)


def format_phone(value: str) -> str:
    if is_mobile(value):
        return f"{value[:3]}-{value[3:7]}-{value[7:]}"
    parts = split_area_code(value)
    if parts:
        code, rest = parts
        return f"{code}-{rest[:-4]}-{rest[-4:]}"
    return value


def mask_name(value: str) -> str:
    """홍*동 / 김* / 남궁** : first and last character kept for three or more."""
    if len(value) <= 1:
        return value
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]
