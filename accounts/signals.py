"""Signal receivers of the accounts app (connected in AccountsConfig.ready)."""

from __future__ import annotations


def record_login_session(sender, request, user, **kwargs) -> None:
    """Remember the session a login was written to, so a withdrawal can end it."""
    from accounts.models import UserSession

    session = getattr(request, "session", None)
    if session is None or user is None or user.pk is None:
        return
    if session.session_key is None:
        # A login over another user's session flushed it: the new one gets its key (and its
        # row) when first saved, so save it now.
        session.save()
    UserSession.objects.update_or_create(session_id=session.session_key,
                                         defaults={"user": user})
