"""자주묻는 질문 and 업무연락: the guide's top menu, who sees what, and the FAQ seed."""

import importlib
from html import unescape

import pytest
from django.apps import apps
from django.utils import timezone

from kdcis.models import Faq, Notice

pytestmark = pytest.mark.django_db

seed = importlib.import_module("kdcis.migrations.0005_faq_and_work_correspondence")


def text(response) -> str:
    return unescape(response.content.decode())


def _menu(html: str) -> list[str]:
    nav = html[html.index('<nav class="top-menu"'):html.index("</nav>")]
    labels = ("로그아웃", "담당자안내", "내정보", "권한 부가정보", "공지", "업무연락", "자료실",
              "자주묻는 질문")
    found = [(nav.find(f">{label}<"), label) for label in labels]
    return [label for at, label in sorted(found) if at >= 0]


# ---------------------------------------------------------------------------- the top menu


def test_visitors_see_the_faq_but_not_work_correspondence_in_the_menu(client):
    assert _menu(text(client.get("/"))) == ["담당자안내", "공지", "자료실", "자주묻는 질문"]


def test_signed_in_users_see_the_guides_menu_order(client, personas,
                                                  complete_supplementary_info):
    from permissions.models import Grant
    from permissions.services import grant_approve

    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
    complete_supplementary_info(personas.alice.institution)
    client.force_login(personas.alice)
    assert _menu(text(client.get("/contacts/"))) == [
        "로그아웃", "담당자안내", "내정보", "권한 부가정보", "공지", "업무연락", "자료실",
        "자주묻는 질문"]


def test_the_login_help_links_the_faq(client):
    html = text(client.get("/login/"))
    assert ('<a href="/faq/">\'자주묻는 질문\'</a>을 확인하시거나 1644-1407로 문의하시기 '
            "바랍니다.") in html


# ------------------------------------------------------------------------------------ FAQ


def test_the_faq_lists_published_questions_by_category_in_the_guides_order(client):
    Faq.objects.all().delete()
    Faq.objects.create(category="withdrawal", question="탈퇴 질문", answer="탈퇴 답변")
    Faq.objects.create(category="signup", question="둘째 가입 질문", answer="a", order=20)
    Faq.objects.create(category="signup", question="첫째 가입 질문", answer="첫 줄\n둘째 줄",
                       order=10)
    Faq.objects.create(category="certificate", question="숨긴 질문", answer="x",
                       is_published=False)
    response = client.get("/faq/")
    assert response.status_code == 200
    html = text(response)
    assert html.index("<h2") < html.index(">사용자 가입</h2>") < html.index("첫째 가입 질문") \
        < html.index("둘째 가입 질문") < html.index(">탈퇴</h2>") < html.index("탈퇴 질문")
    assert "<p>첫 줄<br>둘째 줄</p>" in html
    assert "숨긴 질문" not in html
    assert ">인증서</h2>" not in html  # a category with nothing published is left out


def test_the_seed_answers_the_guides_questions_once(client):
    Faq.objects.all().delete()
    seed.seed_faqs(apps, None)
    count = Faq.objects.count()
    assert count == len(seed.FAQS)
    assert set(Faq.objects.values_list("category", flat=True)) == {
        "signup", "certificate", "permission", "withdrawal"}
    seed.seed_faqs(apps, None)
    assert Faq.objects.count() == count
    html = text(client.get("/faq/"))
    for phrase in ("1대1로 매칭", "3개월 이상", "자동으로 미승인", "탈퇴 즉시",
                   "관할 보건소", "갱신된 인증서 등록"):
        assert phrase in html, phrase


def test_an_admins_edit_of_a_seeded_question_survives_a_second_seed():
    Faq.objects.all().delete()
    seed.seed_faqs(apps, None)
    item = Faq.objects.get(question="탈퇴는 어떻게 하나요?")
    item.answer = "고친 답변"
    item.save()
    seed.seed_faqs(apps, None)
    item.refresh_from_db()
    assert item.answer == "고친 답변"


# ------------------------------------------------------------------------------- 업무연락


def _post(kind, title, **extra):
    values = {"published_at": timezone.now() - timezone.timedelta(hours=1), **extra}
    return Notice.objects.create(kind=kind, title=title, body="첫 줄\n둘째 줄", **values)


def test_work_correspondence_sends_visitors_to_the_login_page(client):
    item = _post(Notice.Kind.WORK, "보건소 업무연락")
    for url in ("/work/", f"/work/{item.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/"), url


@pytest.mark.parametrize("who", ["alice", "oscar", "hana"])
def test_signed_in_users_read_work_correspondence_apart_from_notices(client, personas, who):
    work = _post(Notice.Kind.WORK, "예방접종 등록 점검 협조 요청")
    notice = _post(Notice.Kind.NOTICE, "시스템 점검 안내")
    _post(Notice.Kind.WORK, "게시 안 한 업무연락", is_published=False)
    _post(Notice.Kind.WORK, "내일 게시할 업무연락",
          published_at=timezone.now() + timezone.timedelta(days=1))
    client.force_login(getattr(personas, who))
    html = text(client.get("/work/"))
    assert "<h1>업무연락</h1>" in html and "예방접종 등록 점검 협조 요청" in html
    assert "시스템 점검 안내" not in html
    assert "게시 안 한 업무연락" not in html and "내일 게시할 업무연락" not in html
    detail = client.get(f"/work/{work.pk}/")
    assert detail.status_code == 200
    assert "<p>첫 줄<br>둘째 줄</p>" in text(detail) and 'href="/work/"' in text(detail)
    assert client.get(f"/work/{notice.pk}/").status_code == 404


def test_notices_never_show_work_correspondence(client):
    work = _post(Notice.Kind.WORK, "보건소 업무연락")
    _post(Notice.Kind.NOTICE, "모두에게 공지")
    html = text(client.get("/notices/"))
    assert "모두에게 공지" in html and "보건소 업무연락" not in html
    assert client.get(f"/notices/{work.pk}/").status_code == 404


def test_an_empty_board_says_so(client, personas):
    client.force_login(personas.alice)
    assert "등록된 글이 없습니다." in text(client.get("/work/"))
