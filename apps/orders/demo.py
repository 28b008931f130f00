"""Demo orders for `manage.py seed_demo`: the demo customer's orders in several states, made
through the services (placement, then the seller's moves).

Idempotent: each demo order is placed with its own idempotency key, so a second run finds the
checkout of the first and moves nothing.
"""

from typing import Any

from apps.catalog.models import Product, ProductVariant
from apps.inventory.models import StockItem
from apps.orders.models import Checkout, Order
from apps.orders.pricing import ItemInput
from apps.orders.services import order_place, order_transition
from apps.users.models import User

DEMO_CUSTOMER = "customer@example.com"
DEMO_ADDRESS = {
    "name": "Casey Customer",
    "line1": "742 Evergreen Terrace",
    "line2": "",
    "city": "Springfield",
    "state": "OR",
    "postal_code": "97403",
    "country": "US",
    "phone": "+1 541 555 0142",
}
# (idempotency key, the moves after placement)
DEMO_ORDERS: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = [
    ("demo-order-pending", []),
    ("demo-order-confirmed", [("confirmed", {})]),
    ("demo-order-shipped", [("confirmed", {}), ("shipped", {"tracking_number": "1Z999AA10123"})]),
    (
        "demo-order-delivered",
        [("confirmed", {}), ("shipped", {"tracking_number": "1Z999AA10456"}), ("delivered", {})],
    ),
    ("demo-order-cancelled", [("cancelled", {"reason": "Ordered the wrong size"})]),
]


def _variants(count: int) -> list[ProductVariant]:
    """Purchasable demo variants with stock to spare, at most one per product."""
    stocked = StockItem.objects.filter(
        variant__is_active=True,
        variant__product__status=Product.Status.PUBLISHED,
        on_hand__gte=5,
    ).order_by("variant__product__shop__slug", "variant__sku")
    picked: dict[Any, ProductVariant] = {}
    for item in stocked.select_related("variant"):
        if item.available >= 3 and item.variant.product_id not in picked:
            picked[item.variant.product_id] = item.variant
        if len(picked) == count:
            break
    return list(picked.values())


def seed(stdout: Any) -> None:
    customer = User.objects.filter(email=DEMO_CUSTOMER).first()
    if customer is None:
        stdout.write("orders: no demo customer yet; skipped")
        return
    keys = [key for key, _ in DEMO_ORDERS]
    done = set(
        Checkout.objects.filter(buyer=customer, idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    )
    todo = [(key, moves) for key, moves in DEMO_ORDERS if key not in done]
    if not todo:
        stdout.write("orders: demo orders already there")
        return
    variants = _variants(len(todo))
    if not variants:
        stdout.write("orders: no stocked demo products yet (run the catalog demo first); skipped")
        return
    created = 0
    for index, (key, moves) in enumerate(todo):
        variant = variants[index % len(variants)]
        checkout = order_place(
            buyer=customer,
            items=[ItemInput(variant_id=variant.pk, quantity=1)],
            shipping_address=DEMO_ADDRESS,
            idempotency_key=key,
        )
        for order in Order.objects.filter(checkout=checkout).select_related("shop"):
            for to, extra in moves:
                actor = customer if to == Order.Status.CANCELLED else order.shop.owner
                role = "buyer" if to == Order.Status.CANCELLED else "seller"
                order_transition(order_id=order.pk, to=to, actor=actor, actor_role=role, **extra)
        created += 1
    stdout.write(f"orders: {created} demo order(s) for {DEMO_CUSTOMER}")
