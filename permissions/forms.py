"""Forms validate and normalise; they never write."""

from __future__ import annotations

from django import forms
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from kdcis.ids import parse_id, safe_local_path

STATUS_CHOICES = [("requested", _("신청중")), ("approved", _("승인")), ("rejected", _("반려")),
                  ("cancelled", _("신청취소")), ("revoked", _("미승인")), ("all", _("전체"))]
QUEUE_PATH = "/approvals/"
FILTER_DEFAULTS = {"status": "requested", "permission": "", "region": "", "date_from": None,
                   "date_to": None, "q": ""}


class QueueFilterForm(forms.Form):
    """The approval queue's filters and page cursor (its GET parameters).

    A value that does not clean falls back to that filter's default (no status given or an
    unknown one: the requests still waiting), so a tampered or stale link shows a page,
    never an error. Nothing here reads the database: the queue's query count stays the
    page's own (permissions.selectors.approval_queue_page)."""

    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    permission = forms.CharField(required=False)
    region = forms.CharField(required=False)
    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False)
    q = forms.CharField(required=False)
    # The keyset cursors of the page links ('다음', '이전'); approval_queue_page reads them.
    after = forms.CharField(required=False)
    before = forms.CharField(required=False)

    def clean_permission(self) -> str:
        return self.cleaned_data["permission"][:40]

    def clean_region(self) -> str:
        return self.cleaned_data["region"][:2]

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:60]

    def filters(self) -> dict:
        """The filters for approval_queue_for, each its default where the value was bad."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or default
                for name, default in FILTER_DEFAULTS.items()}

    def cursor(self) -> dict:
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in ("after", "before")}

    def query_string(self) -> str:
        """The filters for the page links (the cursor is the link's own)."""
        return urlencode({name: value.isoformat() if hasattr(value, "isoformat") else value
                          for name, value in self.filters().items() if value})


def _one_of_two(message):
    return {"required": message, "invalid_choice": message}


class DecisionForm(forms.Form):
    """승인 or 반려 of the requests ticked on the queue (or the one on its detail page).

    `grant_ids` are the ticked ids; `tampered` says one of them was no id at all (the view
    answers that, like another body's request, with 'not found')."""

    action = forms.ChoiceField(choices=(("approve", _("승인")), ("reject", _("반려"))),
                               error_messages=_one_of_two(_("승인 또는 반려를 선택하세요.")))
    reason = forms.CharField(required=False)
    back = forms.CharField(required=False)

    def __init__(self, data):
        super().__init__(data)
        ids = [parse_id(raw) for raw in data.getlist("grant")]
        self.tampered = None in ids
        self.grant_ids = list(dict.fromkeys(i for i in ids if i is not None))

    def clean_back(self) -> str:
        """Back to the queue page the officer came from (its filters), never elsewhere."""
        back = safe_local_path(self.cleaned_data["back"], QUEUE_PATH)
        return back if back.startswith(QUEUE_PATH) else QUEUE_PATH

    def clean(self):
        cleaned = super().clean()
        if "action" in cleaned and not self.grant_ids:
            raise forms.ValidationError(_("처리할 신청을 선택하세요."))
        if cleaned.get("action") == "reject" and not cleaned.get("reason"):
            self.add_error("reason", _("반려 사유를 입력하세요."))
        return cleaned

    def back_path(self) -> str:
        return self.cleaned_data.get("back") or QUEUE_PATH

    def first_error(self) -> str:
        return next(iter(self.errors.values()))[0]
