"""Whole rendered pages kept in the process's cache, for pages a user reloads often.

A page is stored once per key and served again while the key holds. The key must name
everything the page shows: the caller lists the data versions and the user's own details.
What differs per request is kept out: the CSRF token is rendered as a placeholder and filled
in on every response, and a request with flash messages waiting is rendered afresh (and
consumes them), so a message is never stored or shown twice.
"""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string

_CSRF_PLACEHOLDER = "kdcis-csrf-placeholder-7d1f0c2a"


def render_cached(request: HttpRequest, template_name: str, context: dict, *,
                  key_parts: tuple, timeout: int) -> HttpResponse:
    if len(messages.get_messages(request)):
        return render(request, template_name, context)
    key = "page:" + hashlib.sha256(repr((template_name, key_parts)).encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        html = render_to_string(template_name, {**context, "csrf_token": _CSRF_PLACEHOLDER},
                                request)
        cache.set(key, html, timeout)
    return HttpResponse(html.replace(_CSRF_PLACEHOLDER, get_token(request)))
