"""Reading ids and return paths from user input without trusting it."""

from __future__ import annotations

import re

_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only: '²'.isdigit() is True, int('²') fails
MAX_ID = 2**63 - 1


def parse_id(value) -> int | None:
    """A positive database id, or None for anything else (words, '²', 5000 digits …)."""
    text = str(value or "")
    if not _ID.fullmatch(text):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def safe_local_path(value, default: str) -> str:
    """A path on this site ('/…', not '//…' or '/\\…'), or `default`."""
    text = str(value or "")
    if text.startswith("/") and not text.startswith(("//", "/\\")) and "\x00" not in text:
        return text
    return default
