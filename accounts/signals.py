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


def record_admin_login_failed(sender, reason_code: str, ip: str | None, **kwargs) -> None:
    """A refused login to the national admins' site (kdcis.admin_site), audited."""
    from accounts.services import login_failed

    login_failed(reason_code=reason_code, ip=ip)


def record_admin_login(sender, user, ip: str | None, **kwargs) -> None:
    """A login to the national admins' site with a verified OTP device, audited."""
    from accounts.services import login_recorded

    login_recorded(user=user, ip=ip)
