from datetime import timedelta

from django.contrib.sessions.models import Session
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import PhoneVerification
from kdcis.ratelimit import purge_expired


class Command(BaseCommand):
    help = ("Nightly housekeeping: delete rate-limit counters whose window ended more than two "
            "days ago, and SMS verification records older than two days (they hold phone "
            "numbers and are only needed for the one-day send cap and the 3-minute code), "
            "and expired sessions with their login records. Idempotent and safe to run twice at once.")

    @transaction.atomic
    def handle(self, *args, **options):
        counters = purge_expired(older_than=timedelta(days=2))
        verifications, _ = PhoneVerification.objects.filter(
            created_at__lt=timezone.now() - timedelta(days=2)).delete()
        sessions = Session.objects.filter(expire_date__lt=timezone.now()).delete()[1].get(
            Session._meta.label, 0)
        self.stdout.write(f"purged {counters} rate-limit counters, "
                          f"{verifications} phone verifications, {sessions} expired sessions")
