"""The signup's institution search: ranking, spaces and kind words, filters, closed
institutions. Runs on SQLite (plain scan) and on PostgreSQL (trigram index)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from institutions.models import Category, Institution, InstitutionType, Region
from institutions.search import jamo, name_key, parse_query
from institutions.selectors import SearchPaginator, search_institutions

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
    # Within a tier, in the order of the names as compared (spaces left out).
    assert found[:3] == ["연세가족의원", "연세 내과의원", "연세온누리약국"]
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


def test_pages_run_across_the_tiers_without_losing_or_repeating_a_row(reference_data):
    clinic = InstitutionType.objects.get(code="clinic")
    made = [("77001234", "가나다의원")]  # the number tier
    made += [(f"P{i:04d}", f"하나{i:02d}의원") for i in range(13)]  # '하나' prefix tier
    made += [(f"C{i:04d}", f"{'가나다라마바사아자차카타파하'[i % 14]}하나{i:02d}의원")
             for i in range(14)]  # contains tier
    for number, name in made:
        Institution.objects.create(number=number, name=name, type=clinic, region_id="11")
    results = search_institutions(query="하나")
    expected = [name for _n, name in made[1:14]] + sorted(
        (name for _n, name in made[14:]), key=name_key)
    assert [i.name for i in results] == expected
    paginator = SearchPaginator(results, 10)
    pages = [[i.name for i in paginator.get_page(n).object_list] for n in (1, 2, 3)]
    assert pages[0] == expected[:10] and pages[1] == expected[10:20]
    assert pages[2] == expected[20:]
    assert paginator.count == 27 and not paginator.capped

    # A number query: the number first, then the names, each page from the right offset.
    Institution.objects.create(number="99990000", name="77001234하나의원", type=clinic,
                               region_id="11")
    by_number = search_institutions(query="77001234")
    assert [i.name for i in by_number[0:2]] == ["가나다의원", "77001234하나의원"]
    assert [i.name for i in by_number[1:5]] == ["77001234하나의원"]


def test_a_common_fragment_counts_a_hundred_past_the_page_and_moves_on_with_it(
        reference_data, monkeypatch):
    from institutions import selectors

    monkeypatch.setattr(selectors, "SEARCH_COUNT_CAP", 20)
    clinic = InstitutionType.objects.get(code="clinic")
    Institution.objects.bulk_create(
        Institution(number=f"N{i:04d}", name=name, name_key=name_key(name),
                    name_jamo=jamo(name_key(name)), type=clinic, region_id="11")
        for i, name in enumerate(f"뭉게{i:03d}의원" for i in range(45)))
    paginator = selectors.SearchPaginator(search_institutions(query="뭉게"), 10)
    first = paginator.get_page(1)
    assert paginator.capped and paginator.count_floor == 20 and paginator.pages_known == 2
    assert [i.name for i in first.object_list][0] == "뭉게000의원" and first.has_next()
    # Further on, the count reaches further: the last page is reachable and exact.
    fifth = paginator.get_page(5)
    assert [i.name for i in fifth.object_list] == [f"뭉게{i:03d}의원" for i in range(40, 45)]
    assert not paginator.capped and paginator.count == 45 and not fifth.has_next()


@pytest.mark.postgres
def test_postgresql_serves_each_tier_from_its_index(registry):
    clinic = InstitutionType.objects.get(code="clinic")
    filler = []
    for i in range(5000):
        name = f"{'가나다라마바사아자차카타파하'[i % 14]}{i}튼튼의원"
        filler.append(Institution(number=f"F{i:07d}", name=name, name_key=name_key(name),
                                  name_jamo=jamo(name_key(name)), type=clinic,
                                  region_id="11"))
    Institution.objects.bulk_create(filler)

    def plan(qs) -> str:
        sql, params = qs.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE institutions_institution")
        # 5,000 rows still fit a scan; at 100,000 (benchmarks/) the planner picks the
        # indexes by itself. Here they must show that they can.
        cursor.execute("SET LOCAL enable_seqscan = off")
        prefix, contains = search_institutions(query="튼튼").tiers
        # A page of a common fragment is walked from the index in order: no sort.
        walked = plan(contains.values("pk")[:10])
        assert "Index Only Scan using institution_open_name_idx" in walked, walked
        assert "Sort" not in walked, walked
        assert "institution_open_region_name_idx" in plan(
            search_institutions(query="튼튼", region="11").tiers[1].values("pk")[:10])
        assert "institution_open_name_idx" in plan(prefix.values("pk")[:10])
        # A rare fragment of three syllables is looked up in the trigrams of syllables.
        # (Two syllables use the letters' trigram index at 100,000 rows, benchmarks/; among
        # these 5,000 the planner rightly prefers the partial index.)
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_indexonlyscan = off")
        assert "institution_name_key_trgm" in plan(
            search_institutions(query="연세가족").tiers[-1].order_by().values("pk"))
    assert names("연세가족") == ["연세가족의원"]
