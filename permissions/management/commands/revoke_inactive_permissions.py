from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from permissions.revocation import (
    RevocationAlreadyRunning,
    RevocationItem,
    RevocationReport,
    revocation_cutoff,
    revocation_lock,
    revoke_inactive,
    warn_before_revocation,
)


def _as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--as-of must be a date written YYYY-MM-DD (for example 2026-05-31), not {value!r}."
        ) from None


class Command(BaseCommand):
    help = (
        "Nightly job (seed 3-2). Sets to 미승인 (status 'revoked', reason '장기간(N개월 이상) "
        "미사용으로 자동 미승인') every approved grant of a revocable permission type whose last "
        "use (or approval day, if never used) is INACTIVITY_REVOCATION_MONTHS calendar months or "
        "more before the run date; writes one 'grant.revoked' audit row per grant (reason "
        "'inactivity') and queues one SMS per affected user in the outbox. Then queues one "
        "warning SMS per grant that will be revoked within --warn-days days unless used (once per "
        "grant and last-use period, recorded in Grant.warned_for). Touches only permissions_grant, "
        "kdcis_auditevent and kdcis_smsmessage. Idempotent: a second run the same day changes "
        "nothing; a second concurrent run on PostgreSQL exits saying another run is in progress. "
        "Ends with 'revoked N grants, N users affected, N users left with no permission'."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true",
            help="List the grants that would be revoked and count the warnings that would be "
                 "sent; change nothing and queue no SMS.",
        )
        parser.add_argument(
            "--as-of", metavar="YYYY-MM-DD",
            help="Run as of this date instead of today (Asia/Seoul): the cut-off is computed "
                 "from it. For replaying a missed night and for tests.",
        )
        parser.add_argument(
            "--warn-days", type=int, metavar="N", default=None,
            help="Warn by SMS N days ahead of a revocation (default: INACTIVITY_WARN_DAYS = "
                 f"{settings.INACTIVITY_WARN_DAYS}); 0 sends no warnings.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=5000, metavar="N",
            help="Grants per transaction (default 5000).",
        )

    def handle(self, *args, dry_run=False, as_of=None, warn_days=None, batch_size=5000,
               **options):
        day = _as_of(as_of) if as_of else timezone.localdate()
        warn_days = settings.INACTIVITY_WARN_DAYS if warn_days is None else warn_days
        if warn_days < 0:
            raise CommandError("--warn-days must be 0 or more.")
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        verbosity = int(options.get("verbosity", 1))
        show_progress = self.stdout.isatty() and verbosity >= 1
        if verbosity >= 1:
            prefix = "Dry run: nothing will change. " if dry_run else ""
            self.stdout.write(
                f"{prefix}As of {day.isoformat()}: grants last used on or before "
                f"{revocation_cutoff(day).isoformat()} are revoked."
            )
        try:
            if dry_run:
                report, warned = self._run(day, dry_run, warn_days, batch_size,
                                           verbosity, show_progress)
            else:
                with revocation_lock():
                    report, warned = self._run(day, dry_run, warn_days, batch_size,
                                               verbosity, show_progress)
        except RevocationAlreadyRunning:
            self.stderr.write("Another revoke_inactive_permissions run is in progress; this one "
                              "did nothing.")
            return
        if show_progress:
            self.stdout.write("")
        if warn_days:
            verb = "would warn" if dry_run else "warned"
            self.stdout.write(f"{verb} {warned} grants due within {warn_days} days")
        self.stdout.write(report.summary())

    def _run(self, day: date, dry_run: bool, warn_days: int, batch_size: int,
             verbosity: int, show_progress: bool) -> tuple[RevocationReport, int]:
        def progress(report: RevocationReport) -> None:
            total = report.candidates or 0
            verb = "checked" if dry_run else "revoked"
            self.stdout.write(f"\r{verb} {report.grants_revoked} / {total} grants", ending="")
            self.stdout.flush()

        def listed(item: RevocationItem) -> None:
            if show_progress:
                self.stdout.write("")
            last = item.last_used.isoformat() if item.last_used else "never (approval day)"
            self.stdout.write(
                f"would revoke grant #{item.grant_id} '{item.permission}' of {item.username} "
                f"(last used {last})"
            )

        report = revoke_inactive(
            as_of=day, dry_run=dry_run, batch_size=batch_size,
            progress=progress if show_progress else None,
            on_item=listed if dry_run and verbosity >= 1 else (lambda item: None),
        )
        warned = warn_before_revocation(as_of=day, warn_days=warn_days, dry_run=dry_run,
                                        batch_size=batch_size)
        return report, warned
