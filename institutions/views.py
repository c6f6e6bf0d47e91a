"""담당자안내 and the institution-registration guide."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from institutions.models import ApprovingBody, Region


@require_GET
def contacts(request: HttpRequest) -> HttpResponse:
    """The approving bodies that matter to the user, and a lookup by region for everyone."""
    mine: list[ApprovingBody] = []
    user = request.user
    if user.is_authenticated:
        seen = set()
        if user.institution_id and user.institution.jurisdiction_id:
            mine.append(user.institution.jurisdiction)
            seen.add(user.institution.jurisdiction_id)
        for grant in user.grants.select_related("body", "body__region"):
            if grant.body_id not in seen:
                mine.append(grant.body)
                seen.add(grant.body_id)
    central = ApprovingBody.objects.filter(kind=ApprovingBody.Kind.CENTRAL)
    region_code = request.GET.get("region", "")
    region = Region.objects.filter(code=region_code).first()
    centers = (
        ApprovingBody.objects.filter(region=region, kind=ApprovingBody.Kind.HEALTH_CENTER)
        .select_related("region")
        if region else []
    )
    return render(request, "institutions/contacts.html", {
        "mine": mine, "central": central, "regions": Region.objects.all(), "region": region,
        "centers": centers,
    })


@require_GET
def institution_registration(request: HttpRequest) -> HttpResponse:
    """기관등록 절차 안내: the procedure, and the way into 기관등록 신청 from where the
    applicant stands (it is part of the signup: the request names the signup draft)."""
    from accounts.wizard import first_incomplete, get_draft

    draft = get_draft(request.session)
    step = first_incomplete(draft) if draft else "consent"
    return render(request, "institutions/registration_guide.html", {
        "can_request": step in ("profile", "permissions"), "signing_up": bool(draft),
    })
