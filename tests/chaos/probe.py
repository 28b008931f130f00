"""The chaos suite's view from inside Django (run as a subprocess with the stack's environment):

    python -m tests.chaos.probe seed       # the template database's shops, products and codes
    python -m tests.chaos.probe snapshot   # what the checks compare, as JSON

The suite's own process never connects to the stack's database: a snapshot is taken once the
load is over, by the same ORM and settings the application uses.
"""

import json
import os
import sys
from decimal import Decimal
from typing import Any

SHOPS = 3
PRODUCTS_PER_SHOP = 20  # x 3 variants
STOCK = 1_000_000  # ample: a refusal for lack of stock would hide the faults' effects


def seed() -> dict[str, Any]:
    from apps.catalog.models import ProductVariant
    from apps.discounts.services import discount_create
    from apps.inventory.demo import seed_bulk
    from apps.shops.services import shop_create
    from apps.users.models import User

    shops = []
    for index in range(SHOPS):
        seller = User.objects.create_user(f"seller{index}@chaos.example", name=f"Seller {index}")
        shop = shop_create(owner=seller, name=f"Chaos Shop {index}")
        seed_bulk(PRODUCTS_PER_SHOP, shop, stock=STOCK)
        code = f"CHAOS{index}"
        discount_create(shop=shop, code=code, name="Ten off", type="percentage", value=Decimal(10))
        shops.append({"slug": shop.slug, "code": code})
    variants = ProductVariant.objects.filter(product__shop__owner__email__endswith="@chaos.example")
    rows = variants.values_list("id", "product_id", "product__shop__slug")
    return {
        "shops": shops,
        "variants": [{"id": str(v), "shop": shop} for v, _, shop in rows],
        "products": sorted({str(p) for _, p, _ in rows}),
    }


def snapshot() -> dict[str, Any]:
    from django.db.models import Count, Q, Sum

    from apps.discounts.models import Discount
    from apps.events.dead_letters import dead_letters_list
    from apps.events.models import OutboxEvent
    from apps.inventory.models import StockItem
    from apps.notifications.models import Notification, NotificationType
    from apps.orders.models import Checkout, Order, OrderLine
    from config.celery import WORK_QUEUES

    open_statuses = [Order.Status.PENDING, Order.Status.CONFIRMED]
    open_lines = (
        OrderLine.objects.filter(order__status__in=open_statuses)
        .values("variant_id")
        .annotate(quantity=Sum("quantity"))
    )
    return {
        "checkouts": list(
            Checkout.objects.annotate(orders_count=Count("orders")).values(
                "id", "idempotency_key", "buyer__email", "orders_count"
            )
        ),
        "orders": list(
            Order.objects.values(
                "id",
                "number",
                "checkout_id",
                "status",
                "buyer_id",
                "buyer__email",
                "shop__owner_id",
                "shop__owner__email",
            )
        ),
        "order_events": list(
            OutboxEvent.objects.filter(type__startswith="order.").values(
                "id", "type", "key", "published_at"
            )
        ),
        "events_pending": OutboxEvent.objects.filter(published_at=None).count(),
        "order_placed_notifications": list(
            Notification.objects.filter(type=NotificationType.ORDER_PLACED).values(
                "data__order_id", "recipient_id"
            )
        ),
        "stock": list(StockItem.objects.values("variant_id", "on_hand", "reserved")),
        "open_line_quantities": {str(r["variant_id"]): r["quantity"] for r in open_lines},
        "discounts": list(
            Discount.objects.annotate(
                redemptions_open=Count("redemptions", filter=Q(redemptions__released_at=None))
            ).values("code", "uses_count", "redemptions_open")
        ),
        "dead_letters": {
            queue: [letter.task for letter in dead_letters_list(queue)] for queue in WORK_QUEUES
        },
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")
    import django

    django.setup()
    command = {"seed": seed, "snapshot": snapshot}[sys.argv[1]]
    json.dump(command(), sys.stdout, default=str)


if __name__ == "__main__":
    main()
