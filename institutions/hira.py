"""Reading HIRA's public 요양기관 lists (pure: no database).

The Health Insurance Review and Assessment Service publishes 병원정보서비스 (hospitals,
clinics, public health institutions) and 약국정보서비스 (pharmacies) as XLSX and CSV, one row
per institution. The public files identify an institution by 암호화요양기호 (an 80-character
encrypted 요양기관기호); files given to public bodies may carry the plain 8-digit 요양기관기호
instead. Their 시도코드/시군구코드 are HIRA's own (110000 for 서울, 110001 for 강남구), not
법정동 codes, so the names (시도코드명, 시군구코드명) decide the region unless a column holds a
법정동 code. Column names have changed over the years: `COLUMNS` lists every spelling we
accept per field, and `--column field=header` on the command overrides one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# field -> the headers that may hold it, first match wins.
COLUMNS: dict[str, tuple[str, ...]] = {
    "number": ("암호화요양기호", "요양기관기호", "요양기호", "ykiho"),
    "name": ("요양기관명", "기관명", "yadmNm"),
    "category_code": ("종별코드", "clCd"),
    "category_name": ("종별코드명", "종별명", "clCdNm"),
    "sido_code": ("시도코드", "sidoCd"),
    "sido_name": ("시도코드명", "시도명", "sidoCdNm"),
    "sigungu_code": ("시군구코드", "sgguCd"),
    "sigungu_name": ("시군구코드명", "시군구명", "sgguCdNm"),
    "dong": ("읍면동", "읍면동명", "emdongNm"),
    "postcode": ("우편번호", "postNo"),
    "address": ("주소", "addr"),
    "phone": ("전화번호", "telno"),
    "opened_on": ("개설일자", "estbDd"),
}
REQUIRED = ("number", "name", "category_code")

# 종별코드 -> our institution type. Everything HIRA lists that is not a pharmacy or a public
# health institution is a medical institution (병의원) that keeps supplementary info.
TYPE_BY_CATEGORY = {
    "01": "clinic", "11": "clinic", "21": "clinic", "28": "clinic", "29": "clinic",
    "31": "clinic", "41": "clinic", "51": "clinic", "61": "clinic", "92": "clinic",
    "93": "clinic", "94": "clinic",
    "71": "health_center", "72": "health_center", "73": "health_center", "75": "health_center",
    "81": "pharmacy",
}


class ColumnsMissing(ValueError):
    """The file lacks a column the import cannot do without."""


@dataclass(frozen=True)
class HiraRow:
    line: int
    number: str
    name: str
    category_code: str
    category_name: str
    sido_code: str
    sido_name: str
    sigungu_code: str
    sigungu_name: str
    dong: str
    postcode: str
    address: str
    phone: str
    opened_on: dt.date | None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _digits(value, width: int) -> str:
    """A code that a spreadsheet may have stored as a number: '1' back to '01'."""
    text = _text(value)
    if text.isdigit() and len(text) < width:
        text = text.zfill(width)
    return text


def parse_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = re.sub(r"[^0-9]", "", _text(value).split(" ")[0])
    if len(text) != 8:
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def postcode(value) -> str:
    """Five digits (the 2015 postcodes), else nothing: a 6-digit old code is not kept."""
    text = re.sub(r"[^0-9]", "", _digits(value, 5))
    return text if len(text) == 5 else ""


def header_map(header: list, overrides: dict[str, str] | None = None) -> dict[str, int]:
    """field -> column index. Raises ColumnsMissing when a required field has no column."""
    names = [_text(h).lstrip("\ufeff") for h in header]
    found: dict[str, int] = {}
    for field, candidates in COLUMNS.items():
        if overrides and field in overrides:
            candidates = (overrides[field],)
        for candidate in candidates:
            if candidate in names:
                found[field] = names.index(candidate)
                break
    missing = [f for f in REQUIRED if f not in found]
    if missing:
        wanted = ", ".join(
            (overrides or {}).get(f, COLUMNS[f][0]) for f in missing)
        raise ColumnsMissing(f"missing column(s): {wanted}")
    return found


def rows_from_table(table: Iterable[list], overrides: dict[str, str] | None = None
                    ) -> Iterator[HiraRow]:
    """HiraRows from a header line and data lines (line numbers as a spreadsheet counts)."""
    lines = iter(table)
    header = next(lines, None)
    if header is None:
        return
    columns = header_map(list(header), overrides)
    for line, values in enumerate(lines, start=2):
        values = list(values)
        if not any(_text(v) for v in values):
            continue

        def get(field: str, values=values):
            index = columns.get(field)
            return values[index] if index is not None and index < len(values) else None

        yield HiraRow(
            line=line, number=_text(get("number")), name=_text(get("name")),
            category_code=_digits(get("category_code"), 2),
            category_name=_text(get("category_name")),
            sido_code=_text(get("sido_code")), sido_name=_text(get("sido_name")),
            sigungu_code=_text(get("sigungu_code")), sigungu_name=_text(get("sigungu_name")),
            dong=_text(get("dong")), postcode=postcode(get("postcode")),
            address=_text(get("address")), phone=_text(get("phone"))[:20],
            opened_on=parse_date(get("opened_on")),
        )


def read_table(path: Path) -> Iterator[list]:
    """The lines of a CSV (UTF-8, or CP949 as older public files are) or an XLSX's first
    sheet."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            yield from workbook.worksheets[0].iter_rows(values_only=True)
        finally:
            workbook.close()
        return
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValueError("the CSV is neither UTF-8 nor CP949")
    yield from csv.reader(io.StringIO(text, newline=""))
