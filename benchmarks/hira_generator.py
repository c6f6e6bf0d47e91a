"""A made-up list in the layout of HIRA's 병원정보서비스 / 약국정보서비스 files, for tests and
benchmarks: realistic names, addresses, postcodes and phone numbers over every 시군구 we know,
80-character encrypted-looking numbers, and the short 시도코드명 / joined 시군구코드명 spellings
the public files use ('서울', '수원장안구'). Nothing in it is real.

    .venv/bin/python benchmarks/hira_generator.py OUT.csv [--rows 100000] [--seed 1]
        [--kind hospitals|pharmacies]        (OUT.xlsx writes an XLSX)
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from institutions.jurisdiction import SIDO_ALIASES, read_rules  # noqa: E402
from institutions.reference import read_health_centers  # noqa: E402

HEADER = ["암호화요양기호", "요양기관명", "종별코드", "종별코드명", "시도코드", "시도코드명",
          "시군구코드", "시군구코드명", "읍면동", "우편번호", "주소", "전화번호", "개설일자"]

# (종별코드, 종별코드명, weight, name endings): weights follow the real lists' proportions.
HOSPITAL_KINDS = [
    ("01", "상급종합병원", 1, ["대학교병원", "병원"]),
    ("11", "종합병원", 4, ["종합병원", "병원", "의료원"]),
    ("21", "병원", 18, ["병원", "정형외과병원", "여성병원", "재활병원"]),
    ("28", "요양병원", 18, ["요양병원"]),
    ("29", "정신병원", 2, ["정신병원"]),
    ("31", "의원", 460, ["내과의원", "의원", "소아청소년과의원", "이비인후과의원", "정형외과의원",
                       "피부과의원", "안과의원", "가정의학과의원", "산부인과의원", "비뇨의학과의원",
                       "신경외과의원", "재활의학과의원", "영상의학과의원", "365의원"]),
    ("41", "치과병원", 3, ["치과병원"]),
    ("51", "치과의원", 240, ["치과의원", "치과"]),
    ("61", "조산원", 1, ["조산원"]),
    ("72", "보건지소", 16, ["보건지소"]),
    ("73", "보건진료소", 24, ["보건진료소"]),
    ("92", "한방병원", 7, ["한방병원"]),
    ("93", "한의원", 190, ["한의원"]),
]
PHARMACY_KINDS = [("81", "약국", 1, ["약국"])]
WORDS = ["연세", "서울", "튼튼", "우리", "행복", "바른", "미소", "하나", "온누리", "새봄", "밝은",
         "제일", "중앙", "사랑", "좋은", "참", "늘푸른", "한빛", "정성", "믿음", "새희망", "건강한",
         "365", "365열린", "365메디", "가족", "본", "열린", "푸른", "해맑은", "다정", "으뜸",
         "아이", "봄", "숲", "성심", "세란", "명인", "선한", "굿모닝", "메디", "수", "이음", "도담"]
DONGS = ["중앙동", "신흥동", "동명동", "신촌동", "남산동", "송정동", "대명동", "산정동",
         "용현동", "상동", "중동", "신정동", "월계동", "장안동", "도화동", "구암동", "효자동",
         "읍내리", "신월동", "삼성동", "광명동", "화정동", "연산동", "평화동"]
ROADS = ["중앙로", "시청로", "번영로", "문화로", "대학로", "역전로", "시장길", "공원로", "평화로",
         "신흥로", "동문로", "서문로", "남부로", "북부순환로", "중앙공원로", "학교길", "강변로"]
AREA_CODES = {"11": "02", "26": "051", "27": "053", "28": "032", "12": "061", "30": "042",
              "31": "052", "36": "044", "41": "031", "51": "033", "43": "043", "44": "041",
              "52": "063", "47": "054", "48": "055", "50": "064"}
POSTCODE_PREFIX = {"11": (1, 9), "26": (46, 49), "27": (41, 43), "28": (21, 23),
                   "12": (57, 62), "30": (34, 35), "31": (44, 45), "36": (30, 30),
                   "41": (10, 18), "51": (24, 26), "43": (27, 29), "44": (31, 33),
                   "52": (54, 56), "47": (36, 40), "48": (50, 53), "50": (63, 63)}


def places() -> list[tuple[str, str, str, list[str]]]:
    """(sido code, full sido name, 시군구 as written in addresses, 읍면동 candidates) per
    시군구 with a health center, 창원's 구 split out."""
    rules = read_rules()
    rule_dongs: dict[str, list[str]] = {}
    for rule in rules:
        if rule.dong != "*":
            rule_dongs.setdefault(rule.sigungu_code, []).append(rule.dong)
    seen, out = set(), []
    for center in read_health_centers():
        names = [center.sigungu]
        if "·" in center.sigungu:
            city, _, gus = center.sigungu.rpartition(" ")
            names = [f"{city} {gu}" for gu in gus.split("·")]
        for name in names:
            if (center.sido_code, name) in seen:
                continue
            seen.add((center.sido_code, name))
            dongs = rule_dongs.get(center.sigungu_code, []) + DONGS
            if center.sido_code == "36":
                name = ""
            out.append((center.sido_code, center.sido, name, dongs))
    return out


def hira_sigungu_name(sigungu: str, sido: str) -> str:
    """How HIRA writes a 시군구: '수원장안구' for '수원시 장안구', '세종시' for 세종."""
    if not sigungu:
        return "세종시"
    city, _, gu = sigungu.rpartition(" ")
    return f"{city.removesuffix('시')}{gu}" if city else sigungu


def generate(rows: int, *, seed: int = 1, kind: str = "hospitals"):
    """Yield the header, then `rows` data lines."""
    rng = random.Random(seed)
    kinds = PHARMACY_KINDS if kind == "pharmacies" else HOSPITAL_KINDS
    weights = [k[2] for k in kinds]
    all_places = places()
    yield HEADER
    for i in range(rows):
        code, code_name, _w, endings = rng.choices(kinds, weights=weights)[0]
        sido_code, sido, sigungu, dongs = rng.choice(all_places)
        dong = rng.choice(dongs[:12] if rng.random() < 0.3 else dongs)
        town = (sigungu.split(" ")[0] if sigungu else "세종").removesuffix("시").removesuffix(
            "군").removesuffix("구")
        stem = rng.choice(WORDS)
        if rng.random() < 0.35:
            stem = (town if rng.random() < 0.6 else dong.removesuffix("동")) + stem
        if code in ("72", "73"):
            name = f"{(sigungu or '세종').split(' ')[0]}{dong.removesuffix('동')}{endings[0]}"
        else:
            name = stem + rng.choice(endings)
        if rng.random() < 0.03:
            name = f"{stem} {rng.choice(endings)}"  # the lists keep spaces some names have
        digest = hashlib.sha512(f"{seed}:{kind}:{i}".encode()).digest()
        number = base64.b64encode(digest).decode()[:80]
        low, high = POSTCODE_PREFIX[sido_code]
        postcode = f"{rng.randint(low, high):02d}{rng.randint(0, 999):03d}"
        road = f"{rng.choice(ROADS)} {rng.randint(1, 400)}"
        floor = f", {rng.randint(1, 9)}층" if rng.random() < 0.6 else ""
        address = " ".join(p for p in (sido, sigungu, road) if p) + f"{floor} ({dong})"
        area = AREA_CODES[sido_code]
        phone = f"{area}-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
        opened = f"{rng.randint(1975, 2026)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        short_sido = SIDO_ALIASES[sido_code][0]
        yield [number, name, code, code_name, f"{sido_code}0000", short_sido,
               f"{sido_code}{i % 9000 + 1000:04d}", hira_sigungu_name(sigungu, sido), dong,
               postcode, address, phone, opened]


def write(path: Path, rows: int, *, seed: int = 1, kind: str = "hospitals") -> Path:
    lines = generate(rows, seed=seed, kind=kind)
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("hospBasisList")
        for line in lines:
            sheet.append(line)
        workbook.save(path)
    else:
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerows(lines)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kind", choices=["hospitals", "pharmacies"], default="hospitals")
    args = parser.parse_args()
    write(args.out, args.rows, seed=args.seed, kind=args.kind)
    print(f"wrote {args.rows} rows to {args.out}")


if __name__ == "__main__":
    main()
