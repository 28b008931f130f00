"""Run by test_sqlite.py in a subprocess: the oversell race on a SQLite file database configured
exactly like the embedded default (config.settings.dev: WAL, IMMEDIATE transactions).

Usage: DATABASE_URL=sqlite:////tmp/x.sqlite3 python tests/orders/sqlite_oversell.py BUYERS UNITS
Every buyer orders one unit of the scarce variant and one of an ample variant of another shop
(two orders, one two-line stock reservation). Afterwards the orders of one checkout are cancelled
(release) and those of another shipped (fulfil), so every stock statement also runs on SQLite.
Prints one JSON line: {"vendor", "journal_mode", "outcomes", "on_hand", "reserved", "orders",
"ample", "after_moves"}.
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
    from apps.orders.models import Checkout, Order
    from apps.orders.pricing import ItemInput
    from apps.orders.services import order_place
    from tests.orders.factories import UserFactory, address_payload, stocked_variant

    variant = stocked_variant(price="9.99", on_hand=units)
    ample = stocked_variant(price="1.00", on_hand=1000)
    users = [UserFactory() for _ in range(buyers)]
    barrier = threading.Barrier(buyers)
    outcomes: list[str] = []

    def buy(user) -> None:
        try:
            barrier.wait(timeout=30)
            order_place(
                buyer=user,
                items=[
                    ItemInput(variant_id=variant.pk, quantity=1),
                    ItemInput(variant_id=ample.pk, quantity=2),
                ],
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
    ample_item = StockItem.objects.get(variant=ample)
    ample_state = [ample_item.on_hand, ample_item.reserved]
    after_moves = None
    if Order.objects.count() >= 4:
        from apps.orders.services import order_transition

        first, second = Checkout.objects.order_by("created_at", "id").prefetch_related("orders")[:2]
        for order in first.orders.all():
            order_transition(order_id=order.pk, to="cancelled", actor=None, actor_role="staff")
        for order in second.orders.all():
            order_transition(order_id=order.pk, to="confirmed", actor=None, actor_role="staff")
            order_transition(
                order_id=order.pk, to="shipped", actor=None, actor_role="staff",
                tracking_number="T-1",
            )  # fmt: skip
        after_moves = [
            list(StockItem.objects.filter(variant=v).values_list("on_hand", "reserved")[0])
            for v in (variant, ample)
        ]
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
                "ample": ample_state,
                "after_moves": after_moves,
                "alive": sum(thread.is_alive() for thread in threads),
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
