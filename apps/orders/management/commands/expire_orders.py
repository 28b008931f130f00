"""`manage.py expire_orders`: cancel pending orders older than ORDER_PENDING_TTL, the same work
as the periodic `orders.expire_pending` task (for setups without Celery beat, or by hand)."""

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.orders.services import orders_expire


class Command(BaseCommand):
    help = "Cancel pending orders not confirmed within ORDER_PENDING_TTL (reason: expired)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="At most this many per batch.")
        parser.add_argument("--all", action="store_true", help="Repeat batches until none is left.")

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        while True:
            cancelled = orders_expire(limit=options["limit"])
            total += cancelled
            if not options["all"] or cancelled < options["limit"]:
                break
        self.stdout.write(
            f"Cancelled {total} pending order(s) older than {settings.ORDER_PENDING_TTL}."
        )
