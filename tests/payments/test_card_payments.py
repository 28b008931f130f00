"""Card payments end to end against localstripe: placement creates the intent, the buyer pays
at Stripe, Stripe's signed webhook marks the orders paid; failure and retry; expiry; refunds."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.discounts.models import Discount
from apps.events.models import OutboxEvent
from apps.orders.models import Checkout, Order
from apps.orders.services import orders_expire
from apps.payments.models import Payment, ProviderEvent, Refund
from tests.conftest import auth_client
from tests.discounts.factories import DiscountFactory
from tests.orders.factories import ShopFactory, stocked_variant
from tests.payments import stripe_fakes
from tests.payments.conftest import (
    checkout_of,
    orders_of,
    pay,
    payment_of,
    place_card,
    stock_of,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_api")]


def events_of(type_: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=type_).order_by("seq"))


def test_card_placement_creates_one_intent_for_the_checkout(buyer_client, variant, shop):
    other = stocked_variant(price="30.00", on_hand=5, shop=ShopFactory(shipping_fee=Decimal(0)))

    body = place_card(buyer_client, (variant, 2), (other, 1))

    payment = payment_of(body)
    assert body["total"] == "60.00"  # 25.00 + 5.00 shipping, 30.00
    assert body["payment"] == {
        "id": str(payment.pk),
        "provider": "stripe",
        "status": "awaiting_payment",
        "amount": "60.00",
        "currency": "USD",
        "client_secret": payment.client_secret,
        "expires_at": (checkout_of(body).created_at + timedelta(minutes=30))
        .isoformat()
        .replace("+00:00", "Z"),
        "error": None,
    }
    assert [(o["status"], o["payment_status"], o["payment_method"]) for o in body["orders"]] == [
        ("pending", "awaiting_payment", "card"),
        ("pending", "awaiting_payment", "card"),
    ]
    intent = stripe_fakes.intent(payment.intent_id)
    assert intent["client_secret"] == payment.client_secret
    assert (intent["amount"], intent["currency"], intent["status"]) == (
        6000,
        "usd",
        "requires_payment_method",
    )
    orders = orders_of(body)
    assert intent["metadata"] == {
        "checkout_number": body["checkout_number"],
        "checkout_id": body["id"],
        "payment_id": str(payment.pk),
        "order_ids": ",".join(str(o.pk) for o in orders),
        "order_count": "2",
    }
    # Stock is reserved as for cash on delivery.
    assert stock_of(variant) == (10, 2)


def test_pay_marks_every_order_paid_and_emits_order_paid(buyer_client, api_client, variant):
    body = place_card(buyer_client, (variant, 2))
    payment = payment_of(body)

    pay(api_client, body)

    payment.refresh_from_db()
    assert (payment.status, payment.amount_received, payment.paid_at is not None) == (
        "paid",
        Decimal("30.00"),
        True,
    )
    (order,) = orders_of(body)
    assert (order.status, order.payment_status) == ("pending", "paid")
    (paid,) = events_of("order.paid")
    assert paid.key == str(order.pk)
    assert paid.topic == "orders"
    assert paid.payload["checkout_number"] == body["checkout_number"]
    assert (paid.payload["total"], paid.payload["currency"]) == ("30.00", "USD")
    record = ProviderEvent.objects.get()
    assert (record.type, record.outcome, record.payment_id) == (
        "payment_intent.succeeded",
        "applied",
        payment.pk,
    )
    assert "client_secret" not in record.payload  # the secret is never stored
    # The buyer sees it.
    detail = buyer_client.get(f"/api/v1/checkouts/{body['checkout_number']}").json()
    assert detail["payment"]["status"] == "paid"
    assert detail["payment"]["client_secret"] is None
    assert detail["orders"][0]["payment_status"] == "paid"


def test_fail_then_retry_then_pay(buyer_client, api_client, variant):
    body = place_card(buyer_client, (variant, 1))
    payment = payment_of(body)
    assert stripe_fakes.confirm(payment.intent_id, stripe_fakes.DECLINED_CARD) == 402
    failed = stripe_fakes.intent(payment.intent_id)
    assert failed["status"] == "requires_payment_method"

    response = stripe_fakes.deliver(
        api_client, stripe_fakes.event("payment_intent.payment_failed", failed)
    )

    assert response.status_code == 200
    payment.refresh_from_db()
    assert (payment.status, payment.error_code, payment.last_error) == (
        "failed",
        "payment.failed",
        "Your card was declined.",
    )
    (order,) = orders_of(body)
    assert (order.status, order.payment_status) == ("pending", "failed")
    (event,) = events_of("payment.failed")
    assert (event.key, event.topic, event.payload["reason"]) == (
        str(payment.pk),
        "payments",
        "Your card was declined.",
    )

    # The buyer asks to pay again: a fresh intent and client secret; the failed intent is
    # cancelled, so the checkout can never be paid twice.
    retry = buyer_client.post(f"/api/v1/checkouts/{body['checkout_number']}/pay")
    assert retry.status_code == 200, retry.content
    first_intent = payment.intent_id
    payment.refresh_from_db()
    assert payment.intent_id != first_intent
    assert payment.intent_attempt == 2
    assert retry.json()["payment"]["status"] == "failed"
    assert retry.json()["payment"]["client_secret"] == payment.client_secret
    assert stripe_fakes.intent(payment.intent_id)["client_secret"] == payment.client_secret
    assert stripe_fakes.intent(first_intent)["status"] == "canceled"
    assert retry.json()["payment"]["error"] is None  # the fresh intent has not failed

    pay(api_client, body)

    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.payment_status, payment.status, payment.error_code) == ("paid", "paid", "")


def test_unpaid_card_checkout_expires_after_the_payment_window(
    buyer_client, buyer, shop, variant, django_capture_on_commit_callbacks
):
    DiscountFactory(shop=shop, code="TEN", type=Discount.Type.PERCENTAGE, value=Decimal("10"))
    body = place_card(buyer_client, (variant, 2), discounts=[{"shop": "alpha", "code": "TEN"}])
    payment = payment_of(body)
    discount = Discount.objects.get(code="TEN")
    assert (stock_of(variant), discount.uses_count) == ((10, 2), 1)

    # Inside the window nothing happens.
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_expire(now=timezone.now() + timedelta(minutes=29)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = orders_expire(now=timezone.now() + timedelta(minutes=31))

    assert cancelled == 1
    (order,) = orders_of(body)
    assert (order.status, order.cancel_reason, order.cancelled_by, order.payment_status) == (
        "cancelled",
        "payment_expired",
        "system",
        "awaiting_payment",
    )
    discount.refresh_from_db()
    assert (stock_of(variant), discount.uses_count) == ((10, 0), 0)
    payment.refresh_from_db()
    assert (payment.status, payment.client_secret) == ("cancelled", "")
    assert stripe_fakes.intent(payment.intent_id)["status"] == "canceled"
    # No longer payable.
    response = buyer_client.post(f"/api/v1/checkouts/{body['checkout_number']}/pay")
    assert response.status_code == 409
    assert response.json()["code"] == "payment.not_payable"


def test_cancel_after_pay_refunds_the_order(buyer_client, api_client, variant):
    body = place_card(buyer_client, (variant, 2))
    pay(api_client, body)
    (order,) = orders_of(body)
    payment = payment_of(body)

    response = buyer_client.post(
        f"/api/v1/orders/{order.pk}/cancel", {"reason": "changed my mind"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["payment_status"]) == (
        "cancelled",
        "refunded",
    )
    refund = Refund.objects.get()
    assert (refund.order_id, refund.amount, refund.status, refund.reason) == (
        order.pk,
        Decimal("30.00"),
        "succeeded",
        "cancel",
    )
    assert (refund.transition_to, refund.transition_applied, refund.attempts) == (
        "cancelled",
        True,
        1,
    )
    (made,) = stripe_fakes.refunds(payment.intent_id)
    assert (made["id"], made["amount"], made["metadata"]["refund_key"]) == (
        refund.provider_refund_id,
        3000,
        f"order-{order.pk}-refund-1",
    )
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("refunded", Decimal("30.00"))
    assert stock_of(variant) == (10, 0)
    (event,) = events_of("payment.refunded")
    assert (event.key, event.payload["order_id"], event.payload["amount"]) == (
        str(payment.pk),
        str(order.pk),
        "30.00",
    )
    # The checkout shows the refund history.
    detail = buyer_client.get(f"/api/v1/checkouts/{body['checkout_number']}").json()
    assert detail["payment"]["amount_refunded"] == "30.00"
    assert [(r["order_id"], r["amount"], r["status"]) for r in detail["payment"]["refunds"]] == [
        (str(order.pk), "30.00", "succeeded")
    ]


def test_cancelling_one_order_of_a_multi_shop_checkout_refunds_only_its_amount(
    buyer_client, api_client, variant
):
    other = stocked_variant(price="30.00", on_hand=5, shop=ShopFactory(shipping_fee=Decimal(0)))
    body = place_card(buyer_client, (variant, 2), (other, 1))
    pay(api_client, body)
    first, second = orders_of(body)

    response = auth_client(second.shop.owner).post(
        f"/api/v1/seller/orders/{second.pk}/transition",
        {"to": "cancelled", "reason": "out of stock"},
        format="json",
    )

    assert response.status_code == 200, response.content
    payment = payment_of(body)
    (made,) = stripe_fakes.refunds(payment.intent_id)
    assert made["amount"] == 3000
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("paid", Decimal("30.00"))
    first.refresh_from_db()
    second.refresh_from_db()
    assert [(o.status, o.payment_status) for o in (first, second)] == [
        ("pending", "paid"),
        ("cancelled", "refunded"),
    ]


def test_a_card_order_is_confirmed_only_once_paid(buyer_client, api_client, variant, seller):
    body = place_card(buyer_client, (variant, 1))
    (order,) = orders_of(body)
    seller_client = auth_client(seller)

    refused = seller_client.post(
        f"/api/v1/seller/orders/{order.pk}/transition", {"to": "confirmed"}, format="json"
    )

    assert refused.status_code == 409
    assert refused.json()["code"] == "payment.not_paid"
    order.refresh_from_db()
    assert order.status == "pending"
    pay(api_client, body)
    confirmed = seller_client.post(
        f"/api/v1/seller/orders/{order.pk}/transition", {"to": "confirmed"}, format="json"
    )
    assert confirmed.status_code == 200


def test_webhook_replay_is_a_no_op(buyer_client, api_client, variant):
    body = place_card(buyer_client, (variant, 1))
    payment = payment_of(body)
    stripe_fakes.confirm(payment.intent_id)
    event = stripe_fakes.event("payment_intent.succeeded", stripe_fakes.intent(payment.intent_id))
    assert stripe_fakes.deliver(api_client, event).json()["outcome"] == "applied"
    outbox = OutboxEvent.objects.count()
    (order,) = orders_of(body)
    updated_at = order.updated_at

    again = stripe_fakes.deliver(api_client, event)

    assert again.status_code == 200
    assert again.json() == {"received": True, "outcome": "duplicate"}
    assert ProviderEvent.objects.count() == 1
    assert OutboxEvent.objects.count() == outbox
    order.refresh_from_db()
    assert order.updated_at == updated_at


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "changed_body", "stale", "missing", "garbage"],
)
def test_a_bad_signature_is_400_and_changes_nothing(tamper, buyer_client, api_client, variant):
    body = place_card(buyer_client, (variant, 1))
    payment = payment_of(body)
    stripe_fakes.confirm(payment.intent_id)
    event = stripe_fakes.event("payment_intent.succeeded", stripe_fakes.intent(payment.intent_id))
    header = {
        "wrong_secret": stripe_fakes.signature(event, secret="whsec_not_ours"),
        "changed_body": stripe_fakes.signature(event.replace(b'"usd"', b'"eur"')),
        "stale": stripe_fakes.signature(event, at=int(timezone.now().timestamp()) - 301),
        "missing": "",
        "garbage": "not a signature",
    }[tamper]
    outbox = OutboxEvent.objects.count()

    response = stripe_fakes.deliver(api_client, event, signature_header=header)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "payment.bad_signature"
    assert ProviderEvent.objects.count() == 0
    assert OutboxEvent.objects.count() == outbox
    (order,) = orders_of(body)
    payment.refresh_from_db()
    assert (order.payment_status, payment.status) == ("awaiting_payment", "awaiting_payment")


def test_an_amount_mismatch_flags_the_payment_and_pays_nothing(
    buyer_client, api_client, variant, django_capture_on_commit_callbacks
):
    body = place_card(buyer_client, (variant, 2))
    payment = payment_of(body)
    stripe_fakes.confirm(payment.intent_id)
    obj = stripe_fakes.intent(payment.intent_id) | {"amount_received": 2999}

    response = stripe_fakes.deliver(api_client, stripe_fakes.event("payment_intent.succeeded", obj))

    assert response.json() == {"received": True, "outcome": "flagged"}
    payment.refresh_from_db()
    assert (payment.status, payment.amount_received) == ("flagged", Decimal("29.99"))
    assert payment.flagged_reason == ("The provider received 29.99 USD; the checkout is 30.00 USD.")
    (order,) = orders_of(body)
    assert order.payment_status == "awaiting_payment"
    assert events_of("order.paid") == []
    # Staff decide: the payment window passing does not cancel it, nor may the buyer.
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_expire(now=timezone.now() + timedelta(hours=1)) == 0
    refused = buyer_client.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "payment.under_review"


def test_a_currency_mismatch_is_flagged_too(buyer_client, api_client, variant):
    body = place_card(buyer_client, (variant, 1))
    payment = payment_of(body)
    stripe_fakes.confirm(payment.intent_id)
    obj = stripe_fakes.intent(payment.intent_id) | {"currency": "eur"}

    response = stripe_fakes.deliver(api_client, stripe_fakes.event("payment_intent.succeeded", obj))

    assert response.json()["outcome"] == "flagged"
    assert Order.objects.get().payment_status == "awaiting_payment"


def test_refund_after_delivery(buyer_client, api_client, variant, seller):
    body = place_card(buyer_client, (variant, 2))
    pay(api_client, body)
    (order,) = orders_of(body)
    seller_client = auth_client(seller)
    for to in ("confirmed", "shipped", "delivered"):
        moved = seller_client.post(
            f"/api/v1/seller/orders/{order.pk}/transition", {"to": to}, format="json"
        )
        assert moved.status_code == 200, moved.content

    response = seller_client.post(
        f"/api/v1/seller/orders/{order.pk}/transition",
        {"to": "refunded", "restock": True},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["payment_status"]) == (
        "refunded",
        "refunded",
    )
    payment = payment_of(body)
    (made,) = stripe_fakes.refunds(payment.intent_id)
    assert made["amount"] == 3000
    refund = Refund.objects.get()
    assert (refund.reason, refund.status, refund.transition_restock) == (
        "refund",
        "succeeded",
        True,
    )
    assert stock_of(variant) == (10, 0)  # shipped 2, returned 2


def test_the_buyer_pays_only_own_checkouts(buyer_client, api_client, variant, staff_client):
    body = place_card(buyer_client, (variant, 1))
    number = body["checkout_number"]
    stranger = auth_client(ShopFactory().owner)

    assert buyer_client.get(f"/api/v1/checkouts/{number}").status_code == 200
    assert staff_client.get(f"/api/v1/checkouts/{number}").status_code == 200
    for client in (stranger, staff_client):
        response = client.post(f"/api/v1/checkouts/{number}/pay")
        assert response.status_code == 404
        assert response.json()["code"] == "checkout.not_found"
    assert stranger.get(f"/api/v1/checkouts/{number}").status_code == 404
    assert api_client.get(f"/api/v1/checkouts/{number}").status_code == 401
    assert api_client.post(f"/api/v1/checkouts/{number}/pay").status_code == 401


def test_a_cash_on_delivery_checkout_is_not_payable(buyer_client, variant):
    from tests.orders.factories import address_payload

    placed = buyer_client.post(
        "/api/v1/orders",
        {
            "items": [{"variant_id": str(variant.pk), "quantity": 1}],
            "shipping_address": address_payload(),
        },
        format="json",
    ).json()
    assert placed["payment"] is None
    assert placed["orders"][0]["payment_status"] == "unpaid"

    response = buyer_client.post(f"/api/v1/checkouts/{placed['checkout_number']}/pay")

    assert response.status_code == 409
    assert response.json()["code"] == "payment.not_payable"
    assert Payment.objects.count() == 0
    detail = buyer_client.get(f"/api/v1/checkouts/{placed['checkout_number']}").json()
    assert detail["payment"] is None


def test_a_paid_checkout_is_not_payable_again(buyer_client, api_client, variant):
    body = place_card(buyer_client, (variant, 1))
    pay(api_client, body)

    response = buyer_client.post(f"/api/v1/checkouts/{body['checkout_number']}/pay")

    assert response.status_code == 409
    assert (response.json()["code"], response.json()["payment_status"]) == (
        "payment.not_payable",
        "paid",
    )


def test_pay_applies_a_payment_whose_webhook_has_not_arrived(buyer_client, variant):
    body = place_card(buyer_client, (variant, 1))
    payment = payment_of(body)
    stripe_fakes.confirm(payment.intent_id)

    response = buyer_client.post(f"/api/v1/checkouts/{body['checkout_number']}/pay")

    assert response.status_code == 200
    assert response.json()["payment"]["status"] == "paid"
    assert Order.objects.get().payment_status == "paid"


def test_the_card_method_is_refused_without_a_configured_provider(settings, buyer_client, variant):
    settings.STRIPE_SECRET_KEY = ""
    from tests.orders.factories import address_payload

    response = buyer_client.post(
        "/api/v1/orders",
        {
            "items": [{"variant_id": str(variant.pk), "quantity": 1}],
            "shipping_address": address_payload(),
            "payment_method": "card",
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/payment_method"
    assert Checkout.objects.count() == 0


def test_a_checkout_with_a_cancelled_order_stays_payable_and_its_share_goes_back(
    buyer_client, api_client, variant, django_capture_on_commit_callbacks
):
    other = stocked_variant(price="30.00", on_hand=5, shop=ShopFactory(shipping_fee=Decimal(0)))
    body = place_card(buyer_client, (variant, 2), (other, 1))
    first, second = orders_of(body)
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = buyer_client.post(f"/api/v1/orders/{second.pk}/cancel", {}, format="json")
    assert cancelled.status_code == 200
    payment = payment_of(body)
    assert stripe_fakes.intent(payment.intent_id)["status"] == "requires_payment_method"

    again = buyer_client.post(f"/api/v1/checkouts/{body['checkout_number']}/pay")

    assert again.status_code == 200, again.content
    assert again.json()["payment"]["client_secret"] == payment.client_secret
    with django_capture_on_commit_callbacks(execute=True):
        pay(api_client, body)
    first.refresh_from_db()
    second.refresh_from_db()
    assert [(o.status, o.payment_status) for o in (first, second)] == [
        ("pending", "paid"),
        ("cancelled", "refunded"),
    ]
    (refund,) = Refund.objects.all()
    assert (refund.order_id, refund.reason, refund.status, refund.amount) == (
        second.pk,
        "late_payment",
        "succeeded",
        Decimal("30.00"),
    )
    (made,) = stripe_fakes.refunds(payment.intent_id)
    assert made["amount"] == 3000


def test_the_webhook_needs_no_api_key_when_keys_are_required(
    settings, buyer_client, api_client, variant
):
    body = place_card(buyer_client, (variant, 1))
    payment = payment_of(body)
    stripe_fakes.confirm(payment.intent_id)
    settings.REQUIRE_API_KEY = True

    response = stripe_fakes.deliver(
        api_client,
        stripe_fakes.event("payment_intent.succeeded", stripe_fakes.intent(payment.intent_id)),
    )

    assert response.json() == {"received": True, "outcome": "applied"}
    assert api_client.get("/api/v1/seller/balance").status_code == 401  # other paths still do


def test_cancel_with_an_idempotency_key_refunds_once_and_replays(buyer_client, api_client, variant):
    body = place_card(buyer_client, (variant, 1), headers={"HTTP_IDEMPOTENCY_KEY": "place-1"})
    pay(api_client, body)
    (order,) = orders_of(body)

    first = buyer_client.post(
        f"/api/v1/orders/{order.pk}/cancel", {}, format="json", HTTP_IDEMPOTENCY_KEY="cancel-1"
    )
    replay = buyer_client.post(
        f"/api/v1/orders/{order.pk}/cancel", {}, format="json", HTTP_IDEMPOTENCY_KEY="cancel-1"
    )

    assert first.status_code == 200, first.content
    assert (replay.status_code, replay["Idempotent-Replayed"]) == (200, "true")
    assert replay.json() == first.json()
    assert len(stripe_fakes.refunds(payment_of(body).intent_id)) == 1
    assert Refund.objects.get().status == "succeeded"
