"""The portal layout, its headers and the cross-cutting pages."""

import pytest
from django.test import override_settings

from kdcis.models import Notice

pytestmark = pytest.mark.django_db


def test_the_home_page_speaks_korean_with_the_seed_top_menu(client):
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="ko">' in html
    for label in ("질병보건통합관리시스템", "담당자안내", "공지", "자료실", "사용자 가입",
                  "기관등록 절차 안내", "1644-1407"):
        assert label in html


def test_a_signed_in_user_sees_logout_my_info_and_the_menu_tree(client, personas):
    client.force_login(personas.alice)
    html = client.get("/").content.decode()
    for label in ("로그아웃", "내정보", "담당자안내"):
        assert label in html


def test_every_page_forbids_inline_script_and_framing(client):
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cache-Control"] == "no-store"
    assert "<script>" not in response.content.decode()


def test_no_page_loads_anything_from_another_host(client):
    for url in ("/", "/login/", "/signup/consent/", "/contacts/", "/notices/", "/library/",
                "/faq/"):
        html = client.get(url).content.decode()
        assert "http://" not in html.replace("http://127.0.0.1", "")
        assert "https://" not in html
        assert "//cdn" not in html


def test_health_check_reports_the_database():
    from django.test import Client

    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_an_unknown_page_is_a_korean_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "페이지를 찾을 수 없습니다" in response.content.decode()


def test_notices_are_listed_newest_first_and_unpublished_ones_hidden(client):
    from django.utils import timezone

    now = timezone.now()
    Notice.objects.create(title="오래된 공지", body="a", published_at=now - timezone.timedelta(days=2))
    Notice.objects.create(title="새 공지", body="b", published_at=now)
    Notice.objects.create(title="숨김 공지", body="c", published_at=now, is_published=False)
    html = client.get("/notices/").content.decode()
    assert html.index("새 공지") < html.index("오래된 공지")
    assert "숨김 공지" not in html


def test_contacts_show_the_users_approving_bodies(client, personas):
    client.force_login(personas.alice)
    html = client.get("/contacts/").content.decode()
    assert "종로구보건소" in html and "질병관리청 예방접종관리과" in html


@override_settings(CSRF_FAILURE_VIEW="kdcis.views.csrf_failure")
def test_a_stale_form_gets_a_way_back_not_a_bare_403():
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post("/signup/consent/", {"agree": "on"})
    assert response.status_code == 403
    assert "화면이 만료되었습니다" in response.content.decode()


def test_nul_characters_are_dropped_before_any_view_sees_them(client, personas):
    client.force_login(personas.hana)
    response = client.get("/helpdesk/", {"q": "김앨\x00리"})
    assert response.status_code == 200
    assert "김*리" in response.content.decode()
