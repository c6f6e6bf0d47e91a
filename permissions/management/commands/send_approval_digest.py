from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models import Count, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from kdcis.sms import send_sms
from permissions.models import Grant, Officer


class Command(BaseCommand):
    help = (
        "Tell each approving body's officers by SMS how many permission requests wait for them "
        "and since when, flagging requests older than APPROVAL_DIGEST_OVERDUE_DAYS (or "
        "--overdue-days). One SMS per officer with a mobile number, through the outbox; bodies "
        "with nothing waiting get nothing. --dry-run prints the digest without sending."
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
            .annotate(count=Count("id"), oldest=Min("requested_at"))
        )
        overdue = dict(
            Grant.objects.filter(status=Grant.Status.REQUESTED, requested_at__lt=overdue_before)
            .values("body_id").annotate(n=Count("id")).values_list("body_id", "n")
        )
        by_body = {row["body_id"]: row for row in waiting}
        officers = (Officer.objects.filter(body_id__in=by_body)
                    .select_related("user", "body"))
        sent = bodies = 0
        seen_bodies = set()
        for officer in officers:
            row = by_body[officer.body_id]
            days = (now - row["oldest"]).days
            text = _("[질병보건통합관리시스템] %(body)s 승인 대기 %(count)d건 (가장 오래된 신청 "
                     "%(days)d일 전)") % {"body": officer.body.name, "count": row["count"],
                                       "days": days}
            late = overdue.get(officer.body_id, 0)
            if late:
                text += _(", %(days)d일 이상 대기 %(late)d건") % {"days": overdue_days,
                                                             "late": late}
            if officer.body_id not in seen_bodies:
                seen_bodies.add(officer.body_id)
                bodies += 1
                self.stdout.write(f"{officer.body.code} {officer.body.name}: {row['count']} "
                                  f"waiting, oldest {days} days, {late} overdue")
            if dry_run or not officer.user.mobile or officer.user.status == "withdrawn":
                continue
            send_sms(to=officer.user.mobile, text=text)
            sent += 1
        self.stdout.write(f"{bodies} bodies with waiting requests, {sent} officers notified"
                          + (" (dry run)" if dry_run else ""))
