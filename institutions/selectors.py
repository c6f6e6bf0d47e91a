"""Reads of institutions and approving bodies."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Collate
from django.utils.functional import cached_property

from institutions.models import Institution, SupplementaryInfo
from institutions.search import jamo, parse_query


def search_institutions(*, query: str, type_id: int | None = None,
                        region: str | None = None) -> InstitutionSearch:
    """Open institutions matching `query` by number or by name, best first.

    Ranked in tiers: the exact institution number; names starting with the query; names
    starting with it without a trailing kind word ('연세의원' → '연세'); numbers starting with
    it; any other name containing it (names compared without spaces, institutions.search).
    A one-syllable query matches name prefixes only. Closed (폐업) institutions are never
    offered.

    Each tier is its own query, ordered by the compared name (`name_key`). On PostgreSQL
    partial indexes of open institutions in that order (one led by the region, both holding
    the type and the letter form) serve a tier from the index alone, so a page of a common
    fragment ('치과', 25,000 names) stops after a few dozen index entries instead of fetching
    and sorting every match; a rare fragment is found through a trigram index, of syllables
    for three or more, of letters for two (migrations 0007 and 0009). SQLite scans.
    """
    parsed = parse_query(query)
    qs = Institution.objects.filter(status=Institution.Status.OPEN)
    if type_id:
        qs = qs.filter(type_id=type_id)
    if region:
        qs = qs.filter(region_id=region)
    if not parsed.key:
        return InstitutionSearch([])
    if parsed.number and len(parsed.number) >= 8 and not parsed.stem.isdigit() and qs.filter(
            number=parsed.number).exists():
        # A whole institution number (HIRA's 80-character ones included) is an answer by
        # itself: one index lookup instead of a name search with a long pattern.
        return InstitutionSearch([qs.filter(number=parsed.number)], counts=[1])
    key, stem = parsed.key, parsed.stem
    # (condition, order) per tier; each tier leaves out what an earlier one showed.
    tiers: list[tuple[Q, str]] = []
    if parsed.number:
        tiers.append((Q(number=parsed.number), "number"))
    tiers.append((Q(name_key__startswith=key), "name"))
    if stem != key:
        tiers.append((Q(name_key__startswith=stem), "name"))
    if parsed.number.isdigit():
        tiers.append((Q(number__startswith=parsed.number), "number"))
    if len(stem) >= 3:
        # Three syllables make a trigram of syllables: the index on name_key finds them.
        tiers.append((Q(name_key__contains=stem), "name"))
    elif len(stem) == 2 and len(jamo(stem)) >= 3:
        # Two syllables make no trigram of syllables but six letters: the index on the
        # letter form (institutions.search.jamo) finds them, and matches whole syllables.
        tiers.append((Q(name_jamo__contains=jamo(stem)), "name"))
    querysets, shown = [], Q()
    for condition, order in tiers:
        tier = qs.filter(condition)
        if shown:
            tier = tier.exclude(shown)
        querysets.append(tier.order_by(*_ORDER[order]()))
        shown |= condition
    return InstitutionSearch(querysets)


def _name_order():
    # PostgreSQL compares the key byte by byte ("C", the order of Hangul syllables in
    # Unicode: 가나다), as its indexes hold it, whatever the database's collation; SQLite's
    # default comparison (BINARY) already does.
    if connection.vendor == "postgresql":
        return (Collate("name_key", "C").asc(), "id")
    return ("name_key", "id")


_ORDER = {"name": _name_order, "number": lambda: ("number", "id")}


class InstitutionSearch:
    """The search's results: its tiers (querysets, best first, disjoint) read as one list.

    `count_upto(n)` counts at most n rows of each tier, in one query where the database
    can limit each part of a UNION (PostgreSQL), one per tier elsewhere; a slice reads only
    the tiers it reaches, each from its own offset. Counts are kept for this object only
    (one request), never beyond.
    """

    def __init__(self, tiers: list[QuerySet], counts: list[int] | None = None):
        self.tiers = tiers
        self._counts: list[int] = counts or []
        self._counted_upto = 1 << 62 if counts else 0

    def _tier_counts(self, upto: int) -> list[int]:
        if upto > self._counted_upto:
            parts = [tier.order_by().annotate(tier=Value(i)).values_list("tier", flat=True)
                     [:upto] for i, tier in enumerate(self.tiers)]
            if len(parts) > 1 and connection.features.supports_slicing_ordering_in_compound:
                found = list(parts[0].union(*parts[1:], all=True))
                counts = [found.count(i) for i in range(len(parts))]
            else:
                counts = [tier.order_by().values("pk")[:upto].count() for tier in self.tiers]
            self._counts, self._counted_upto = counts, upto
        return self._counts

    def count_upto(self, upto: int) -> int:
        return min(sum(self._tier_counts(upto)), upto)

    def __getitem__(self, item):
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("InstitutionSearch takes slices only")
        start, stop = item.start or 0, item.stop
        if stop is None:
            return list(self)[start:]
        rows, offset = [], 0
        for tier, n in zip(self.tiers, self._tier_counts(stop), strict=True):
            if stop <= offset:
                break
            if start < offset + n:
                # The page's ids first: that query reads the index alone (the columns it
                # filters on are in it), walking it in order until the page is full; only
                # then the page's ten rows are read.
                ids = tier.values("pk")[max(start - offset, 0): stop - offset]
                rows += Institution.objects.filter(pk__in=ids).select_related("type").order_by(
                    *tier.query.order_by)
            offset += n
        return rows

    def __iter__(self):
        for tier in self.tiers:
            yield from tier.select_related("type")

    def __len__(self) -> int:
        return sum(tier.count() for tier in self.tiers)


# ------------------------------------------------------------- 의료기관 부가정보


def supplementary_info_of(institution: Institution) -> SupplementaryInfo | None:
    """The institution's record with what the form shows, or None before the first save."""
    return (
        SupplementaryInfo.objects.select_related(
            "category", "jurisdiction", "jurisdiction__region", "information_system"
        )
        .filter(institution=institution)
        .first()
    )


def supplementary_complete(institution: Institution) -> bool:
    """True once the institution's supplementary info holds every required value."""
    return SupplementaryInfo.objects.filter(
        SupplementaryInfo.COMPLETE, institution=institution
    ).exists()


def needs_supplementary_info(user) -> bool:
    """A user of a medical institution whose supplementary info is missing or incomplete.

    One query (none for users without an institution): the institution's type and its
    record are checked together.
    """
    if not getattr(user, "is_authenticated", False) or not user.institution_id:
        return False
    complete = SupplementaryInfo.objects.filter(SupplementaryInfo.COMPLETE).values(
        "institution_id"
    )
    return (
        Institution.objects.filter(pk=user.institution_id, type__is_medical=True)
        .exclude(pk__in=complete)
        .exists()
    )


def institution_of(user) -> Institution | None:
    """The user's own institution with what the 부가정보 page shows (one query)."""
    if not getattr(user, "institution_id", None):
        return None
    return (
        Institution.objects.select_related("type", "region", "category", "jurisdiction")
        .filter(pk=user.institution_id)
        .first()
    )


# ------------------------------------------------------------- 기관등록 신청


def health_center_for(*, sigungu_code: str, dong: str = "", address: str = ""):
    """The health center with jurisdiction over an address (institutions.jurisdiction)."""
    from institutions.jurisdiction import directory
    from institutions.models import ApprovingBody

    name = directory().center_name(sigungu_code=sigungu_code, dong=dong, address=address)
    if not name:
        return None
    return ApprovingBody.objects.filter(kind=ApprovingBody.Kind.HEALTH_CENTER,
                                        region_id=sigungu_code[:2], name=name).first()


def institution_requests_for(officer, *, status: str = "requested"):
    """The officer's own health center's 기관등록 신청, oldest first while waiting."""
    from institutions.models import InstitutionRequest

    qs = InstitutionRequest.objects.filter(body=officer.body).select_related("type", "region")
    if status != "all":
        qs = qs.filter(status=status)
    return qs.order_by("submitted_at", "pk") if status == "requested" else qs


def institution_request_for_officer(officer, pk: int):
    from institutions.models import InstitutionRequest

    return (InstitutionRequest.objects.filter(pk=pk, body=officer.body)
            .select_related("type", "region", "body", "institution").first())


def institution_request_of_draft(draft_key: str, pk) -> object | None:
    """The request a signup draft made (None for another draft's)."""
    from institutions.models import InstitutionRequest

    if not draft_key or not pk:
        return None
    return (InstitutionRequest.objects.filter(pk=pk, draft_key=draft_key)
            .select_related("type", "body", "body__region", "institution").first())


#: The search counts this many matches beyond the start of the page shown (+1, to know that
#: there are more): a two-syllable query can match thousands, and counting them all costs
#: more than the page. Paging on moves the count on with it, so every result can be reached.
SEARCH_COUNT_CAP = 100


class SearchPaginator(Paginator):
    """Pages of search results (InstitutionSearch) whose count stops SEARCH_COUNT_CAP rows
    past the start of the page asked for; `capped` says so and `count_floor` is the figure
    the page shows ('100건 이상')."""

    reach = SEARCH_COUNT_CAP

    def validate_number(self, number):
        # Both get_page and page ask this first: the count reaches past the page asked for.
        try:
            start = (max(int(number), 1) - 1) * self.per_page
        except (TypeError, ValueError):
            start = 0
        if start + SEARCH_COUNT_CAP != self.reach:
            self.reach = start + SEARCH_COUNT_CAP
            self.__dict__.pop("count", None)
            self.__dict__.pop("num_pages", None)
        return super().validate_number(number)

    @cached_property
    def count(self) -> int:
        return self.object_list.count_upto(self.reach + 1)

    @property
    def capped(self) -> bool:
        return self.count > self.reach

    @property
    def count_floor(self) -> int:
        return self.reach

    @property
    def pages_known(self) -> int:
        """The pages the count vouches for ('10' of '1 / 10+' when capped)."""
        return -(-self.reach // self.per_page) if self.capped else self.num_pages
