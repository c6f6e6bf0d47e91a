from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models import Count, Min, Q
from django.utils import timezone

from institutions.models import ApprovingBody
from permissions.models import Grant
from permissions.services import approval_digest_send


class Command(BaseCommand):
    help = (
        "Tell each approving body's officers by SMS how many permission requests wait for them "
        "and since when, flagging requests older than APPROVAL_DIGEST_OVERDUE_DAYS (or "
        "--overdue-days). One SMS per officer with a mobile number, through the outbox, and "
        "at most one digest per body per day (Asia/Seoul): running it again the same day "
        "sends nothing more. Bodies with nothing waiting get nothing. --dry-run prints the "
        "digest without sending."
    )

    def add_arguments(self, parser):
        parser.add_argument("--overdue-days", type=int, default=None)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, overdue_days=None, dry_run=False, **options):
        overdue_days = settings.APPROVAL_DIGEST_OVERDUE_DAYS if overdue_days is None else (
            overdue_days)
        now = timezone.now()
        overdue_before = now - timezone.timedelta(days=overdue_days)
        waiting = (
            Grant.objects.filter(status=Grant.Status.REQUESTED)
            .values("body_id")
            .annotate(count=Count("id"), oldest=Min("requested_at"),
                      overdue=Count("id", filter=Q(requested_at__lt=overdue_before)))
        )
        rows = {row["body_id"]: row for row in waiting}
        bodies = ApprovingBody.objects.filter(pk__in=rows, officers__isnull=False).distinct()
        notified = repeated = 0
        for body in bodies.order_by("code"):
            row = rows[body.pk]
            line = approval_digest_send(body=body, waiting=row["count"], oldest=row["oldest"],
                                        overdue=row["overdue"], overdue_days=overdue_days,
                                        now=now, dry_run=dry_run)
            note = " (already sent today)" if line.already_sent else ""
            repeated += line.already_sent
            notified += line.officers_notified
            self.stdout.write(f"{body.code} {body.name}: {line.waiting} waiting, oldest "
                              f"{line.oldest_days} days, {line.overdue} overdue{note}")
        self.stdout.write(f"{len(bodies)} bodies with waiting requests, {notified} "
                          f"officers notified" + (" (dry run)" if dry_run else "")
                          + (f", {repeated} already notified today" if repeated else ""))
