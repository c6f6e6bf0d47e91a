"""Cross-cutting pages: notices (공지, 업무연락), 자주묻는 질문, the file library, health check
and the CSRF failure page."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kdcis.models import Faq, LibraryFile, Notice


def _posted(kind: str) -> QuerySet[Notice]:
    return Notice.objects.filter(kind=kind, is_published=True, published_at__lte=timezone.now())


def _post_list(request: HttpRequest, kind: str, *, heading: str, detail: str) -> HttpResponse:
    page = Paginator(_posted(kind), 20).get_page(request.GET.get("page"))
    return render(request, "kdcis/notice_list.html",
                  {"page": page, "heading": heading, "detail": detail})


def _post_detail(request: HttpRequest, kind: str, pk: int, *, heading: str,
                 back: str) -> HttpResponse:
    notice = get_object_or_404(_posted(kind), pk=pk)
    return render(request, "kdcis/notice_detail.html",
                  {"notice": notice, "heading": heading, "back": back})


@require_GET
def notice_list(request: HttpRequest) -> HttpResponse:
    """공지: published notices, newest first, for everyone."""
    return _post_list(request, Notice.Kind.NOTICE, heading=_("공지"), detail="notice_detail")


@require_GET
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_detail(request, Notice.Kind.NOTICE, pk, heading=_("공지"), back="notices")


@login_required
@require_GET
def work_list(request: HttpRequest) -> HttpResponse:
    """업무연락: what the ministry sends to health centers and institutions (and back).

    Signed-in users only, whatever their status or role: it is work between the people who
    use the system (a pending applicant may need a 업무연락 about their own request), not
    public information; visitors are sent to the login page. Posts are kept apart from 공지
    by `Notice.kind`, so a 업무연락 never opens under `/notices/`.
    """
    return _post_list(request, Notice.Kind.WORK, heading=_("업무연락"), detail="work_detail")


@login_required
@require_GET
def work_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_detail(request, Notice.Kind.WORK, pk, heading=_("업무연락"), back="work_list")


@require_GET
def faq(request: HttpRequest) -> HttpResponse:
    """자주묻는 질문: the published questions, grouped by category in the guide's order."""
    by_category: dict[str, list[Faq]] = {}
    for item in Faq.objects.filter(is_published=True).order_by("order", "pk"):
        by_category.setdefault(item.category, []).append(item)
    groups = [(label, by_category[value]) for value, label in Faq.Category.choices
              if value in by_category]
    return render(request, "kdcis/faq.html", {"groups": groups})


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
