"""The portal's URLs plus two baselines: `/bench/bare/`, a Django view that does no work,
and `/bench/bare-login/`, the same behind `login_required` (the session and user lookups
every signed-in page pays)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import include, path


def bare(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/bare-login/", login_required(bare)),
    path("", include("kdcis.urls")),
]
