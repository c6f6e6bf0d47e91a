"""의료기관부가정보관리: the medical institution's supplementary info form."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from institutions.forms import (
    EMAIL_DOMAINS,
    MAX_NAME_LENGTH,
    MAX_NAMES,
    OTHER_SYSTEM_NAME,
    SupplementaryInfoForm,
)
from institutions.picker import body_option_rows, body_options
from institutions.selectors import institution_of, supplementary_info_of
from institutions.services import InstitutionError, supplementary_info_save
from kdcis.ratelimit import client_ip
from permissions.decorators import area_required
from permissions.views import _record_use

TEMPLATE = "institutions/supplementary_form.html"


@require_http_methods(["GET", "POST"])
@area_required("vaccination")
def institution_info(request: HttpRequest) -> HttpResponse:
    """Shows and saves the record of the user's own institution (POST → redirect → GET).

    Bad input comes back with status 400, each message next to its field and everything
    typed kept. Users of other kinds of institution get an explanation (403).
    """
    _record_use(request, "vaccination")
    institution = institution_of(request.user)
    if institution is None or not institution.type.is_medical:
        return render(request, TEMPLATE, {"not_medical": True, "institution": institution},
                      status=403)
    current = supplementary_info_of(institution)
    if request.method != "POST":
        return _form_page(request, SupplementaryInfoForm(institution=institution,
                                                         current=current), current)
    form = SupplementaryInfoForm(request.POST, institution=institution, current=current)
    if form.is_valid():
        try:
            supplementary_info_save(institution=institution, data=form.data_for_service(),
                                    actor=request.user, ip=client_ip(request))
        except InstitutionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("저장되었습니다."))
            return redirect("vaccination_institution_info")
    return _form_page(request, form, current, status=400)


def _form_page(request: HttpRequest, form: SupplementaryInfoForm, current, *,
               status: int = 200) -> HttpResponse:
    return render(request, TEMPLATE, {
        "form": form, "institution": form.institution, "current": current,
        "jurisdiction_options": body_options(
            body_option_rows(form.fields["jurisdiction"].queryset), form.jurisdiction_selected),
        "other_system_name": OTHER_SYSTEM_NAME, "email_domains": EMAIL_DOMAINS,
        "max_names": MAX_NAMES, "max_name_length": MAX_NAME_LENGTH,
    }, status=status)
