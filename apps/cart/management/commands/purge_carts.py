from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.cart.services import cart_purge_idle_guests


class Command(BaseCommand):
    help = "Delete guest carts idle for CART_GUEST_TTL_DAYS days (or --days)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=settings.CART_GUEST_TTL_DAYS)

    def handle(self, *args: Any, **options: Any) -> None:
        purged = cart_purge_idle_guests(ttl_days=options["days"])
        self.stdout.write(f"Purged {purged} guest cart(s) idle for {options['days']} days.")
