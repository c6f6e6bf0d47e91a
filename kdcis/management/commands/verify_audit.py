from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kdcis.audit import verification_record, verify_chain


class Command(BaseCommand):
    help = ("Nightly: walk the audit trail's hash chain (kdcis_auditevent in seq order, then "
            "the head kdcis_auditchain) and check every row's link and content; a row "
            "scrubbed at a withdrawal passes only through its scrub record. Records the result "
            "in kdcis_auditverification (shown on the admin's reports page) and exits non-zero "
            "naming the first row that was altered, deleted or inserted out of order. Reads "
            "only; safe to run at any time, also twice at once.")

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=10000,
                            help="rows fetched per round trip (default 10000)")

    def handle(self, *args, chunk_size: int, **options):
        started = timezone.now()
        report = verify_chain(chunk_size=chunk_size)
        verification_record(report=report, started_at=started)
        if not report.ok:
            raise CommandError(f"audit chain broken at row {report.bad_row_id} "
                               f"(seq {report.bad_seq}): {report.problem}")
        self.stdout.write(f"audit chain intact: {report.rows_checked} rows, head seq "
                          f"{report.head_seq} hash {report.head_hash}")
