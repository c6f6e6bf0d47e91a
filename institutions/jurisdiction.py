"""The health center with jurisdiction over an address.

Most 시군구 have one health center: the 시군구 code decides. Where a code has several
(평택, 남양주, 구미, 제주시, 서귀포시), where one center serves several 구 (창원) or where a 구
has none of its own (화성시 효행구), `institutions/data/jurisdiction_rules.csv` says which
center serves which 읍면동, with a default row (`*`) per code. A code found in neither file is
tried as its city's code (the first four digits and 0), as a 구 of a city that has one center.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from institutions.reference import DATA_DIR, HealthCenterRow, read_health_centers, read_rows

JURISDICTION_RULES_CSV = DATA_DIR / "jurisdiction_rules.csv"


@dataclass(frozen=True)
class Rule:
    sigungu_code: str
    sigungu: str
    dong: str
    center: str
    note: str


def read_rules(path: Path = JURISDICTION_RULES_CSV) -> list[Rule]:
    return read_rows(path, Rule)


def _name_keys(sigungu: str) -> set[str]:
    """The spellings a list may use for a 시군구: '수원시 장안구', '수원시장안구', '수원장안구',
    and for '창원시 의창구·성산구' each of its 구 the same way."""
    keys = set()
    city, _, gus = sigungu.rpartition(" ")
    parts = gus.split("·") if gus else [sigungu]
    for part in parts:
        full = f"{city} {part}".strip()
        keys.add(full.replace(" ", ""))
        if city.endswith("시"):
            keys.add(city[:-1] + part)
        keys.add(part)
    return keys


# Short names of the 시도 in HIRA's files (시도코드명) and older full names, by 2026 code.
SIDO_ALIASES = {
    "11": ("서울", "서울시", "서울특별시"), "26": ("부산", "부산시", "부산광역시"),
    "27": ("대구", "대구시", "대구광역시"), "28": ("인천", "인천시", "인천광역시"),
    "30": ("대전", "대전시", "대전광역시"), "31": ("울산", "울산시", "울산광역시"),
    "36": ("세종", "세종시", "세종특별자치시"), "41": ("경기", "경기도"),
    "43": ("충북", "충청북도"), "44": ("충남", "충청남도"), "47": ("경북", "경상북도"),
    "48": ("경남", "경상남도"), "50": ("제주", "제주도", "제주특별자치도"),
    "51": ("강원", "강원도", "강원특별자치도"), "52": ("전북", "전라북도", "전북특별자치도"),
    # 광주 and 전남 are one region since 2026-07-01.
    "12": ("광주", "광주시", "광주광역시", "전남", "전라남도", "전남광주", "전남광주통합특별시"),
}
# 법정동 codes abolished on 2026-07-01: 광주 (29) and 전남 (46) became 12.
ABOLISHED_SIDO = {"29": "12", "46": "12"}


@dataclass
class Directory:
    """The 시군구 we know and the center each address goes to (by center name).

    Built from the reference files only; `center_ids` maps a center's (sido code, name) to
    its ApprovingBody id once the caller has loaded them.
    """

    centers: list[HealthCenterRow]
    rules: list[Rule]
    # code -> (sido code, display name)
    sigungu: dict[str, tuple[str, str]] = field(default_factory=dict)
    # (sido code, name key) -> code; None where a name is ambiguous in its 시도
    by_name: dict[tuple[str, str], str | None] = field(default_factory=dict)
    sido_by_name: dict[str, str] = field(default_factory=dict)
    rules_by_code: dict[str, list[Rule]] = field(default_factory=dict)
    centers_by_code: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Directory:
        directory = cls(centers=read_health_centers(), rules=read_rules())
        directory._index()
        return directory

    def _index(self) -> None:
        for rule in self.rules:
            self.rules_by_code.setdefault(rule.sigungu_code, []).append(rule)
        for center in self.centers:
            self.centers_by_code.setdefault(center.sigungu_code, []).append(center.name)
        # Centers first, then the rules, whose names are more specific ('창원시 의창구' over
        # '창원시 의창구·성산구'): a later pass overrides, two codes of one pass sharing a
        # name within a 시도 make that name ambiguous (None).
        passes = [
            [(c.sido_code, c.sigungu, c.sigungu_code) for c in self.centers],
            [(r.sigungu_code[:2], r.sigungu, r.sigungu_code) for r in self.rules],
        ]
        for entries in passes:
            seen: dict[tuple[str, str], str | None] = {}
            for sido_code, name, code in entries:
                self.sigungu.setdefault(code, (sido_code, name))
                for key in _name_keys(name):
                    slot = (sido_code, key)
                    seen[slot] = code if seen.get(slot, code) == code else None
            self.by_name.update(seen)
        # 세종 is a 시도 without 시군구: lists name its one 시군구 '세종시' or leave it blank.
        for key in ("세종시", "세종", "세종특별자치시", ""):
            self.by_name[("36", key)] = "36110"
        for code, aliases in SIDO_ALIASES.items():
            for alias in aliases:
                self.sido_by_name[alias.replace(" ", "")] = code

    def sido_code(self, code: str, name: str) -> str | None:
        """The 2026 시도 code: from a 2-digit 법정동 code, else from the name (HIRA's files
        use 6-digit codes of their own, such as 110000 for 서울, that are not 법정동 codes)."""
        code = (code or "").strip()
        if len(code) == 2 and code.isdigit():
            code = ABOLISHED_SIDO.get(code, code)
            if code in SIDO_ALIASES:
                return code
        return self.sido_by_name.get((name or "").replace(" ", ""))

    def sigungu_code(self, *, code: str, name: str, sido_code: str | None) -> str | None:
        """A 5-digit 법정동 code we know, from the file's code or, failing that, its name
        within the 시도 (HIRA's files use codes of their own, so the name usually decides)."""
        code = (code or "").strip()
        if len(code) == 5 and code.isdigit() and code in self.sigungu:
            return code
        if len(code) == 10 and code.isdigit() and code[:5] in self.sigungu:
            return code[:5]
        if sido_code and (name or sido_code == "36"):
            found = self.by_name.get((sido_code, (name or "").replace(" ", "")))
            if found:
                return found
        return None

    def center_name(self, *, sigungu_code: str, dong: str = "", address: str = "") -> str | None:
        """The center (its name) serving this 시군구 and 읍면동, or None."""
        rules = self.rules_by_code.get(sigungu_code)
        if rules:
            dong = (dong or "").strip()
            words = set((address or "").replace("(", " ").replace(")", " ").split())
            for rule in rules:
                if rule.dong != "*" and (rule.dong == dong or rule.dong in words):
                    return rule.center
            default = next((r for r in rules if r.dong == "*"), None)
            return default.center if default else None
        names = self.centers_by_code.get(sigungu_code, [])
        if len(names) == 1:
            return names[0]
        if not names and len(sigungu_code) == 5 and not sigungu_code.endswith("0"):
            return self.center_name(sigungu_code=sigungu_code[:4] + "0", dong=dong,
                                    address=address)
        return None


@functools.cache
def directory() -> Directory:
    """The reference files' directory, read once per process."""
    return Directory.load()


def sigungu_choices() -> list[tuple[str, str, str]]:
    """(code, 시도 code, label) for every 시군구 an applicant can pick, in code order; city
    codes that only stand for their 구 (창원시 48120) are left out."""
    d = directory()
    sido_names = {c.sido_code: c.sido for c in d.centers}
    out = []
    for code, (sido_code, name) in sorted(d.sigungu.items()):
        if "·" in name:
            continue
        out.append((code, sido_code, f"{sido_names.get(sido_code, '')} {name}".strip()
                    if name != sido_names.get(sido_code) else name))
    return out
