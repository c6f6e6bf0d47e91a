"""Leases: one run of a scheduled job at a time, across app servers and connection poolers.

A session-level advisory lock belongs to one database connection; behind PgBouncer in
transaction mode each transaction may get another server connection, so such a lock is taken
on one and released (or leaked) on another. A lease is a row instead (`kdcis.JobLease`):
taking it is one short transaction serialised by a transaction-level lock (kdcis.locks), the
holder renews it between its own transactions, and a crashed holder's lease simply expires.

Leases are re-entrant within one thread: a command holding a lease may call code that takes
the same lease again.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from kdcis import locks
from kdcis.models import JobLease


class LeaseHeld(Exception):
    """Another holder's lease on this job has not expired."""

    def __init__(self, name: str, holder: str) -> None:
        super().__init__(f"{name} is held by {holder}")
        self.name = name
        self.holder = holder


class Lease:
    def __init__(self, name: str, holder: str, seconds: int) -> None:
        self.name, self.holder, self.seconds = name, holder, seconds

    def renew(self) -> None:
        """Push the expiry out again; raise LeaseHeld if the lease was lost meanwhile."""
        with transaction.atomic():
            locks.hold(f"lease:{self.name}")
            updated = JobLease.objects.filter(name=self.name, holder=self.holder).update(
                expires_at=timezone.now() + timedelta(seconds=self.seconds))
        if not updated:
            current = JobLease.objects.filter(name=self.name).values_list(
                "holder", flat=True).first()
            raise LeaseHeld(self.name, current or "")


_held = threading.local()


def _acquire(name: str, seconds: int) -> Lease:
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    now = timezone.now()
    with transaction.atomic():
        locks.hold(f"lease:{name}")
        # The same statements whether or not the row exists yet.
        JobLease.objects.bulk_create([JobLease(name=name)], ignore_conflicts=True)
        row = JobLease.objects.select_for_update().get(name=name)
        if row.holder and row.expires_at and row.expires_at > now:
            raise LeaseHeld(name, row.holder)
        row.holder, row.expires_at = holder, now + timedelta(seconds=seconds)
        row.save(update_fields=["holder", "expires_at"])
    return Lease(name, holder, seconds)


def _release(lease: Lease) -> None:
    with transaction.atomic():
        locks.hold(f"lease:{lease.name}")
        JobLease.objects.filter(name=lease.name, holder=lease.holder).update(
            holder="", expires_at=None)


@contextmanager
def lease(name: str, *, seconds: int) -> Iterator[Lease]:
    """Hold the lease `name` for the block, or raise LeaseHeld. The holder calls
    `renew()` at least every `seconds` (after each batch, say)."""
    held = getattr(_held, "leases", None)
    if held is None:
        held = _held.leases = {}
    if name in held:
        yield held[name]
        return
    current = _acquire(name, seconds)
    held[name] = current
    try:
        yield current
    finally:
        del held[name]
        _release(current)
