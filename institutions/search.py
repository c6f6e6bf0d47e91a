"""How the institution search compares names (pure: no database).

Names are compared without spaces and in lower case (`name_key`), so '종로 연세 의원' finds
'종로연세의원'. A query that ends in a kind word ('의원', '약국' …) is also tried without it,
so '연세의원' still finds '연세내과의원'; the full form ranks first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Longest first: '치과의원' must be taken off before '의원'.
KIND_SUFFIXES = (
    "소아청소년과의원", "가정의학과의원", "치과의원", "치과병원", "한의원", "한방병원", "요양병원",
    "종합병원", "보건의료원", "보건진료소", "보건지소", "보건소", "의원", "병원", "약국", "한약방",
    "조산원",
)
_SPACES = re.compile(r"\s+")
# Characters the search ignores besides spaces: punctuation people type or leave out.
_IGNORED = re.compile(r"[()\[\]·.,\-_/'\"]")


def name_key(name: str) -> str:
    """The form of a name the search compares: no spaces or punctuation, lower case."""
    return _IGNORED.sub("", _SPACES.sub("", name or "")).lower()


# Hangul syllables are composed arithmetically (Unicode 3.12): 19 initials x 21 vowels x 28
# finals, the final 0 meaning none.
_SYLLABLES = range(0xAC00, 0xD7A4)
_NO_FINAL = "\u1160"  # HANGUL JUNGSEONG FILLER: sorts below every final consonant


def jamo(key: str) -> str:
    """`key` with each Hangul syllable written as exactly three letters: initial, vowel and
    final consonant, or a filler where it has none ('세' = ㅅ ㅔ ·, '섹' = ㅅ ㅔ ㄱ).

    PostgreSQL's trigram index needs three characters: in letters a two-syllable query
    ('연세', '하나', most Korean name searches) has six. Because every syllable takes three
    places and initials, vowels and finals are disjoint ranges of Unicode, a LIKE on this
    form matches whole syllables only ('연세' does not match '연섹', as it would in NFD), so
    one condition on one column decides a match and the planner can estimate it. The filler
    sorts below every final, so this form sorts as the syllables do ('세' < '섹' < '소'):
    the search orders by it and an index walk in that order serves a page.
    """
    out = []
    for ch in key:
        code = ord(ch)
        if code in _SYLLABLES:
            index = code - 0xAC00
            final = index % 28
            out.append(chr(0x1100 + index // 588))
            out.append(chr(0x1161 + index % 588 // 28))
            out.append(chr(0x11A7 + final) if final else _NO_FINAL)
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class ParsedQuery:
    text: str  # as typed, trimmed
    key: str  # name_key of the text
    stem: str  # key without a trailing kind word ('' when nothing is left of it)
    number: str  # the query as an institution number ('' when it cannot be one)


_NUMBER = re.compile(r"[0-9A-Za-z+/=\-]{4,100}")


def parse_query(query: str) -> ParsedQuery:
    text = " ".join((query or "").split())[:100]
    key = name_key(text)
    stem = key
    for suffix in KIND_SUFFIXES:
        if key.endswith(suffix) and len(key) - len(suffix) >= 2:
            stem = key[: -len(suffix)]
            break
    number = text if _NUMBER.fullmatch(text) and any(c.isdigit() for c in text) else ""
    return ParsedQuery(text=text, key=key, stem=stem, number=number)


def like_escape(value: str) -> str:
    """Escape LIKE's wildcards so a typed '%' or '_' matches itself."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
