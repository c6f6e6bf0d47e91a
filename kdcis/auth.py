"""The portal's authentication backend: Django's ModelBackend, loading the request's user
with what every page's layout shows or checks about them (the institution in the header, the
officer role with its approving body and region for the approvals pages and the staff menu)
in the same query."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from kdcis.ids import parse_id

BACKEND_PATH = "kdcis.auth.PortalBackend"
UserModel = get_user_model()


class PortalBackend(ModelBackend):
    def get_user(self, user_id):
        user_id = parse_id(user_id)  # sessions are signed, but never a 500 for a bad id
        if user_id is None:
            return None
        user = (UserModel._default_manager
                .select_related("institution__type", "officer__body__region")
                .filter(pk=user_id).first())
        return user if user is not None and self.user_can_authenticate(user) else None
