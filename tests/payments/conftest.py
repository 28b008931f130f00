from typing import Any

from apps.orders.models import Checkout, Order
from apps.payments.models import Payment

# The checkout fixtures (buyer, buyer_client, shop, seller, variant) and helpers are the orders
# suite's own: imported here, they serve the payments tests too.
from tests.orders.conftest import buyer, buyer_client, seller, shop, stock_of, variant  # noqa: F401
from tests.orders.factories import address_payload
from tests.payments import stripe_fakes


def place_card(
    client: Any, *lines: tuple[Any, int], headers: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """POST /orders with payment_method card; returns the 201 body."""
    response = client.post(
        "/api/v1/orders",
        {
            "items": [{"variant_id": str(v.pk), "quantity": q} for v, q in lines],
            "shipping_address": address_payload(),
            "payment_method": "card",
            **extra,
        },
        format="json",
        **(headers or {}),
    )
    assert response.status_code == 201, response.content
    return response.json()


def payment_of(body: dict[str, Any]) -> Payment:
    return Payment.objects.get(checkout__number=body["checkout_number"])


def orders_of(body: dict[str, Any]) -> list[Order]:
    return list(Order.objects.filter(checkout__number=body["checkout_number"]).order_by("number"))


def pay(client: Any, body: dict[str, Any]) -> None:
    """The buyer pays at Stripe; Stripe tells the platform (a signed webhook)."""
    payment = payment_of(body)
    assert stripe_fakes.confirm(payment.intent_id) == 200
    event = stripe_fakes.event("payment_intent.succeeded", stripe_fakes.intent(payment.intent_id))
    response = stripe_fakes.deliver(client, event)
    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "outcome": "applied"}


def checkout_of(body: dict[str, Any]) -> Checkout:
    return Checkout.objects.get(number=body["checkout_number"])
