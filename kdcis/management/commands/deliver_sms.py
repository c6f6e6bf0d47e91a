"""`manage.py deliver_sms`: deliver the SMS outbox once, or keep doing it as a worker."""

from __future__ import annotations

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from kdcis.sms import DeliveryReport, deliver_pending, get_backend

logger = logging.getLogger("kdcis.sms")


class Command(BaseCommand):
    help = (
        "Deliver queued SMS messages (the kdcis SmsMessage outbox) whose next attempt is due, "
        "through the backend named by SMS_BACKEND, and print 'sent N, retried N, failed N'. "
        "Without --loop it makes one pass of at most --limit messages and exits. With --loop "
        "it runs as a worker: it drains what is due, sleeps --interval seconds when nothing is "
        "left, and stops cleanly on SIGTERM or Ctrl-C after the message in progress. Several "
        "workers may run at once: each message is claimed by one of them only."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", action="store_true",
            help="Keep delivering until SIGTERM/SIGINT instead of making one pass.",
        )
        parser.add_argument(
            "--interval", type=float, default=5.0, metavar="SECONDS",
            help="With --loop: seconds to wait when nothing was due (default: 5).",
        )
        parser.add_argument(
            "--limit", type=int, default=100, metavar="N",
            help="Most messages claimed per pass (default: 100).",
        )

    def handle(self, *args, loop: bool, interval: float, limit: int, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        if interval <= 0:
            raise CommandError("--interval must be a positive number of seconds.")
        backend = get_backend()
        if not loop:
            self.stdout.write(str(deliver_pending(limit=limit, backend=backend)))
            return
        self._run_worker(backend=backend, interval=interval, limit=limit)

    def _run_worker(self, *, backend, interval: float, limit: int) -> None:
        stop = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            def request_stop(signum, frame):
                logger.info("deliver_sms: %s received, stopping", signal.Signals(signum).name)
                stop.set()

            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, request_stop)

        totals = DeliveryReport()
        logger.info("deliver_sms worker started (interval %ss, limit %s)", interval, limit)
        try:
            while not stop.is_set():
                close_old_connections()
                try:
                    report = deliver_pending(limit=limit, backend=backend,
                                             should_stop=stop.is_set)
                except Exception:
                    # A database restart or a network blip must not end the worker.
                    logger.exception("deliver_sms: delivery pass failed; retrying")
                    connection.close()
                    stop.wait(interval)
                    continue
                totals += report
                if report.total:
                    self.stdout.write(str(report))
                # A full batch means more may be due: go on at once, otherwise wait.
                if report.total + report.skipped < limit:
                    stop.wait(interval)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stdout.write(f"stopped; total {totals}")
