"""Reference data: regions, approving bodies, institution types, categories, permission types.

`load_reference_data` applies it idempotently: rows are keyed on their natural keys and only
changed fields are written, so running it twice changes nothing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
HEALTH_CENTERS_CSV = DATA_DIR / "health_centers.csv"

# The central department approves '교육관리 User(학습자)': its own number is shown on 담당자안내
# and beside its requests; the helpdesk (1644-1407) stays the general line for everything else.
CENTRAL_BODY = {"code": "KDCA-VPM", "name": "질병관리청 예방접종관리과", "phone": "043-719-8398"}

INSTITUTION_TYPES = [
    # code, name, is_medical, sort
    ("agency", "기관", False, 10),
    ("clinic", "병의원", True, 20),
    ("pharmacy", "약국", False, 30),
    ("health_center", "보건소", False, 40),
]

# 종별구분: the HIRA categories.
CATEGORIES = [
    ("01", "상급종합병원"), ("11", "종합병원"), ("21", "병원"), ("28", "요양병원"),
    ("29", "정신병원"), ("31", "의원"), ("41", "치과병원"), ("51", "치과의원"),
    ("61", "조산원"), ("71", "보건소"), ("72", "보건지소"), ("73", "보건진료소"),
    ("75", "보건의료원"), ("81", "약국"), ("92", "한방병원"), ("93", "한의원"),
    ("94", "한약방"),
]

PERMISSION_TYPES = [
    # code, name, approver, menu_area, menu_label, revocable, sort, description
    ("vaccination_user", "예방접종관리 User", "health_center", "vaccination", "예방접종관리", True,
     10, "예방접종 등록·관리 업무 (기관 주소지 관할 보건소 승인)"),
    ("education_learner", "교육관리 User(학습자)", "central", "education", "교육관리", False, 20,
     "국가예방접종지원사업 참여 교육 (질병관리청 예방접종관리과 승인)"),
]

MEDICAL_INFORMATION_SYSTEMS = [
    "의사랑", "하나로", "닥터스", "오케이차트", "이지스", "비트U차트", "메디칼소프트", "기타",
]


@dataclass(frozen=True)
class HealthCenterRow:
    sido: str
    sigungu: str
    name: str
    kind: str
    sido_code: str
    sigungu_code: str
    phone: str


def read_rows(path: Path, row_type):
    """Each row of a reference CSV file as `row_type`, its cells stripped."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [row_type(**{k: (v or "").strip() for k, v in row.items()})
                for row in csv.DictReader(handle)]


def read_health_centers(path: Path = HEALTH_CENTERS_CSV) -> list[HealthCenterRow]:
    return read_rows(path, HealthCenterRow)


def health_center_codes(rows: list[HealthCenterRow]) -> dict[tuple[str, str, str], str]:
    """A stable code per center: HC-<sigungu code>-<n>, n counting centers sharing the code
    in file order (some cities have several centers under one 시군구 code)."""
    seen: dict[str, int] = {}
    codes = {}
    for row in rows:
        seen[row.sigungu_code] = seen.get(row.sigungu_code, 0) + 1
        codes[(row.sido, row.sigungu, row.name)] = f"HC-{row.sigungu_code}-{seen[row.sigungu_code]}"
    return codes


# A demo set of institutions in several regions: (number, name, type, category, postcode,
# address, sigungu_code).
DEMO_INSTITUTIONS = [
    ("11110101", "종로연세의원", "clinic", "31", "03154", "서울특별시 종로구 종로 1", "11110"),
    ("11110102", "광화문소아청소년과의원", "clinic", "31", "03187", "서울특별시 종로구 세종대로 150", "11110"),
    ("11140103", "명동서울내과의원", "clinic", "31", "04536", "서울특별시 중구 명동길 20", "11140"),
    ("11680104", "강남제일병원", "clinic", "21", "06236", "서울특별시 강남구 테헤란로 120", "11680"),
    ("11680105", "역삼가정의학과의원", "clinic", "31", "06134", "서울특별시 강남구 역삼로 77", "11680"),
    ("11680901", "테헤란온누리약국", "pharmacy", "81", "06236", "서울특별시 강남구 테헤란로 118", "11680"),
    ("11440106", "마포튼튼의원", "clinic", "31", "04157", "서울특별시 마포구 마포대로 33", "11440"),
    ("11440902", "공덕행복약국", "pharmacy", "81", "04157", "서울특별시 마포구 마포대로 35", "11440"),
    ("26350107", "해운대백병원", "clinic", "11", "48108", "부산광역시 해운대구 해운대로 875", "26350"),
    ("26350108", "해운대소아과의원", "clinic", "31", "48094", "부산광역시 해운대구 중동 1392", "26350"),
    ("27720109", "군위연합의원", "clinic", "31", "39028", "대구광역시 군위군 군위읍 중앙길 10", "27720"),
    ("28125110", "제물포바른의원", "clinic", "31", "22314", "인천광역시 제물포구 참외전로 90", "28125"),
    ("41111111", "장안수원의원", "clinic", "31", "16292", "경기도 수원시 장안구 정조로 940", "41111"),
    ("41220112", "평택굿모닝병원", "clinic", "21", "17863", "경기도 평택시 평택로 89", "41220"),
    ("41220903", "평택새봄약국", "pharmacy", "81", "17863", "경기도 평택시 평택로 91", "41220"),
    ("51110113", "춘천성심내과의원", "clinic", "31", "24253", "강원특별자치도 춘천시 중앙로 50", "51110"),
    ("52111114", "전주완산소아청소년과의원", "clinic", "31", "54994", "전북특별자치도 전주시 완산구 팔달로 200", "52111"),
    ("12210115", "광주동구365의원", "clinic", "31", "61475", "전남광주통합특별시 동구 금남로 100", "12210"),
    ("12110116", "목포제일의원", "clinic", "31", "58721", "전남광주통합특별시 목포시 영산로 60", "12110"),
    ("50110117", "제주한라의원", "clinic", "31", "63122", "제주특별자치도 제주시 중앙로 150", "50110"),
    ("11110801", "종로구청 보건행정과", "agency", None, "03153", "서울특별시 종로구 삼봉로 43", "11110"),
]
