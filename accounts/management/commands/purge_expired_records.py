from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import OcspResponse, PhoneVerification, SignupDraft, UsedLoginChallenge
from kdcis.ratelimit import purge_expired
from kdcis.sms import scrub_finished


class Command(BaseCommand):
    help = ("Nightly housekeeping: delete rate-limit counters whose window ended more than two "
            "days ago, SMS verification records older than two days (they hold phone "
            "numbers and are only needed for the one-day send cap and the 3-minute code), "
            "signup drafts untouched for longer than a session lives (names, numbers, "
            "certificate data of signups never finished) and expired sessions with their "
            "login records, and used login challenges older than a day, and blank the number and text of SMS messages sent or given up "
            "on more than SMS_RETENTION_DAYS ago, and cached OCSP answers past their "
            "nextUpdate (never used again). Idempotent and safe to run twice at once.")

    def handle(self, *args, **options):
        now = timezone.now()
        with transaction.atomic():
            counters = purge_expired(older_than=timedelta(days=2))
            verifications, _ = PhoneVerification.objects.filter(
                created_at__lt=now - timedelta(days=2)).delete()
            drafts, _ = SignupDraft.objects.filter(
                updated_at__lt=now - timedelta(seconds=settings.SESSION_COOKIE_AGE)
            ).delete()
            messages = scrub_finished(older_than=timedelta(days=settings.SMS_RETENTION_DAYS),
                                      now=now)
            # A login challenge expires after minutes; its use only has to outlive it.
            challenges, _ = UsedLoginChallenge.objects.filter(
                used_at__lt=now - timedelta(days=1)).delete()
            # What `clearsessions` does for database sessions, counted.
            sessions = Session.objects.filter(expire_date__lt=now).delete()[1].get(
                Session._meta.label, 0)
            ocsp, _ = OcspResponse.objects.filter(next_update__lt=now).delete()
        self.stdout.write(f"purged {counters} rate-limit counters, "
                          f"{verifications} phone verifications, {drafts} signup drafts, "
                          f"{challenges} used login challenges, {sessions} expired sessions; "
                          f"blanked {messages} delivered SMS; "
                          f"deleted {ocsp} expired OCSP answers")
