"""The signup draft: a row of its own named by one session key, never the private key; each
step knows its predecessor.

Requests of one applicant overlap (the live ID check while '검색' posts, a double click), so
nothing here saves the draft whole: a save writes the fields the request changed, under the
row's lock, onto what is stored now.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from functools import wraps

from django.db import transaction
from django.shortcuts import redirect

from accounts.models import SignupDraft

SESSION_KEY = "signup_draft"
STEPS = ("consent", "certificate", "profile", "permissions", "done")
STEP_LABELS = (
    ("consent", "01", "개인정보수집동의"),
    ("certificate", "02", "인증서등록"),
    ("profile", "03", "사용자정보등록"),
    ("permissions", "04", "권한신청"),
    ("done", "05", "가입신청완료"),
)


class Draft(dict):
    """The draft as this request read it. `base` is the copy it started from, so a save writes
    only what this request changed (accounts.models.SignupDraft)."""

    def __init__(self, data: dict | None = None):
        super().__init__(copy.deepcopy(data or {}))
        self.base = copy.deepcopy(data or {})


def step_context(step: str, **extra) -> dict:
    """What every step's page needs: the step bar and which step this is."""
    return {"steps": STEP_LABELS, "current_step": step, **extra}


def profile_of(draft: dict) -> dict:
    """The 사용자정보등록 values of the draft (the same dict, so changes go into the draft)."""
    return draft.setdefault("profile", {})


def _row_key(session) -> str | None:
    return session.get(SESSION_KEY)


def get_draft(session) -> Draft:
    key = _row_key(session)
    if not key:
        return Draft()
    row = SignupDraft.objects.filter(key=key).only("data").first()
    return Draft(row.data if row else None)


def _merge(fresh: dict, base: dict, ours: dict) -> None:
    """Apply to `fresh` what changed from `base` to `ours`, key by key, at every depth, so
    a field another request changed meanwhile is kept unless this request changed it too."""
    for key in set(base) | set(ours):
        if key not in ours:
            fresh.pop(key, None)
        elif key not in base or base[key] != ours[key]:
            if all(isinstance(d.get(key), dict) for d in (fresh, base, ours)):
                _merge(fresh[key], base[key], ours[key])
            else:
                fresh[key] = copy.deepcopy(ours[key])


def _update(session, change: Callable[[dict], None]) -> dict:
    """Change the stored draft under its row lock: `change` sees the current data."""
    key = _row_key(session)
    with transaction.atomic():
        row = SignupDraft.objects.select_for_update().filter(key=key).first() if key else None
        if row is None:
            row = SignupDraft(key=secrets.token_urlsafe(32), data={})
            session[SESSION_KEY] = row.key
        change(row.data)
        row.save()
    return row.data


def save_draft(session, draft: dict) -> None:
    """Store the fields this request changed in `draft` (a Draft from get_draft)."""
    base = getattr(draft, "base", {})
    stored = _update(session, lambda fresh: _merge(fresh, base, draft))
    if isinstance(draft, Draft):  # from now on, this request sees what is stored
        _adopt(draft, stored)
        draft.base = copy.deepcopy(stored)


def _adopt(target: dict, source: dict) -> None:
    """Make `target` equal to `source` in place, keeping its nested dicts (a view may hold
    one, such as the profile state) the same objects."""
    for key in list(target):
        if key not in source:
            del target[key]
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _adopt(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def replace_draft(session, data: dict) -> None:
    """Replace the whole draft (after submission: nothing personal stays)."""

    def change(fresh: dict) -> None:
        fresh.clear()
        fresh.update(copy.deepcopy(data))

    _update(session, change)


def clear_draft(session) -> None:
    key = session.pop(SESSION_KEY, None)
    if key:
        SignupDraft.objects.filter(key=key).delete()


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
    _update(session, lambda fresh: fresh.setdefault("flash", {}).__setitem__(step, values))


def take_flash(session, step: str) -> dict:
    if not (get_draft(session).get("flash") or {}).get(step):
        return {}
    taken: dict = {}
    _update(session, lambda fresh: taken.update((fresh.get("flash") or {}).pop(step, None) or {}))
    return taken
