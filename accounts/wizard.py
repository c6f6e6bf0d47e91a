"""The signup draft: one session key, never the private key; each step knows its predecessor."""

from __future__ import annotations

from functools import wraps

from django.shortcuts import redirect

SESSION_KEY = "signup_draft"
STEPS = ("consent", "certificate", "profile", "permissions", "done")
STEP_LABELS = (
    ("consent", "01", "개인정보수집동의"),
    ("certificate", "02", "인증서등록"),
    ("profile", "03", "사용자정보등록"),
    ("permissions", "04", "권한신청"),
    ("done", "05", "가입신청완료"),
)


def get_draft(session) -> dict:
    return session.get(SESSION_KEY) or {}


def save_draft(session, draft: dict) -> None:
    session[SESSION_KEY] = draft
    session.modified = True


def clear_draft(session) -> None:
    session.pop(SESSION_KEY, None)


def first_incomplete(draft: dict) -> str:
    if draft.get("submitted_user_id"):
        return "done"
    if not draft.get("consent_at"):
        return "consent"
    if not draft.get("certificate"):
        return "certificate"
    if not draft.get("profile_done"):
        return "profile"
    return "permissions"


def step_required(step: str):
    """Send the applicant back to the first incomplete step before this one.

    After submission every step but 'done' leads to 'done', so a Back button or a double
    click can never create anything twice.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            draft = get_draft(request.session)
            first = first_incomplete(draft)
            if first == "done" and step != "done":
                return redirect("signup_done")
            if STEPS.index(first) < STEPS.index(step):
                return redirect(f"signup_{first}")
            return view(request, draft, *args, **kwargs)

        return wrapped

    return decorator


def flash(session, step: str, **values) -> None:
    """Messages for the next GET of `step` (every wizard POST redirects, so the browser's
    history holds only GETs and Back never asks to resubmit a form)."""
    draft = get_draft(session)
    draft.setdefault("flash", {})[step] = values
    save_draft(session, draft)


def take_flash(session, step: str) -> dict:
    draft = get_draft(session)
    values = (draft.get("flash") or {}).pop(step, None)
    if values is not None:
        save_draft(session, draft)
    return values or {}
