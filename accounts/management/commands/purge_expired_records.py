from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import PhoneVerification, UsedLoginChallenge
from kdcis.ratelimit import purge_expired


class Command(BaseCommand):
    help = ("Nightly housekeeping: delete rate-limit counters whose window ended more than two "
            "days ago, and SMS verification records older than two days (they hold phone "
            "numbers and are only needed for the one-day send cap and the 3-minute code). "
            "Idempotent and safe to run twice at once.")

    @transaction.atomic
    def handle(self, *args, **options):
        counters = purge_expired(older_than=timedelta(days=2))
        verifications, _ = PhoneVerification.objects.filter(
            created_at__lt=timezone.now() - timedelta(days=2)).delete()
        # A login challenge expires after minutes; its use only has to outlive it.
        challenges, _ = UsedLoginChallenge.objects.filter(
            used_at__lt=timezone.now() - timedelta(days=1)).delete()
        self.stdout.write(f"purged {counters} rate-limit counters, "
                          f"{verifications} phone verifications, "
                          f"{challenges} used login challenges")
