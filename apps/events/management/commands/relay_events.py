import logging
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection

from apps.events.kafka import close_producers
from apps.events.relay import RelayResult, relay_run
from apps.events.signals import stop_on_signals

logger = logging.getLogger(__name__)

# Waits after a database error, growing to the last one: a restart is over in seconds, and the
# relay must outlive it rather than exit (a supervisor restart would only add a delay).
DATABASE_RETRY_SECONDS = (0.5, 1, 2)


class Command(BaseCommand):
    help = (
        "Deliver pending outbox events to Kafka and subscribers, in a loop until SIGTERM/SIGINT "
        "(the current batch finishes first), or one pass with --once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass over what is pending")
        parser.add_argument("--interval", type=float, default=1.0, help="idle poll, seconds")
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, once: bool, interval: float, batch_size: int | None, **options):
        def announce(signum: int) -> None:
            self.stderr.write(f"signal {signum}: finishing the current batch, then exiting")

        total = 0
        started = time.monotonic()
        result = RelayResult()
        database_errors = 0
        with stop_on_signals(announce) as stop:
            while not stop.is_set():
                if not connection.in_atomic_block:  # (inside a test's transaction)
                    close_old_connections()
                try:
                    result = relay_run(batch_size=batch_size)
                except DatabaseError as exc:
                    if once or connection.in_atomic_block:
                        raise
                    wait = DATABASE_RETRY_SECONDS[
                        min(database_errors, len(DATABASE_RETRY_SECONDS) - 1)
                    ]
                    database_errors += 1
                    logger.warning("relay: database unavailable (%s); retrying in %gs", exc, wait)
                    connection.close()  # a new connection next time
                    stop.wait(wait)
                    continue
                database_errors = 0
                total += result.published
                if result.failed:
                    self.stderr.write(f"delivery failed, will retry: {result.error}")
                if once:
                    break
                if not result.published or result.failed or result.skipped:
                    stop.wait(interval)
        close_producers()
        note = " (another relay held the lock)" if once and result.skipped else ""
        self.stdout.write(f"relayed {total} event(s) in {time.monotonic() - started:.1f}s{note}")
