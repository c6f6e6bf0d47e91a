"""권한 부가정보, the main screen and menus that follow grants."""

from html import unescape

import pytest

from institutions.models import ApprovingBody
from permissions.models import Grant
from permissions.services import grant_approve, grant_reject

pytestmark = pytest.mark.django_db


def page(client, url, **params) -> str:
    return unescape(client.get(url, params).content.decode())


@pytest.fixture(autouse=True)
def _supplementary_done(personas, complete_supplementary_info):
    """The forced supplementary-info form has its own tests (tests/institutions)."""
    complete_supplementary_info(personas.alice.institution)


def approve_vaccination(personas):
    grant = Grant.objects.get(user=personas.alice, permission_type__code="vaccination_user")
    grant_approve(grant_id=grant.pk, officer=personas.oscar.officer)
    personas.alice.refresh_from_db()
    return grant


def test_a_pending_account_sees_its_requests_and_nothing_else(client, personas):
    client.force_login(personas.alice)
    home = page(client, "/")
    assert "가입 신청 처리 현황" in home and "메뉴보기" not in home
    assert "권한 부가정보" in page(client, "/permissions/?status=requested")
    assert client.get("/vaccination/").status_code == 403


def test_the_vaccination_folder_appears_only_with_the_approved_permission(client, personas):
    client.force_login(personas.alice)
    approve_vaccination(personas)
    home = page(client, "/")
    assert "예방접종관리" in home and "메뉴보기" in home
    assert "권한 부가정보" in home
    assert client.get("/vaccination/").status_code == 200
    assert "교육관리 처음화면" not in home
    assert client.get("/education/").status_code == 403


def test_the_area_refusal_explains_how_to_request(client, personas):
    approve_vaccination(personas)
    client.force_login(personas.alice)
    response = client.get("/education/")
    text = unescape(response.content.decode())
    assert response.status_code == 403
    assert "교육관리 User(학습자)" in text and "신청가능" in text


def test_the_default_view_lists_approved_permissions(client, personas):
    approve_vaccination(personas)
    client.force_login(personas.alice)
    text = page(client, "/permissions/")
    assert "조회 조건" in text
    assert "예방접종관리 User" in text and "종로구보건소" in text
    requested = page(client, "/permissions/", status="requested")
    assert "교육관리 User(학습자)" in requested and "신청취소" in requested


def test_a_rejection_shows_its_reason_and_becomes_requestable_again(client, personas):
    approve_vaccination(personas)
    education = Grant.objects.get(user=personas.alice, permission_type__code="education_learner")
    grant_reject(grant_id=education.pk, officer=personas.carl.officer, reason="교육 대상 아님")
    client.force_login(personas.alice)
    assert "교육 대상 아님" in page(client, "/permissions/", status="rejected")
    requestable = page(client, "/permissions/", status="requestable")
    assert "교육관리 User(학습자)" in requestable
    central = ApprovingBody.objects.get(kind="central")
    assert f'value="{central.pk}" selected' in requestable
    response = client.post("/permissions/request/", {
        "permission": "education_learner", "body_education_learner": str(central.pk)},
        follow=True)
    text = unescape(response.content.decode())
    assert "연락하세요" in text and "질병관리청 예방접종관리과" in text
    assert Grant.objects.filter(user=personas.alice, status="requested",
                                permission_type__code="education_learner").count() == 1


def test_one_open_request_per_permission(client, personas):
    approve_vaccination(personas)
    client.force_login(personas.alice)
    central = ApprovingBody.objects.get(kind="central")
    response = client.post("/permissions/request/", {
        "permission": "education_learner", "body_education_learner": str(central.pk)},
        follow=True)
    assert "이미 신청 중이거나 승인되어 있습니다" in unescape(response.content.decode())
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    with pytest.raises(IntegrityError), transaction.atomic():
        Grant.objects.create(user=personas.alice, permission_type_id=Grant.objects.get(
            user=personas.alice, permission_type__code="education_learner").permission_type_id,
            body=central, requested_at=timezone.now())


def test_a_pending_request_can_be_cancelled_by_its_owner_only(client, personas):
    approve_vaccination(personas)
    education = Grant.objects.get(user=personas.alice, permission_type__code="education_learner")
    client.force_login(personas.bob)
    assert client.post(f"/permissions/{education.pk}/cancel/").status_code == 404
    client.force_login(personas.alice)
    client.post(f"/permissions/{education.pk}/cancel/")
    education.refresh_from_db()
    assert education.status == "cancelled"


def test_a_request_to_a_wrong_kind_of_body_is_refused(client, personas):
    approve_vaccination(personas)
    Grant.objects.filter(user=personas.alice, permission_type__code="education_learner"
                         ).update(status="rejected")
    client.force_login(personas.alice)
    jongno = ApprovingBody.objects.get(code="HC-11110-1")
    response = client.post("/permissions/request/", {
        "permission": "education_learner", "body_education_learner": str(jongno.pk)},
        follow=True)
    assert "신청할 수 없습니다" in unescape(response.content.decode())


def test_when_every_permission_is_revoked_the_main_screen_offers_them_directly(client,
                                                                             personas):
    grant = approve_vaccination(personas)
    Grant.objects.filter(pk=grant.pk).update(status="revoked", reason="inactivity")
    Grant.objects.filter(user=personas.alice, status="requested").update(status="rejected")
    client.force_login(personas.alice)
    home = page(client, "/")
    assert "권한 부가정보" not in home
    assert "신청 가능한 권한" in home and "예방접종관리 User" in home
    assert "예방접종관리 처음화면" not in home


def test_using_the_vaccination_area_is_recorded_once_a_day(client, personas,
                                                          django_assert_num_queries):
    grant = approve_vaccination(personas)
    Grant.objects.filter(pk=grant.pk).update(last_used_on="2026-01-01")
    client.force_login(personas.alice)
    client.get("/vaccination/")
    grant.refresh_from_db()
    from django.utils import timezone

    assert grant.last_used_on == timezone.localdate()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get("/vaccination/")
    assert not [q for q in ctx.captured_queries if 'UPDATE "permissions_grant"' in q["sql"]]
