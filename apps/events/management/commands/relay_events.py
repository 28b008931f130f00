import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from apps.events.kafka import close_producers
from apps.events.relay import RelayResult, relay_run
from apps.events.signals import stop_on_signals


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
        with stop_on_signals(announce) as stop:
            while not stop.is_set():
                if not connection.in_atomic_block:  # (inside a test's transaction)
                    close_old_connections()
                result = relay_run(batch_size=batch_size)
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
