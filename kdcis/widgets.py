"""Form widgets."""

from __future__ import annotations

from html import escape

from django import forms
from django.forms.utils import flatatt
from django.utils.safestring import SafeString, mark_safe


class PlainSelect(forms.Select):
    """Django's Select, its <option>s joined in Python.

    Django renders every option through two template includes (the option and its
    attributes); a form with a few dozen options spends most of its rendering there. This
    gives the same elements and attributes from the same context (`get_context`), so labels,
    `selected` and the attributes a bound field adds (aria-invalid, aria-describedby) are
    Django's own.
    """

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [f'<select name="{escape(widget["name"])}"{flatatt(widget["attrs"])}>']
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'<optgroup label="{escape(str(group_name))}">')
            for option in options:
                value = "" if option["value"] is None else str(option["value"])
                parts.append(f'<option value="{escape(value)}"{flatatt(option["attrs"])}>'
                             f'{escape(str(option["label"]))}</option>')
            if group_name:
                parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))  # every text escaped above
