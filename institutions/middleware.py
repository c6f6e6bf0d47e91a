"""Sends users of a medical institution to the 의료기관 부가정보 form until it is complete."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from institutions.selectors import needs_supplementary_info
from institutions.signals import LOGIN_CHECK_SESSION_KEY
from permissions.selectors import approved_areas

AREA = "vaccination"
AREA_PREFIX = "/vaccination/"
FORM_URL_NAME = "vaccination_institution_info"
# The institution id whose record was found complete (or not needed) in this session.
DONE_SESSION_KEY = "supplementary:done_for"
NOTICE = _("의료기관 부가정보를 입력하셔야 합니다. 입력을 마칠 때까지 예방접종관리의 다른 "
           "메뉴는 사용할 수 없습니다.")


class SupplementaryInfoMiddleware:
    """For an authenticated user of a medical institution whose supplementary info is missing
    or incomplete and who holds the vaccination permission:

    - every request under /vaccination/ other than the form redirects to the form;
    - the first page after login (flagged by `institutions.signals`) shows a notice and
      lands on the form.

    Cost: nothing but the session lookup Django does anyway for requests outside
    /vaccination/ (a database query only on the first page after a login); inside it at
    most one query, none once the session remembers the record is complete.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self._redirect(request) or self.get_response(request)

    def _redirect(self, request):
        in_area = request.path_info.startswith(AREA_PREFIX)
        if not in_area and request.method != "GET":
            return None
        session = getattr(request, "session", None)
        if session is None:
            return None
        after_login = request.method == "GET" and bool(session.get(LOGIN_CHECK_SESSION_KEY))
        if not (in_area or after_login):
            return None
        user = request.user
        if not user.is_authenticated:
            return None
        if after_login:
            session.pop(LOGIN_CHECK_SESSION_KEY, None)
        form_url = reverse(FORM_URL_NAME)
        if request.path_info == form_url or not self._must_complete(session, user):
            return None
        messages.warning(request, NOTICE)
        return redirect(form_url)

    @staticmethod
    def _must_complete(session, user) -> bool:
        if not user.institution_id or session.get(DONE_SESSION_KEY) == user.institution_id:
            return False
        if not needs_supplementary_info(user):
            # Complete (or not a medical institution): stays so, no need to ask again.
            session[DONE_SESSION_KEY] = user.institution_id
            return False
        # Cached on the user for the request; the menus need it anyway.
        return AREA in approved_areas(user)
