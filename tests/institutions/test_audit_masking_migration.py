"""The data migration that masks people's values in earlier supplementary-info audit rows."""

import importlib

import pytest
from django.apps import apps

from kdcis.audit import audit

pytestmark = pytest.mark.django_db

migration = importlib.import_module(
    "institutions.migrations.0005_mask_people_in_supplementary_audit")


def test_existing_rows_keep_field_names_and_lose_the_values():
    row = audit(
        actor=None, action="institution.supplementary_saved", target_type="institutions.institution",
        target_id="1",
        old={"representative_name": "김대표", "mobile": "01012345678", "english_name": "A"},
        new={"representative_name": "이대표", "email": "clinic@naver.com",
             "predoctor_names": ["이예진", "박예진"], "english_name": "B"})
    other = audit(actor=None, action="grant.requested", new={"mobile": "01012345678"})
    migration.mask_rows(apps, None)
    row.refresh_from_db()
    assert row.old == {"representative_name": "김*표", "mobile": "010-****-5678",
                       "english_name": "A"}
    assert row.new == {"representative_name": "이*표", "email": "c***@naver.com",
                       "predoctor_names": ["이*진", "박*진"], "english_name": "B"}
    other.refresh_from_db()
    assert other.new == {"mobile": "01012345678"}  # other actions are not this migration's
    migration.mask_rows(apps, None)  # running again changes nothing
    row.refresh_from_db()
    assert row.new["representative_name"] == "이*표"
