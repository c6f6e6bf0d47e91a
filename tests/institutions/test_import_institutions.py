"""manage.py import_institutions on the shipped sample of HIRA's layout
(tests/institutions/data/hira_sample.csv): every mapping rule, refused rows, idempotence,
closing and reopening, the dry run, XLSX and a renamed column."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from institutions.models import Institution
from kdcis.models import AuditEvent

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parent / "data" / "hira_sample.csv"
BASE = "JDQ4MTYyMiM1MSMkMSMkMCMkODkkMzgxMzUxIzExIyQxIyQzIyQ5OSQyNjE4MzIjNjEjJDEjJDgj"[:75]


def number(i: int) -> str:
    return f"{BASE}{i:05d}"


def run(path: Path = SAMPLE, *args: str) -> str:
    out = io.StringIO()
    call_command("import_institutions", str(path), *args, stdout=out)
    return out.getvalue()


def inst(i: int) -> Institution:
    return Institution.objects.select_related("type", "category", "jurisdiction").get(
        number=number(i))


def write_without(tmp_path: Path, *lines_to_drop: int) -> Path:
    """The sample without some data lines (1-based, as numbered in the file)."""
    rows = list(csv.reader(SAMPLE.open(encoding="utf-8")))
    kept = [rows[0]] + [r for i, r in enumerate(rows[1:], start=1) if i not in lines_to_drop]
    path = tmp_path / "smaller.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(kept)
    return path


def test_it_maps_every_row_to_a_type_a_region_and_the_health_center(reference_data):
    out = run()
    assert "added: 13, changed: 0, closed: 0, refused: 4" in out
    clinic = inst(1)
    assert (clinic.type.code, clinic.category.code) == ("clinic", "31")
    assert (clinic.region_id, clinic.sigungu_code, clinic.dong) == ("11", "11680", "역삼동")
    assert clinic.jurisdiction.name == "강남구보건소"
    assert (clinic.postcode, clinic.phone) == ("06236", "02-555-0101")
    assert clinic.opened_on == dt.date(2024, 1, 15)
    assert clinic.name_key == "강남연세내과의원"
    assert clinic.source == "hira_hospitals" and clinic.status == "open"
    assert inst(2).type.code == "pharmacy" and inst(2).opened_on == dt.date(2019, 3, 4)
    assert inst(3).type.code == "health_center"
    # HIRA writes '수원장안구' for 수원시 장안구; its own codes (310601) are not 법정동 codes.
    assert inst(3).sigungu_code == "41111"
    assert inst(3).jurisdiction.name == "수원시 장안구보건소"


def test_a_city_with_several_centers_is_split_by_its_jurisdiction_rules(reference_data):
    run()
    assert inst(4).jurisdiction.name == "평택시 송탄보건소"  # 송탄동
    assert inst(5).jurisdiction.name == "평택시 평택보건소"  # 비전동: the default
    assert inst(6).sigungu_code == "48127"
    assert inst(6).jurisdiction.name == "창원시마산보건소"
    assert inst(7).jurisdiction.name == "제주시 서부보건소"  # 애월읍
    # 화성시 효행구 has no center of its own: the documented neighbour serves it.
    assert inst(12).sigungu_code == "41593"
    assert inst(12).jurisdiction.name == "화성시 병점구보건소"


def test_the_2026_regions_codes_and_postcodes_are_applied(reference_data):
    run()
    assert (inst(8).region_id, inst(8).sigungu_code) == ("12", "12210")  # 광주 동구
    assert (inst(9).region_id, inst(9).sigungu_code) == ("12", "12110")  # 전남 목포시
    assert inst(10).sigungu_code == "36110"  # 세종
    assert inst(10).jurisdiction.name == "세종시보건소"
    # A file with 법정동 codes decides by the code, the name may be blank.
    assert inst(11).sigungu_code == "11110"
    assert inst(11).jurisdiction.name == "종로구보건소"
    # A six-digit postcode of before 2015 is not kept; a year alone is no date.
    assert inst(13).postcode == "" and inst(13).opened_on is None


def test_refused_rows_are_listed_with_their_reason(reference_data):
    out = run()
    assert "refuse line 15" in out and "알 수 없는 시군구코드입니다: 119999 서울 없는구" in out
    assert "refuse line 16" in out and "알 수 없는 종별코드입니다: 99 기타" in out
    assert "refuse line 17" in out and "같은 요양기관기호가 파일에 두 번 있습니다." in out
    assert "refuse line 18 -: 요양기관기호가 비어 있습니다." in out
    assert not Institution.objects.filter(number__in=[number(14), number(15)]).exists()
    assert inst(1).name == "강남 연세 내과의원"  # the duplicate changed nothing


def test_a_second_import_of_the_same_file_changes_nothing(reference_data):
    run()
    before = list(Institution.objects.order_by("number").values())
    out = run()
    assert "added: 0, changed: 0, closed: 0, refused: 4, unchanged: 13" in out
    assert list(Institution.objects.order_by("number").values()) == before


def test_an_institution_missing_from_the_list_is_closed_never_deleted(reference_data,
                                                                       tmp_path):
    run()
    demo = Institution.objects.filter(source="").count()
    out = run(write_without(tmp_path, 5))
    assert "closed: 1" in out and f"close  {number(5)}" in out
    closed = inst(5)
    assert closed.status == "closed" and closed.closed_at is not None
    # Institutions not from this list (the demo set, a 기관등록 신청) stay open.
    assert Institution.objects.filter(source="", status="open").count() == demo
    # Back in the list: open again.
    out = run()
    assert "changed: 1" in out
    assert inst(5).status == "open" and inst(5).closed_at is None


def test_the_dry_run_prints_what_would_change_and_writes_nothing(reference_data, tmp_path):
    run()
    events = AuditEvent.objects.count()
    changed = tmp_path / "changed.csv"
    rows = list(csv.reader(SAMPLE.open(encoding="utf-8")))
    rows[1][1] = "강남연세내과의원 본점"
    with changed.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows[:3])
    out = run(changed, "--dry-run")
    assert out.startswith(f"  change {number(1)}: name\n")
    assert f"close  {number(3)}" in out
    assert "Dry run: 2 rows of the hospitals list; would be added: 0, changed: 1, closed: 11" \
        in out
    assert inst(1).name == "강남 연세 내과의원" and inst(3).status == "open"
    assert AuditEvent.objects.count() == events


def test_an_import_leaves_one_audit_row_with_its_counts(reference_data):
    run()
    event = AuditEvent.objects.get(action="institution.imported")
    assert event.new["added"] == 13 and event.new["refused"] == 4
    assert event.new["file"] == "hira_sample.csv"


def test_an_xlsx_pharmacy_list_is_read_and_recognised(reference_data, tmp_path):
    from openpyxl import Workbook

    rows = list(csv.reader(SAMPLE.open(encoding="utf-8")))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(rows[0])
    for row in (rows[2], rows[9]):  # the two pharmacies
        row = list(row)
        row[2] = 81  # a spreadsheet stores the code as a number
        row[12] = dt.datetime(2019, 3, 4)
        sheet.append(row)
    path = tmp_path / "pharmacies.xlsx"
    workbook.save(path)
    out = run(path)
    assert "2 rows of the pharmacies list; were added: 2" in out
    assert inst(2).source == "hira_pharmacies" and inst(2).opened_on == dt.date(2019, 3, 4)
    assert inst(9).type.code == "pharmacy"


def test_a_renamed_column_is_read_through_the_mapping(reference_data, tmp_path):
    rows = list(csv.reader(SAMPLE.open(encoding="utf-8")))
    rows[0][0] = "요양기관번호"
    path = tmp_path / "renamed.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows[:2])
    with pytest.raises(CommandError, match="missing column"):
        run(path)
    run(path, "--column", "number=요양기관번호")
    assert inst(1).name == "강남 연세 내과의원"


def test_a_cp949_file_of_older_releases_is_read(reference_data, tmp_path):
    path = tmp_path / "old.csv"
    path.write_bytes(SAMPLE.read_text(encoding="utf-8").encode("cp949"))
    assert "added: 13" in run(path)


def test_a_terminal_gets_a_progress_bar_and_a_pipe_does_not(reference_data):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    call_command("import_institutions", str(SAMPLE), "--dry-run", stdout=tty)
    assert "\r[" in tty.getvalue() and "17/17" in tty.getvalue()
    assert "\r[" not in run(SAMPLE, "--dry-run")


# --------------------------------------------------------------- helpdesk corrections


def _with_row(tmp_path: Path, line: int, **fields) -> Path:
    """The sample with some columns of one data line (1-based) changed."""
    rows = list(csv.reader(SAMPLE.open(encoding="utf-8")))
    header = rows[0]
    for column, value in fields.items():
        rows[line][header.index(column)] = value
    path = tmp_path / f"changed{line}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_a_reimport_keeps_the_helpdesks_correction_and_reports_the_disagreement(
        reference_data, personas, tmp_path):
    from institutions.services import institution_correct

    run()
    institution_correct(institution=inst(1), name="강남연세이비인후과의원",
                        address="서울특별시 강남구 테헤란로 130, 2층 (역삼동)",
                        reason="개명 및 이전(사업자등록증 확인)", actor=personas.hana)
    out = run()
    clinic = inst(1)
    assert clinic.name == "강남연세이비인후과의원"
    assert clinic.address == "서울특별시 강남구 테헤란로 130, 2층 (역삼동)"
    assert f"keep   {number(1)}: name corrected by the helpdesk to '강남연세이비인후과의원', " \
           f"the list says '강남 연세 내과의원'" in out
    assert "changed: 0" in out and "helpdesk corrections kept: 2" in out
    assert "changed since" not in out
    # The search finds the corrected name, not the list's.
    from institutions.selectors import search_institutions

    assert [i.number for i in search_institutions(query="연세이비인후과")] == [number(1)]
    event = AuditEvent.objects.filter(action="institution.imported").latest("seq")
    assert event.new["corrections_kept"] == 2
    assert event.new["corrections_kept_numbers"] == [number(1)]

    # The list changes its value after the correction: still kept, and flagged for review.
    out = run(_with_row(tmp_path, 1, 요양기관명="강남연세내과의원 본점"))
    assert inst(1).name == "강남연세이비인후과의원"
    assert f"keep   {number(1)}: name" in out and "changed since the correction" in out


def test_a_correction_the_list_agrees_with_is_released_to_the_list(reference_data, personas,
                                                                     tmp_path):
    from institutions.services import institution_correct

    run()
    institution_correct(institution=inst(1), name="강남연세이비인후과의원", reason="개명",
                        actor=personas.hana)
    out = run(_with_row(tmp_path, 1, 요양기관명="강남연세이비인후과의원"))
    assert f"agree  {number(1)}: name" in out and "now agreed by the list: 1" in out
    assert inst(1).corrections == {}
    # From then on the list rules the name again.
    run(_with_row(tmp_path, 1, 요양기관명="강남연세이비인후과의원 역삼점"))
    assert inst(1).name == "강남연세이비인후과의원 역삼점"


def test_a_correction_only_changes_what_the_helpdesk_corrected(reference_data, personas,
                                                               tmp_path):
    from institutions.services import institution_correct

    run()
    institution_correct(institution=inst(1), name="강남연세이비인후과의원", reason="개명",
                        actor=personas.hana)
    out = run(_with_row(tmp_path, 1, 전화번호="02-555-9999"))
    clinic = inst(1)
    assert clinic.name == "강남연세이비인후과의원" and clinic.phone == "02-555-9999"
    assert f"change {number(1)}: phone" in out and "helpdesk corrections kept: 1" in out


def test_corrections_made_before_the_marks_existed_are_marked_from_the_audit_trail(
        reference_data, personas):
    import importlib

    from django.apps import apps

    from institutions.services import institution_correct

    migration = importlib.import_module("institutions.migrations.0010_institution_corrections")
    run()
    institution_correct(institution=inst(1), name="강남연세이비인후과의원", reason="개명",
                        actor=personas.hana)
    institution_correct(institution=inst(1), name="강남연세이비인후과의원2", reason="재개명",
                        actor=personas.hana)
    institution_correct(institution=inst(4), address="경기도 평택시 송탄로 12", reason="이전",
                        actor=personas.hana)
    Institution.objects.update(corrections={})  # as before migration 0010
    Institution.objects.filter(number=number(4)).update(address="경기도 평택시 송탄로 14")
    migration.mark_past_corrections(apps, None)
    # The value before the first correction is the list's; a field changed again since
    # (number 4's address, by hand) is no longer the helpdesk's correction.
    assert inst(1).corrections == {"name": "강남 연세 내과의원"}
    assert inst(4).corrections == {}
    assert "helpdesk corrections kept: 1" in run() and inst(1).name == "강남연세이비인후과의원2"
