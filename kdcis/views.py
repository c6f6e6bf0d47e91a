"""Cross-cutting pages: notices, the file library, health check and the CSRF failure page."""

from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kdcis.models import LibraryFile, Notice


@require_GET
def notice_list(request: HttpRequest) -> HttpResponse:
    """공지: published notices, newest first."""
    notices = Notice.objects.filter(is_published=True, published_at__lte=timezone.now())
    page = Paginator(notices, 20).get_page(request.GET.get("page"))
    return render(request, "kdcis/notice_list.html", {"page": page})


@require_GET
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(
        Notice, pk=pk, is_published=True, published_at__lte=timezone.now()
    )
    return render(request, "kdcis/notice_detail.html", {"notice": notice})


@require_GET
def library(request: HttpRequest) -> HttpResponse:
    """자료실: files to download, this guide among them."""
    files = LibraryFile.objects.filter(published_at__lte=timezone.now())
    page = Paginator(files, 20).get_page(request.GET.get("page"))
    return render(request, "kdcis/library.html", {"page": page})


@require_GET
def library_download(request: HttpRequest, pk: int) -> HttpResponse:
    from django.http import FileResponse

    item = get_object_or_404(LibraryFile, pk=pk, published_at__lte=timezone.now())
    try:
        handle = item.file.open("rb")
    except FileNotFoundError:
        return render(request, "kdcis/library_missing.html", {"item": item}, status=404)
    return FileResponse(handle, as_attachment=True, filename=item.file.name.rsplit("/", 1)[-1])


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database state for load balancers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return JsonResponse({"status": "ok", "database": "ok"})
    except Exception as exc:  # noqa: BLE001 - any database failure means "not ready"
        return JsonResponse(
            {"status": "error", "database": type(exc).__name__}, status=503
        )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A stale form (a second tab after login, an expired page): explain and offer a way back."""
    return render(request, "kdcis/csrf_failure.html", status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "kdcis/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request context: the database may be what failed.
    from django.template.loader import render_to_string

    return HttpResponse(render_to_string("kdcis/500.html"), status=500)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "kdcis/403.html", status=403)
