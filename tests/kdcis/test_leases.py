"""Leases of scheduled jobs (kdcis.leases): one holder at a time, re-entrant in one thread,
a crashed holder's lease taken over once it expired."""

import datetime as dt

import pytest
from django.utils import timezone

from kdcis.leases import LeaseHeld, lease
from kdcis.models import JobLease

pytestmark = pytest.mark.django_db


def _crashed_holder(name: str, *, expires_in: dt.timedelta) -> None:
    JobLease.objects.update_or_create(name=name, defaults={
        "holder": "other-host:4242:dead", "expires_at": timezone.now() + expires_in})


def test_a_lease_held_by_another_run_is_refused_naming_the_holder():
    _crashed_holder("job", expires_in=dt.timedelta(minutes=5))
    with pytest.raises(LeaseHeld) as refused, lease("job", seconds=60):
        pass
    assert refused.value.holder == "other-host:4242:dead"


def test_an_expired_lease_is_taken_over_and_left_free_after_the_run():
    _crashed_holder("job", expires_in=-dt.timedelta(seconds=1))
    with lease("job", seconds=60) as held:
        row = JobLease.objects.get(name="job")
        assert row.holder == held.holder != "other-host:4242:dead"
        assert row.expires_at > timezone.now()
    assert JobLease.objects.get(name="job").holder == ""


def test_the_same_thread_may_take_its_lease_again():
    with lease("job", seconds=60) as outer, lease("job", seconds=60) as inner:
        assert inner is outer
    with lease("job", seconds=60):
        pass


def test_renewing_a_lease_that_was_taken_over_fails():
    with pytest.raises(LeaseHeld), lease("job", seconds=60) as held:
        JobLease.objects.filter(name="job").update(holder="someone-else")
        held.renew()
