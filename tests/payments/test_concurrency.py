"""Payments under real concurrency on PostgreSQL (threads, each with its own connection, through
the whole HTTP stack) and the interleavings they can produce, one by one: a payment arriving
while the buyer cancels never leaves an order cancelled and paid, and nothing is refunded
twice; two payouts cannot spend one balance."""

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from apps.events.models import OutboxEvent
from apps.orders.models import Order
from apps.orders.payment_methods import Move, OrderState
from apps.payments.models import LedgerEntry, Payment, ProviderEvent, Refund
from apps.payments.refunds import refund_open
from tests.conftest import auth_client
from tests.orders.factories import ShopFactory, UserFactory, stocked_variant
from tests.payments import stripe_fakes
from tests.payments.conftest import orders_of, payment_of, place_card
from tests.services import need_postgres

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stripe_api")]


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run every call at once, each in its own thread; returns their results."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            time.sleep(random.random() / 100)
            results[index] = call()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a call hung (deadlock?)"
    return results


def _confirmed_at_stripe(client: Any, variant: Any) -> tuple[dict, bytes]:
    body = place_card(client, (variant, 1))
    payment = payment_of(body)
    assert stripe_fakes.confirm(payment.intent_id) == 200
    event = stripe_fakes.event("payment_intent.succeeded", stripe_fakes.intent(payment.intent_id))
    return body, event


def _refunded_once(body: dict) -> Refund:
    """The order is cancelled and refunded, by exactly one refund, here and at Stripe."""
    (order,) = orders_of(body)
    assert (order.status, order.payment_status) == ("cancelled", "refunded")
    (refund,) = Refund.objects.filter(order=order)
    assert (refund.status, refund.amount) == ("succeeded", order.total)
    payment = payment_of(body)
    (made,) = stripe_fakes.refunds(payment.intent_id)
    assert (made["id"], made["amount"]) == (refund.provider_refund_id, int(order.total * 100))
    assert (payment.status, payment.amount_refunded) == ("refunded", order.total)
    return refund


def test_webhook_then_cancel_refunds_the_cancelled_order(api_client):
    buyer = UserFactory()
    client = auth_client(buyer)
    body, event = _confirmed_at_stripe(client, stocked_variant(price="20.00", on_hand=5))
    assert stripe_fakes.deliver(api_client, event).json()["outcome"] == "applied"
    (order,) = orders_of(body)

    cancelled = client.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json")

    assert cancelled.status_code == 200
    assert _refunded_once(body).reason == "cancel"


def test_cancel_then_webhook_gives_the_late_money_back(api_client):
    client = auth_client(UserFactory())
    first = stocked_variant(price="20.00", on_hand=5)
    second = stocked_variant(price="15.00", on_hand=5)
    body = place_card(client, (first, 1), (second, 1))
    payment = payment_of(body)
    assert stripe_fakes.confirm(payment.intent_id) == 200
    event = stripe_fakes.event("payment_intent.succeeded", stripe_fakes.intent(payment.intent_id))
    cancelled, kept = orders_of(body)
    assert (
        client.post(f"/api/v1/orders/{cancelled.pk}/cancel", {}, format="json").status_code == 200
    )

    delivered = stripe_fakes.deliver(api_client, event)

    assert delivered.json()["outcome"] == "applied"
    cancelled.refresh_from_db()
    kept.refresh_from_db()
    assert [(o.status, o.payment_status) for o in (cancelled, kept)] == [
        ("cancelled", "refunded"),
        ("pending", "paid"),
    ]
    (refund,) = Refund.objects.all()
    assert (refund.order_id, refund.reason, refund.status, refund.amount) == (
        cancelled.pk,
        "late_payment",
        "succeeded",
        cancelled.total,
    )
    (made,) = stripe_fakes.refunds(payment.intent_id)
    assert made["amount"] == int(cancelled.total * 100)


def test_cancelling_the_last_order_finds_a_payment_on_its_way(api_client):
    """The intent of a fully cancelled checkout is cancelled; one already paid is applied as paid
    there and then, and its money goes back; the webhook that follows has nothing left to do."""
    client = auth_client(UserFactory())
    body, event = _confirmed_at_stripe(client, stocked_variant(price="20.00", on_hand=5))
    (order,) = orders_of(body)

    assert client.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json").status_code == 200

    refund = _refunded_once(body)
    assert (refund.reason, refund.transition_to) == ("late_payment", "")
    assert stripe_fakes.deliver(api_client, event).json()["outcome"] == "stale"


def test_concurrent_webhook_and_cancel_never_pay_a_cancelled_order():
    need_postgres()
    variant = stocked_variant(price="20.00", on_hand=50)
    reasons = Counter()
    for _ in range(6):
        client = auth_client(UserFactory())
        body, event = _confirmed_at_stripe(client, variant)
        (order,) = orders_of(body)

        webhook, cancel = _race(
            lambda event=event: stripe_fakes.deliver(auth_client(UserFactory()), event),
            lambda client=client, order=order: client.post(
                f"/api/v1/orders/{order.pk}/cancel", {}, format="json"
            ),
        )

        assert webhook.status_code == 200, webhook.content
        assert cancel.status_code == 200, cancel.content
        reasons[_refunded_once(body).reason] += 1
    assert sum(reasons.values()) == 6
    assert not Order.objects.filter(status="cancelled", payment_status="paid").exists()


def test_two_cancels_of_a_paid_order_refund_it_once(api_client):
    need_postgres()
    variant = stocked_variant(price="20.00", on_hand=5)
    client = auth_client(UserFactory())
    body, event = _confirmed_at_stripe(client, variant)
    stripe_fakes.deliver(api_client, event)
    (order,) = orders_of(body)
    seller = auth_client(order.shop.owner)

    results = _race(
        lambda: client.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json"),
        lambda: seller.post(
            f"/api/v1/seller/orders/{order.pk}/transition", {"to": "cancelled"}, format="json"
        ),
    )

    assert sorted(r.status_code for r in results) == [200, 409]
    (refused,) = [r for r in results if r.status_code == 409]
    assert refused.json()["code"] in ("payment.refund_in_progress", "order.invalid_transition")
    _refunded_once(body)


def test_no_move_while_a_refund_is_being_made(api_client):
    client = auth_client(UserFactory())
    body, event = _confirmed_at_stripe(client, stocked_variant(price="20.00", on_hand=5))
    stripe_fakes.deliver(api_client, event)
    (order,) = orders_of(body)
    # The buyer's cancel has opened its refund and is waiting for Stripe's answer.
    refund_open(
        move=Move(order_id=order.pk, to="cancelled", actor=order.buyer, actor_role="buyer"),
        state=OrderState(
            status="pending",
            payment_method="card",
            payment_status="paid",
            seller_id=order.shop.owner_id,
        ),
    )
    seller = auth_client(order.shop.owner)

    confirm = seller.post(
        f"/api/v1/seller/orders/{order.pk}/transition", {"to": "confirmed"}, format="json"
    )
    again = client.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json")

    assert (confirm.status_code, confirm.json()["code"]) == (409, "payment.refund_in_progress")
    assert (again.status_code, again.json()["code"]) == (409, "payment.refund_in_progress")
    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("pending", "paid")


def test_two_payouts_cannot_spend_one_balance(staff):
    need_postgres()
    shop = ShopFactory(slug="beta")
    LedgerEntry.objects.create(
        posting="sale:test",
        account=LedgerEntry.Account.SHOP,
        kind=LedgerEntry.Kind.SALE,
        amount=Decimal("100.00"),
        shop=shop,
        currency="USD",
        available_at=timezone.now() - timedelta(days=1),
    )
    client = auth_client(staff)

    results = _race(
        *[
            lambda n=n: client.post(
                "/api/v1/payouts",
                {"shop": "beta", "amount": "60.00", "reference": f"T-{n}"},
                format="json",
            )
            for n in range(2)
        ]
    )

    assert sorted(r.status_code for r in results) == [201, 409]
    (refused,) = [r for r in results if r.status_code == 409]
    assert (refused.json()["code"], refused.json()["available"]) == (
        "payout.exceeds_balance",
        "40.00",
    )
    entries = LedgerEntry.objects.filter(shop=shop, account="shop")
    assert sum(e.amount for e in entries) == Decimal("40.00")
    assert Payment.objects.count() == 0


def test_one_event_delivered_twice_at_once_is_handled_once():
    """Stripe may deliver an event again before the first delivery is answered: the second
    waits on the event's unique row and then does nothing."""
    need_postgres()
    client = auth_client(UserFactory())
    body, event = _confirmed_at_stripe(client, stocked_variant(price="20.00", on_hand=5))
    (order,) = orders_of(body)

    first, second = _race(
        lambda: stripe_fakes.deliver(auth_client(UserFactory()), event),
        lambda: stripe_fakes.deliver(auth_client(UserFactory()), event),
    )

    assert (first.status_code, second.status_code) == (200, 200)
    assert sorted([first.json()["outcome"], second.json()["outcome"]]) == ["applied", "duplicate"]
    assert ProviderEvent.objects.count() == 1
    assert OutboxEvent.objects.filter(type="order.paid", key=str(order.pk)).count() == 1
    order.refresh_from_db()
    assert order.payment_status == "paid"
    assert payment_of(body).status == "paid"
