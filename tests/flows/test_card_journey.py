"""A buyer pays by card: the order is placed with a Stripe intent, the buyer's card is declined
once and then accepted at Stripe (localstripe), Stripe's signed webhooks mark it paid; the seller
ships and delivers; the shop's balance shows the sale less commission, pending and then
available; staff pay the shop out. Everything the buyer, seller and staff do goes through the
API."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from freezegun import freeze_time

from apps.orders.models import Order
from apps.payments.models import LedgerEntry
from tests.catalog.factories import make_product
from tests.conftest import auth_client
from tests.payments import stripe_fakes
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory, address_payload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_api")]


def test_card_order_paid_delivered_and_paid_out(new_api):
    shop = ShopFactory(name="Alpha", slug="alpha", shipping_fee=Decimal("5.00"))
    lamp = make_product(shop, name="Desk Lamp", price="20.00", stock=5)
    buyer = new_api().as_user(UserFactory())
    seller = new_api().as_user(shop.owner)
    stripe = new_api()  # Stripe calling the webhook: no credentials

    added = buyer.post(
        "/api/v1/cart/items", {"variant_id": str(lamp.variants.get().pk), "quantity": 2}
    )
    assert added.status_code == 201, added.content
    placed = buyer.post(
        "/api/v1/orders",
        {"shipping_address": address_payload(), "payment_method": "card"},
        HTTP_IDEMPOTENCY_KEY="card-journey-1",
    )
    assert placed.status_code == 201, placed.content
    body = placed.json()
    number, payment = body["checkout_number"], body["payment"]
    assert (body["total"], payment["amount"], payment["status"]) == (
        "45.00",
        "45.00",
        "awaiting_payment",
    )
    (order,) = body["orders"]
    assert order["payment_status"] == "awaiting_payment"
    intent_id = payment["client_secret"].split("_secret_")[0]

    # The seller cannot confirm before the money is there.
    early = seller.post(f"/api/v1/seller/orders/{order['id']}/transition", {"to": "confirmed"})
    assert (early.status_code, early.json()["code"]) == (409, "payment.not_paid")

    # The card is declined; Stripe says so; the buyer gets a fresh client secret and pays.
    assert stripe_fakes.confirm(intent_id, stripe_fakes.DECLINED_CARD) == 402
    failed = stripe_fakes.event("payment_intent.payment_failed", stripe_fakes.intent(intent_id))
    assert (
        stripe.client.post(
            "/api/v1/payments/webhooks/stripe",
            data=failed,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=stripe_fakes.signature(failed),
        ).json()["outcome"]
        == "applied"
    )
    assert buyer.get(f"/api/v1/orders/{order['id']}").json()["payment_status"] == "failed"
    retry = buyer.post(f"/api/v1/checkouts/{number}/pay")
    assert retry.status_code == 200, retry.content
    fresh = retry.json()["payment"]["client_secret"]
    assert fresh != payment["client_secret"]
    intent_id = fresh.split("_secret_")[0]
    assert stripe_fakes.confirm(intent_id) == 200
    succeeded = stripe_fakes.event("payment_intent.succeeded", stripe_fakes.intent(intent_id))
    delivered = stripe.client.post(
        "/api/v1/payments/webhooks/stripe",
        data=succeeded,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe_fakes.signature(succeeded),
    )
    assert delivered.json() == {"received": True, "outcome": "applied"}
    checkout = buyer.get(f"/api/v1/checkouts/{number}").json()
    assert checkout["payment"]["status"] == "paid"
    assert checkout["orders"][0]["payment_status"] == "paid"

    # The seller ships and delivers; the shop's balance shows the sale less 10 % commission.
    for to in ("confirmed", "shipped", "delivered"):
        moved = seller.post(f"/api/v1/seller/orders/{order['id']}/transition", {"to": to})
        assert moved.status_code == 200, moved.content
    assert seller.get("/api/v1/seller/balance").json() == {
        "pending": "40.50",
        "available": "0.00",
        "currency": "USD",
    }
    kinds = [e["kind"] for e in seller.get("/api/v1/seller/balance/entries").json()["results"]]
    assert sorted(kinds) == ["commission", "sale"]
    assert sum(e.amount for e in LedgerEntry.objects.filter(order_id=order["id"])) == 0

    # A week later it is available, and staff pay it out.
    with freeze_time(timezone.now() + timedelta(days=8)):
        seller.as_user(shop.owner)  # a fresh access token (the old one expired meanwhile)
        assert seller.get("/api/v1/seller/balance").json()["available"] == "40.50"
        staff = new_api().as_user(UserFactory(is_staff=True))
        too_much = staff.post(
            "/api/v1/payouts", {"shop": "alpha", "amount": "40.51", "reference": "W-1"}
        )
        assert (too_much.status_code, too_much.json()["code"]) == (409, "payout.exceeds_balance")
        paid_out = staff.post(
            "/api/v1/payouts", {"shop": "alpha", "amount": "40.50", "reference": "W-1"}
        )
        assert paid_out.status_code == 201, paid_out.content
        assert seller.get("/api/v1/seller/balance").json()["available"] == "0.00"

    assert Order.objects.get().payment_status == "paid"
    assert auth_client(UserFactory()).get(f"/api/v1/checkouts/{number}").status_code == 404
