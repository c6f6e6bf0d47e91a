"""One structured log line per request, and idle timeouts for staff sessions."""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.utils.translation import gettext as _

logger = logging.getLogger("kdcis.requests")


class RequestLogMiddleware:
    """method, path (no query string: it may hold personal data), status, duration, user.

    Never a code, password or phone number: bodies and query strings are not logged, and
    the user is the pseudonymous reference.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        ref = str(user.ref) if user is not None and user.is_authenticated else "-"
        logger.info(json.dumps({
            "method": request.method, "path": request.path, "status": response.status_code,
            "ms": round((time.perf_counter() - start) * 1000, 1), "user": ref,
        }, ensure_ascii=False))
        return response


class StaffIdleTimeoutMiddleware:
    """Officers, helpdesk agents and admins are signed out after SESSION_STAFF_IDLE_SECONDS
    without a request (30 minutes by default)."""

    KEY = "last_seen"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and _is_staff(user):
            now = int(time.time())
            last = request.session.get(self.KEY)
            if last is not None and now - last > settings.SESSION_STAFF_IDLE_SECONDS:
                logout(request)
                from django.contrib import messages

                messages.info(request, _("장시간 사용하지 않아 보안을 위해 로그아웃되었습니다."))
                return redirect(settings.LOGIN_URL)
            # Write at most once a minute, so browsing costs no extra session writes.
            if last is None or now - last >= 60:
                request.session[self.KEY] = now
        return self.get_response(request)


def _is_staff(user) -> bool:
    """Decided on every request from the request's user, so a role given (or taken) during a
    session applies at once. The officer role comes with the user the backend loads
    (kdcis/auth.py), so asking costs no query."""
    return bool(user.is_staff or user.is_superuser or getattr(user, "is_helpdesk", False)
                or getattr(user, "officer", None) is not None)
