"""The portal's authentication backend.

Django's ModelBackend with one change: the user it loads for each request comes with what
every portal page shows or checks about that user, in the same query: the institution (the
header), the officer role with its body and region (the approvals pages and the staff menu)
and one flag per menu area the user holds an approved permission for (the '메뉴보기' tree,
the area checks). A signed-in page therefore starts with two queries, the session and this.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

BACKEND_PATH = "kdcis.auth.PortalBackend"


class PortalBackend(ModelBackend):
    def get_user(self, user_id):
        from permissions.selectors import with_approved_areas

        user_model = get_user_model()
        users = with_approved_areas(
            user_model._default_manager.select_related(
                "institution", "officer__body__region"
            )
        )
        try:
            user = users.get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
