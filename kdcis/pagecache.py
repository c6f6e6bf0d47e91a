"""Whole rendered pages kept in the process's cache, for pages a user reloads often.

A page is stored once per key and served again while the key holds. The key must name
everything the page shows: the caller lists the data versions and the user's own details.
Two things are added here:

- The browser's CSRF secret. A page with forms carries a CSRF token, a masked form of that
  secret, so a stored page is only ever served back to the browser it was rendered for, as
  Django's own page cache does (`Vary: Cookie`). Each distinct URL (every filter or search
  the page reflects) is a new entry with a freshly masked token, so no two pages that differ
  in reflected input share one. A browser without a CSRF cookie yet is given its secret
  first, and the response sets the cookie.
- Flash messages. A request with messages waiting is rendered afresh (and consumes them), so
  a message is never stored or shown twice.

Pages are stored encoded, so a hit is a lookup and a response, nothing more.
"""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string


def render_cached(request: HttpRequest, template_name: str, context: dict, *,
                  key_parts: tuple, timeout: int) -> HttpResponse:
    if len(messages.get_messages(request)):
        return render(request, template_name, context)
    if "CSRF_COOKIE" not in request.META:
        get_token(request)  # a first visit: the secret this response's cookie will carry
    secret = request.META["CSRF_COOKIE"]
    key = "page:" + hashlib.sha256(repr((template_name, secret, key_parts)).encode()
                                   ).hexdigest()
    content = cache.get(key)
    if content is None:
        content = render_to_string(template_name, context, request).encode()
        cache.set(key, content, timeout)
    return HttpResponse(content)
