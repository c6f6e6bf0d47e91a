"""Signal receivers of the institutions app (connected in InstitutionsConfig.ready)."""

from __future__ import annotations

LOGIN_CHECK_SESSION_KEY = "supplementary:check_after_login"


def flag_login_for_supplementary_check(sender, request, user, **kwargs) -> None:
    """Ask SupplementaryInfoMiddleware to check the next page: the first page after a
    login lands on the 의료기관 부가정보 form while the record is incomplete."""
    session = getattr(request, "session", None)
    if session is not None:
        session[LOGIN_CHECK_SESSION_KEY] = True
