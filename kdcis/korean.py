"""Korean text that fits its words: particles (받침: 기관명을, 주소를, 예진의사명은) and durations.

A message built from a label cannot hard-code 을/를; writing "을(를)" everywhere reads like a
form from another century. `particle(word, "을/를")` picks by the last syllable actually read:
a closing bracket or trailing punctuation is skipped, so "기관명(영문)" takes 을 like "영문".
"""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext as _

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL = 8  # the final consonant ㄹ, which takes 로 rather than 으로
# How a final digit is read (영, 일, 이, 삼, 사, 오, 육, 칠, 팔, 구): its final consonant.
_DIGIT_FINALS = {"0": 21, "1": _RIEUL, "2": 0, "3": 16, "4": 0, "5": 0, "6": 1, "7": _RIEUL,
                 "8": _RIEUL, "9": 0}
PAIRS = ("을/를", "은/는", "이/가", "과/와", "으로/로")


def _final_consonant(word: str) -> int | None:
    """0 for an open syllable, the final consonant's index otherwise; None if unknown."""
    for char in reversed(word.strip()):
        if char in ")]}>\"'.,!? ":
            continue
        code = ord(char)
        if _HANGUL_FIRST <= code <= _HANGUL_LAST:
            return (code - _HANGUL_FIRST) % 28
        return _DIGIT_FINALS.get(char)
    return None


def particle(word: str, pair: str) -> str:
    """`word` followed by the form of `pair` ("을/를", "은/는", "이/가", "과/와", "으로/로")
    its last syllable takes; with no Korean syllable to go by, both forms ("을(를)")."""
    if pair not in PAIRS:
        raise ValueError(f"unknown particle pair {pair!r}")
    closed, open_ = pair.split("/")
    final = _final_consonant(str(word))
    if final is None:
        return f"{word}{closed}({open_})"
    if pair == "으로/로":
        return f"{word}{open_ if final in (0, _RIEUL) else closed}"
    return f"{word}{closed if final else open_}"


def format_duration(value: timedelta) -> str:
    """'2일 3시간', '5시간 12분', '8분': the two largest units."""
    minutes = int(value.total_seconds() // 60)
    days_, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days_:
        return _("%(d)d일 %(h)d시간") % {"d": days_, "h": hours}
    if hours:
        return _("%(h)d시간 %(m)d분") % {"h": hours, "m": minutes}
    return _("%(m)d분") % {"m": minutes}
