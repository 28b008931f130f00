"""Queue the webhook deliveries that are due: what the beat task `webhooks.sweep` does every few
seconds, for setups without Celery beat (the embedded default) or by hand."""

from django.core.management.base import BaseCommand

from apps.events.signals import stop_on_signals
from apps.webhooks.services import deliveries_due_enqueue


class Command(BaseCommand):
    help = "Queue (or, with eager tasks, send) the webhook deliveries that are due."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", type=float, default=0.0, help="Repeat every N seconds until stopped."
        )

    def handle(self, *args, loop: float, **options):
        with stop_on_signals() as stop:
            while True:
                queued = deliveries_due_enqueue()
                self.stdout.write(f"{queued} webhook delivery(ies) queued")
                if not loop or stop.wait(loop):
                    return
