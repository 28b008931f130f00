"""Order test data, made through the services (an order is only ever what order_place wrote)."""

from decimal import Decimal
from typing import Any

from apps.orders.models import Checkout, Order
from apps.orders.pricing import CodeInput, ItemInput
from apps.orders.services import order_place, order_transition
from tests.cart.factories import stocked_variant
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory, address_payload

__all__ = [
    "ShopFactory",
    "UserFactory",
    "address_payload",
    "order_in",
    "place",
    "stocked_variant",
]


def place(
    buyer: Any,
    *lines: tuple[Any, int],
    codes: tuple[tuple[str, str], ...] = (),
    **kwargs: Any,
) -> Checkout:
    """Place explicit (variant, quantity) lines for `buyer` with a valid address."""
    kwargs.setdefault("shipping_address", address_payload())
    return order_place(
        buyer=buyer,
        items=[ItemInput(variant_id=variant.pk, quantity=quantity) for variant, quantity in lines],
        discounts=[CodeInput(shop=shop, code=code) for shop, code in codes],
        **kwargs,
    )


# The moves (and who makes them) that bring a new order to each status.
PATHS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "pending": [],
    "confirmed": [("confirmed", {})],
    "shipped": [("confirmed", {}), ("shipped", {"tracking_number": "TRK-1"})],
    "delivered": [
        ("confirmed", {}),
        ("shipped", {"tracking_number": "TRK-1"}),
        ("delivered", {}),
    ],
    "cancelled": [("cancelled", {"reason": "changed my mind"})],
    "refunded": [
        ("confirmed", {}),
        ("shipped", {"tracking_number": "TRK-1"}),
        ("delivered", {}),
        ("refunded", {}),
    ],
}


def order_in(status: str, *, buyer: Any = None, variant: Any = None, quantity: int = 2) -> Order:
    """A one-line order of a new shop's variant (or `variant`), moved to `status` by its seller."""
    buyer = buyer or UserFactory()
    variant = variant or stocked_variant(price="12.50", on_hand=10)
    (order,) = place(buyer, (variant, quantity)).orders.all()
    for to, extra in PATHS[status]:
        order_transition(
            order_id=order.pk,
            to=to,
            actor=order.shop.owner,
            actor_role="seller",
            **extra,
        )
    order.refresh_from_db()
    return order


def money(value: str) -> Decimal:
    return Decimal(value)
