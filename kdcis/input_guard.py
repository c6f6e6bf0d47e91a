"""Drop NUL characters from request parameters before any view sees them.

No field of the portal accepts one, PostgreSQL cannot store one, and no person types one.
Removing it up front lets every field's own rule answer with its own message (an ID with a
NUL in it is simply an invalid ID) instead of each view meeting a database error.
"""

from django.http import QueryDict


class StripNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _has_nul(request.GET):
            request.GET = _without_nul(request.GET)
        if request.method == "POST" and _has_nul(request.POST):
            request.POST = _without_nul(request.POST)
        return self.get_response(request)


def _has_nul(params: QueryDict) -> bool:
    return any("\x00" in key or any("\x00" in v for v in params.getlist(key))
               for key in params)


def _without_nul(params: QueryDict) -> QueryDict:
    clean = QueryDict(mutable=True)
    for key in params:
        clean.setlist(key.replace("\x00", ""), [v.replace("\x00", "")
                                               for v in params.getlist(key)])
    clean._mutable = False
    return clean
