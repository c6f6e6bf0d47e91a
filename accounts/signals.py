"""Signal receivers of the accounts app (connected in AccountsConfig.ready)."""

from __future__ import annotations


def record_login_session(sender, request, user, **kwargs) -> None:
    """Remember the session a login was written to, so a withdrawal can end it."""
    from accounts.services import session_tie

    session = getattr(request, "session", None)
    if session is None or user is None or user.pk is None:
        return
    session_tie(session=session, user=user,
                user_agent=request.META.get("HTTP_USER_AGENT", ""))
