import io

import pytest
from django.core.management import call_command

from institutions.models import ApprovingBody, Category, Institution, InstitutionType, Region
from permissions.models import PermissionType

pytestmark = pytest.mark.django_db


def _load() -> str:
    out = io.StringIO()
    call_command("load_reference_data", stdout=out)
    return out.getvalue()


def test_it_loads_the_sixteen_regions_under_their_2026_names():
    _load()
    assert Region.objects.count() == 16
    assert Region.objects.get(code="12").name == "전남광주통합특별시"
    assert Region.objects.get(code="51").name == "강원특별자치도"
    assert Region.objects.get(code="52").name == "전북특별자치도"
    assert not Region.objects.filter(code__in=["29", "46"]).exists()


def test_every_health_center_is_an_approving_body_plus_the_central_department():
    _load()
    assert ApprovingBody.objects.filter(kind="health_center").count() == 260
    central = ApprovingBody.objects.get(kind="central")
    assert central.name == "질병관리청 예방접종관리과"
    # Cities with several centers under one code keep distinct codes.
    assert ApprovingBody.objects.filter(sigungu_code="41220").count() == 2
    assert ApprovingBody.objects.values("code").distinct().count() == 261


def test_running_it_twice_changes_nothing():
    _load()
    before = list(ApprovingBody.objects.order_by("code").values_list("code", "name", "phone"))
    second = _load()
    assert "created" not in second and "updated" not in second
    assert list(ApprovingBody.objects.order_by("code").values_list(
        "code", "name", "phone")) == before


def test_a_phone_maintained_in_the_admin_survives_a_reload():
    _load()
    body = ApprovingBody.objects.get(code="HC-11110-1")
    body.phone = "02-0000-0000"
    body.save()
    _load()
    body.refresh_from_db()
    assert body.phone == "02-0000-0000"


def test_types_categories_and_permission_types_are_there():
    _load()
    assert set(InstitutionType.objects.values_list("name", flat=True)) >= {
        "기관", "병의원", "약국", "보건소"}
    assert Category.objects.get(code="01").name == "상급종합병원"
    assert Category.objects.get(code="94").name == "한약방"
    vaccination = PermissionType.objects.get(name="예방접종관리 User")
    assert vaccination.approver == "health_center" and vaccination.revocable
    education = PermissionType.objects.get(name="교육관리 User(학습자)")
    assert education.approver == "central"


def test_demo_institutions_get_the_health_center_of_their_address():
    _load()
    clinic = Institution.objects.get(number="11110101")
    assert clinic.jurisdiction.name == "종로구보건소"
    merged = Institution.objects.get(number="12210115")
    assert merged.region.name == "전남광주통합특별시"
    assert merged.jurisdiction.sigungu == "동구"
    assert Institution.objects.values("region").distinct().count() >= 8


def test_the_central_department_has_its_own_number_kept_once_edited():
    _load()
    central = ApprovingBody.objects.get(kind="central")
    assert central.phone == "043-719-8398" and central.contact_phone == "043-719-8398"
    central.phone = "043-719-0000"
    central.save()
    second = _load()
    assert "updated" not in second
    central.refresh_from_db()
    assert central.phone == "043-719-0000"
