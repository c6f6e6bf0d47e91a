"""Reads of institutions and approving bodies."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils.functional import cached_property

from institutions.models import Institution, SupplementaryInfo
from institutions.search import jamo, parse_query


def search_institutions(*, query: str, type_id: int | None = None,
                        region: str | None = None) -> QuerySet[Institution]:
    """Open institutions matching `query` by number or by name, best first.

    Ranked: the exact institution number, then names starting with the query, then names
    starting with it without a trailing kind word ('연세의원' → '연세'), then any name that
    contains it (names compared without spaces, institutions.search). On PostgreSQL the
    "contains" runs on the trigram index of `name_jamo` (migration 0007), the prefixes on its
    pattern index; SQLite scans. A one-syllable query matches name prefixes only. Closed (폐업) institutions are never offered.
    """
    parsed = parse_query(query)
    qs = Institution.objects.filter(status=Institution.Status.OPEN)
    if type_id:
        qs = qs.filter(type_id=type_id)
    if region:
        qs = qs.filter(region_id=region)
    if not parsed.key:
        return qs.none()
    if parsed.number and len(parsed.number) >= 8 and not parsed.stem.isdigit() and qs.filter(
            number=parsed.number).exists():
        # A whole institution number (HIRA's 80-character ones included) is an answer by
        # itself: one index lookup instead of a name search with a long pattern.
        return qs.filter(number=parsed.number).annotate(rank=Value(0)).select_related("type")
    letters = jamo(parsed.stem)
    if len(letters) >= 3:  # a trigram index needs three letters
        match = Q(name_jamo__contains=letters, name_key__contains=parsed.stem)
    else:
        match = Q(name_key__startswith=parsed.stem)
    rank = [When(name_key__startswith=parsed.key, then=Value(1))]
    if parsed.stem != parsed.key:
        rank.append(When(name_key__startswith=parsed.stem, then=Value(2)))
    if parsed.number:
        match |= Q(number=parsed.number)
        rank.insert(0, When(number=parsed.number, then=Value(0)))
        if parsed.number.isdigit():
            match |= Q(number__startswith=parsed.number)
            rank.append(When(number__startswith=parsed.number, then=Value(2)))
    return (
        qs.filter(match)
        .annotate(rank=Case(*rank, default=Value(3), output_field=IntegerField()))
        # Only what a result row shows: joining more before the sort multiplies its cost
        # when the planner misjudges how many names match.
        .select_related("type")
        .order_by("rank", "name", "number")
    )


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


#: The search counts matches up to this many: a two-syllable query can match thousands,
#: and nobody pages past a hundred pages of ten.
SEARCH_COUNT_CAP = 1000


class SearchPaginator(Paginator):
    """Pages of search results whose count stops at SEARCH_COUNT_CAP (+1, to know that
    there are more); `capped` says so to the page."""

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: SEARCH_COUNT_CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > SEARCH_COUNT_CAP
