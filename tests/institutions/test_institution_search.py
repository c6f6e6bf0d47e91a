"""The signup's institution search: ranking, spaces and kind words, filters, closed
institutions. Runs on SQLite (plain scan) and on PostgreSQL (trigram index)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from institutions.models import Category, Institution, InstitutionType, Region
from institutions.search import name_key, parse_query
from institutions.selectors import search_institutions

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry(reference_data):
    clinic = InstitutionType.objects.get(code="clinic")
    pharmacy = InstitutionType.objects.get(code="pharmacy")
    category = Category.objects.get(code="31")
    seoul, busan = Region.objects.get(code="11"), Region.objects.get(code="26")

    def add(number, name, *, type=clinic, region=seoul, closed=False):
        return Institution.objects.create(
            number=number, name=name, type=type, category=category, region=region,
            status="closed" if closed else "open",
            closed_at=timezone.now() if closed else None)

    return {
        "exact": add("77001234", "가나다의원"),
        "prefix": add("90000001", "연세가족의원"),
        "prefix_spaced": add("90000002", "연세 내과의원"),
        "contains": add("90000003", "신촌연세의원"),
        "number_in_name": add("90000004", "77001234번지의원"),
        "pharmacy": add("90000005", "연세온누리약국", type=pharmacy),
        "busan": add("90000006", "부산연세의원", region=busan),
        "closed": add("90000007", "연세폐업의원", closed=True),
        "tricky": add("90000008", "연섹의원"),  # the letters of '연세' across syllables
    }


def names(query, **filters) -> list[str]:
    return [i.name for i in search_institutions(query=query, **filters)]


def test_the_number_comes_first_then_name_prefixes_then_names_containing_it(registry):
    assert names("77001234")[:2] == ["가나다의원", "77001234번지의원"]
    found = names("연세")
    assert found[:3] == ["연세 내과의원", "연세가족의원", "연세온누리약국"]
    assert set(found[3:]) == {"부산연세의원", "신촌연세의원", "종로연세의원"}  # + a demo one


def test_spaces_and_kind_words_do_not_hide_a_name(registry):
    assert names("연세내과") == ["연세 내과의원"]
    assert names("신촌 연세") == ["신촌연세의원"]
    # '연세의원' finds every 연세 clinic; the one named exactly so would rank first.
    assert "연세가족의원" in names("연세의원") and "신촌연세의원" in names("연세의원")
    assert names("신촌연세의원") == ["신촌연세의원"]


def test_filters_by_type_and_region(registry):
    pharmacy = InstitutionType.objects.get(code="pharmacy")
    assert names("연세", type_id=pharmacy.pk) == ["연세온누리약국"]
    assert names("연세", region="26") == ["부산연세의원"]


def test_closed_institutions_and_letter_coincidences_are_not_offered(registry):
    assert "연세폐업의원" not in names("연세")
    assert "연섹의원" not in names("연세")
    assert names("") == [] and names("   ") == []


def test_a_typed_wildcard_is_only_a_character(registry):
    assert names("%") == [] and names("연%") == []


def test_the_name_key_drops_spaces_and_punctuation():
    assert name_key("  연세 (365) 의원 ") == "연세365의원"
    parsed = parse_query("연세 치과의원")
    assert (parsed.key, parsed.stem) == ("연세치과의원", "연세")


@pytest.mark.postgres
def test_postgresql_answers_a_name_search_from_the_trigram_index(registry):
    from institutions.search import jamo

    clinic = InstitutionType.objects.get(code="clinic")
    filler = []
    for i in range(5000):
        name = f"{'가나다라마바사아자차카타파하'[i % 14]}{i}튼튼의원"
        filler.append(Institution(number=f"F{i:07d}", name=name, name_key=name_key(name),
                                  name_jamo=jamo(name_key(name)), type=clinic,
                                  region_id="11"))
    Institution.objects.bulk_create(filler)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE institutions_institution")
        # 5,000 rows still fit a scan; at 100,000 (benchmarks/) the planner picks the index
        # by itself. Here it must show that it can.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = search_institutions(query="연세가족").query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "institution_name_jamo_trgm" in plan, plan
    assert names("연세가족") == ["연세가족의원"]
