from decimal import Decimal
from typing import Any

import pytest

from apps.inventory.models import StockItem
from apps.orders.models import Checkout, Order
from apps.payments.models import Payment
from tests.conftest import auth_client
from tests.orders.factories import ShopFactory, UserFactory, address_payload, stocked_variant
from tests.payments import stripe_fakes


@pytest.fixture
def buyer(db):
    return UserFactory()


@pytest.fixture
def buyer_client(buyer):
    return auth_client(buyer)


@pytest.fixture
def shop(db):
    return ShopFactory(name="Alpha", slug="alpha", shipping_fee=Decimal("5.00"))


@pytest.fixture
def seller(shop):
    return shop.owner


@pytest.fixture
def variant(shop):
    return stocked_variant(price="12.50", on_hand=10, shop=shop)


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


def stock_of(variant: Any) -> tuple[int, int]:
    item = StockItem.objects.get(variant=variant)
    return item.on_hand, item.reserved


def checkout_of(body: dict[str, Any]) -> Checkout:
    return Checkout.objects.get(number=body["checkout_number"])
