"""Access decorators: who may open which area."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from permissions.selectors import approved_areas


def area_required(area: str):
    """Only users holding an approved permission for `area`; others get an explanation."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if area not in approved_areas(request.user):
                from permissions.models import PermissionType

                ptypes = PermissionType.objects.filter(menu_area=area)
                return render(
                    request, "permissions/area_refused.html",
                    {"permission_types": ptypes, "area": area}, status=403,
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def officer_required(view):
    """Officers of an approving body only; everyone else gets a 403 page.

    The officer row, its body and region come with the request's user (kdcis.auth), so this
    check costs no query of its own.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        from django.core.exceptions import ObjectDoesNotExist

        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            request.user.officer  # noqa: B018 (the lookup is the check)
        except ObjectDoesNotExist:
            return render(request, "kdcis/403.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped
