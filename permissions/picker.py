"""The approving bodies offered for a permission type, as the picker's <option> list."""

from __future__ import annotations

from django.utils.safestring import SafeString

from institutions.picker import body_option_rows
from institutions.picker import body_options as render_options
from permissions.models import PermissionType
from permissions.selectors import bodies_for


def body_options(permission_type: PermissionType, selected: int | None) -> SafeString:
    """The options for `permission_type`, `selected` marked (one query)."""
    return render_options(body_option_rows(bodies_for(permission_type)), selected)
