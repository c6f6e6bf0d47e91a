"""Template context for the portal layout: which menus and top links the user sees."""

from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from permissions.menus import FOLDERS, MenuItem


def _nav(request) -> dict:
    user = request.user
    nav = {"folders": [], "staff_links": [], "show_permissions_link": False}
    if not user.is_authenticated:
        return nav
    from permissions.selectors import approved_areas

    areas = approved_areas(user)
    nav["folders"] = [FOLDERS[a](user) for a in sorted(areas) if a in FOLDERS]
    # The seed: with no approved permission (pending, or every one revoked) the '권한 부가정보'
    # icon is gone and the main screen lists the requestable permissions itself.
    nav["show_permissions_link"] = bool(areas)
    if hasattr(user, "officer"):
        nav["staff_links"].append(MenuItem(label=_("권한 승인 관리"), url=reverse("approvals")))
    if user.is_helpdesk:
        nav["staff_links"].append(MenuItem(label=_("헬프데스크"), url=reverse("helpdesk")))
    return nav


def menus(request) -> dict:
    return {"nav": SimpleLazyObject(lambda: _nav(request))}
