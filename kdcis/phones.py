"""Korean phone-number rules (pure: no database)."""

from __future__ import annotations

import re

# Geographic area codes plus 070 (internet telephony), as used for office numbers.
AREA_CODES = (
    "02", "031", "032", "033", "041", "042", "043", "044",
    "051", "052", "053", "054", "055", "061", "062", "063", "064", "070",
)
MOBILE_PREFIXES = ("010",)

_DIGITS = re.compile(r"^[0-9]+$")


def is_mobile(value: str) -> bool:
    """010 followed by eight digits."""
    return bool(_DIGITS.match(value)) and len(value) == 11 and value.startswith(MOBILE_PREFIXES)


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
