"""Run by test_sqlite.py in a subprocess: the oversell race on a SQLite file database configured
exactly like the embedded default (config.settings.dev: WAL, IMMEDIATE transactions).

Usage: DATABASE_URL=sqlite:////tmp/x.sqlite3 python tests/orders/sqlite_oversell.py BUYERS UNITS
Prints one JSON line: {"vendor", "journal_mode", "outcomes", "on_hand", "reserved", "orders"}.
"""

import json
import os
import sys
import threading
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402


def main(buyers: int, units: int) -> None:
    call_command("migrate", verbosity=0)
    from apps.inventory.errors import InsufficientStock
    from apps.inventory.models import StockItem
    from apps.orders.models import Order
    from apps.orders.pricing import ItemInput
    from apps.orders.services import order_place
    from tests.orders.factories import UserFactory, address_payload, stocked_variant

    variant = stocked_variant(price="9.99", on_hand=units)
    users = [UserFactory() for _ in range(buyers)]
    barrier = threading.Barrier(buyers)
    outcomes: list[str] = []

    def buy(user) -> None:
        try:
            barrier.wait(timeout=30)
            order_place(
                buyer=user,
                items=[ItemInput(variant_id=variant.pk, quantity=1)],
                shipping_address=address_payload(),
            )
            outcomes.append("placed")
        except InsufficientStock:
            outcomes.append("insufficient_stock")
        except Exception as exc:  # reported, and the test fails on it
            outcomes.append(f"error:{type(exc).__name__}:{exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=buy, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    item = StockItem.objects.get(variant=variant)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal_mode = cursor.fetchone()[0]
    sys.stdout.write(
        json.dumps(
            {
                "vendor": connection.vendor,
                "journal_mode": journal_mode,
                "outcomes": dict(Counter(outcomes)),
                "on_hand": item.on_hand,
                "reserved": item.reserved,
                "orders": Order.objects.count(),
                "alive": sum(thread.is_alive() for thread in threads),
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
