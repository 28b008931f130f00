"""What localstripe cannot play: Stripe refusing a refund, Stripe unreachable, and the
idempotency keys sent (localstripe ignores them). Those calls answer with canned responses in
the shape of Stripe's API (its documented error body and objects, served by `responses`); every
other call still goes to localstripe."""

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
import responses
from django.utils import timezone

from apps.events.models import OutboxEvent
from apps.payments.models import Payment, ProviderEvent, Refund
from apps.payments.sweep import payments_sweep
from tests.payments import stripe_fakes
from tests.payments.conftest import orders_of, pay, payment_of, place_card, stock_of

pytestmark = [pytest.mark.django_db]

# Stripe's error body for a refund of a charge refunded before (ids made up).
REFUND_REFUSED = {
    "error": {
        "code": "charge_already_refunded",
        "doc_url": "https://stripe.com/docs/error-codes/charge-already-refunded",
        "message": "Charge ch_3QkX4mLkdIwHu7ix0n4Qx2Ab has already been refunded.",
        "request_log_url": "https://dashboard.stripe.com/test/logs/req_Vx0KfQm2aB7cDe",
        "type": "invalid_request_error",
    }
}
# Stripe's answer to a PaymentIntent creation (trimmed to the fields the platform reads).
INTENT_CREATED = {
    "id": "pi_3QkX4mLkdIwHu7ix0abc1234",
    "object": "payment_intent",
    "amount": 1250,
    "amount_received": 0,
    "client_secret": "pi_3QkX4mLkdIwHu7ix0abc1234_secret_9fWbQz1kLmN0pQrS",
    "currency": "usd",
    "last_payment_error": None,
    "livemode": False,
    "metadata": {},
    "status": "requires_payment_method",
}
REFUND_CREATED = {
    "id": "re_3QkX4mLkdIwHu7ix0zyx9876",
    "object": "refund",
    "amount": 1750,
    "currency": "usd",
    "metadata": {},
    "payment_intent": "pi_3QkX4mLkdIwHu7ix0abc1234",
    "status": "succeeded",
}


@pytest.fixture
def stripe_mock(stripe_api: str) -> Iterator[responses.RequestsMock]:
    """Routes added to it answer as recorded; all else passes through to localstripe."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        mocked.add_passthru(stripe_api)
        yield mocked


def test_stripe_down_at_placement_leaves_a_payable_checkout(
    stripe_mock, stripe_api, buyer_client, variant
):
    stripe_mock.add(
        responses.POST,
        f"{stripe_api}/v1/payment_intents",
        body=requests.ConnectionError("connection refused"),
    )

    body = place_card(buyer_client, (variant, 1))

    assert body["payment"]["status"] == "awaiting_payment"
    assert body["payment"]["client_secret"] is None
    assert body["payment"]["error"]["code"] == "payment.provider_unavailable"
    assert [(o["status"], o["payment_status"]) for o in body["orders"]] == [
        ("pending", "awaiting_payment")
    ]
    payment = payment_of(body)
    assert (payment.intent_id, payment.intent_attempt) == ("", 0)
    assert stock_of(variant) == (10, 1)

    # Still down: the buyer is told to try again.
    stripe_mock.add(
        responses.POST,
        f"{stripe_api}/v1/payment_intents",
        body=requests.ConnectionError("connection refused"),
    )
    down = buyer_client.post(f"/api/v1/checkouts/{body['checkout_number']}/pay")
    assert down.status_code == 503
    assert down.json()["code"] == "payment.provider_unavailable"

    # Back: /pay creates the intent.
    stripe_mock.remove(responses.POST, f"{stripe_api}/v1/payment_intents")
    paid = buyer_client.post(f"/api/v1/checkouts/{body['checkout_number']}/pay")
    assert paid.status_code == 200, paid.content
    payment.refresh_from_db()
    assert paid.json()["payment"]["client_secret"] == payment.client_secret != ""
    assert paid.json()["payment"]["error"] is None
    assert stripe_fakes.intent(payment.intent_id)["amount"] == 1750


def test_the_intent_is_created_with_a_key_derived_from_the_checkout(
    stripe_mock, stripe_api, buyer_client, variant
):
    created = stripe_mock.add(
        responses.POST, f"{stripe_api}/v1/payment_intents", json=INTENT_CREATED
    )

    body = place_card(buyer_client, (variant, 1))

    (call,) = created.calls
    assert call.request.headers["Idempotency-Key"] == f"checkout-{body['id']}-intent-1"
    assert "amount=1750" in call.request.body
    assert "currency=usd" in call.request.body
    assert body["payment"]["client_secret"] == INTENT_CREATED["client_secret"]


def test_a_refused_refund_leaves_the_order_as_it_was(
    stripe_mock, stripe_api, buyer_client, api_client, variant
):
    body = place_card(buyer_client, (variant, 2))
    pay(api_client, body)
    (order,) = orders_of(body)
    stripe_mock.add(responses.POST, f"{stripe_api}/v1/refunds", status=400, json=REFUND_REFUSED)
    outbox = OutboxEvent.objects.count()

    response = buyer_client.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json")

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "payment.refund_failed"
    assert response.json()["provider_code"] == "charge_already_refunded"
    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("pending", "paid")
    assert stock_of(variant) == (10, 2)
    assert OutboxEvent.objects.count() == outbox
    refund = Refund.objects.get()
    assert (refund.status, refund.transition_applied) == ("failed", False)
    assert "has already been refunded" in refund.last_error
    assert stripe_fakes.refunds(payment_of(body).intent_id) == []

    # A failed refund does not block the next try.
    stripe_mock.remove(responses.POST, f"{stripe_api}/v1/refunds")
    again = buyer_client.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json")
    assert again.status_code == 200
    (made,) = Refund.objects.filter(status="succeeded")
    assert made.idempotency_key == f"order-{order.pk}-refund-2"


def test_a_transient_refund_failure_cancels_and_the_sweep_refunds(
    stripe_mock, stripe_api, buyer_client, api_client, variant, django_capture_on_commit_callbacks
):
    body = place_card(buyer_client, (variant, 2))
    pay(api_client, body)
    (order,) = orders_of(body)
    payment = payment_of(body)
    refunded = stripe_mock.add(
        responses.POST, f"{stripe_api}/v1/refunds", body=requests.ConnectionError("timed out")
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = buyer_client.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["payment_status"]) == (
        "cancelled",
        "refunded",
    )
    refund = Refund.objects.get()
    (call,) = refunded.calls
    assert call.request.headers["Idempotency-Key"] == f"order-{order.pk}-refund-1"
    assert (refund.status, refund.attempts, refund.transition_applied) == ("pending", 1, True)
    assert refund.last_error.startswith("Unexpected error communicating with Stripe")
    assert timedelta(seconds=55) < refund.next_attempt_at - timezone.now() <= timedelta(minutes=1)
    assert stock_of(variant) == (10, 0)

    # Not due yet: the sweep leaves it.
    stripe_mock.remove(responses.POST, f"{stripe_api}/v1/refunds")
    assert payments_sweep() == {}
    Refund.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    assert payments_sweep() == {"refund_succeeded": 1}

    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == ("succeeded", 2)
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("refunded", Decimal("30.00"))
    (made,) = stripe_fakes.refunds(payment.intent_id)
    assert made["id"] == refund.provider_refund_id


def test_a_refund_whose_answer_was_lost_is_found_not_made_again(
    stripe_mock, stripe_api, buyer_client, api_client, variant
):
    body = place_card(buyer_client, (variant, 1))
    pay(api_client, body)
    (order,) = orders_of(body)
    payment = payment_of(body)
    stripe_mock.add(
        responses.POST, f"{stripe_api}/v1/refunds", body=requests.ConnectionError("read timeout")
    )
    buyer_client.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json")
    refund = Refund.objects.get()
    stripe_mock.remove(responses.POST, f"{stripe_api}/v1/refunds")
    # The call did reach Stripe before the connection dropped.
    requests.post(
        f"{stripe_api}/v1/refunds",
        data={
            "payment_intent": payment.intent_id,
            "amount": 1750,
            "metadata[refund_key]": refund.idempotency_key,
        },
        headers={"Authorization": f"Bearer {stripe_fakes.SECRET_KEY}"},
        timeout=10,
    ).raise_for_status()
    Refund.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    assert payments_sweep() == {"refund_succeeded": 1}

    (made,) = stripe_fakes.refunds(payment.intent_id)
    refund.refresh_from_db()
    assert (refund.status, refund.provider_refund_id) == ("succeeded", made["id"])


def test_a_refund_is_sent_with_a_key_derived_from_the_refund(
    stripe_mock, stripe_api, buyer_client, api_client, variant
):
    body = place_card(buyer_client, (variant, 1))
    pay(api_client, body)
    (order,) = orders_of(body)
    created = stripe_mock.add(responses.POST, f"{stripe_api}/v1/refunds", json=REFUND_CREATED)

    buyer_client.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json")

    refund = Refund.objects.get()
    (call,) = created.calls
    assert call.request.headers["Idempotency-Key"] == f"order-{order.pk}-refund-1"
    assert refund.idempotency_key == f"order-{order.pk}-refund-1"
    assert f"metadata[refund_id]={refund.pk}" in requests.utils.unquote(call.request.body)
    assert (refund.status, refund.provider_refund_id) == ("succeeded", REFUND_CREATED["id"])
    assert Payment.objects.get().amount_refunded == Decimal("17.50")


def _charge_refunded(intent_id: str, amount_refunded: int) -> bytes:
    """Stripe's `charge.refunded` event (the charge trimmed to the fields the platform reads)."""
    return stripe_fakes.event(
        "charge.refunded",
        {
            "id": "ch_3QkX4mLkdIwHu7ix0n4Qx2Ab",
            "object": "charge",
            "amount_refunded": amount_refunded,
            "currency": "usd",
            "payment_intent": intent_id,
            "refunded": True,
        },
    )


def test_charge_refunded_finishes_a_refund_whose_answer_was_lost(
    stripe_mock, stripe_api, buyer_client, api_client, variant, django_capture_on_commit_callbacks
):
    body = place_card(buyer_client, (variant, 1))
    pay(api_client, body)
    (order,) = orders_of(body)
    payment = payment_of(body)
    stripe_mock.add(
        responses.POST, f"{stripe_api}/v1/refunds", body=requests.ConnectionError("read timeout")
    )
    cancelled = buyer_client.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json")
    assert cancelled.status_code == 200
    refund = Refund.objects.get()
    assert refund.status == "pending"
    assert refund.next_attempt_at > timezone.now()  # the sweep would wait a minute
    stripe_mock.remove(responses.POST, f"{stripe_api}/v1/refunds")
    # The call did reach Stripe before the connection dropped; Stripe says so.
    made = requests.post(
        f"{stripe_api}/v1/refunds",
        data={
            "payment_intent": payment.intent_id,
            "amount": 1750,
            "metadata[refund_key]": refund.idempotency_key,
        },
        headers={"Authorization": f"Bearer {stripe_fakes.SECRET_KEY}"},
        timeout=10,
    ).json()

    with django_capture_on_commit_callbacks(execute=True):
        response = stripe_fakes.deliver(api_client, _charge_refunded(payment.intent_id, 1750))

    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "applied"}
    refund.refresh_from_db()
    assert (refund.status, refund.provider_refund_id) == ("succeeded", made["id"])
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("refunded", Decimal("17.50"))
    assert [r["id"] for r in stripe_fakes.refunds(payment.intent_id)] == [made["id"]]
    event = ProviderEvent.objects.get(type="charge.refunded")
    assert (event.payment_id, event.outcome) == (payment.pk, "applied")


def test_charge_refunded_for_more_than_the_platform_refunded_is_reported(
    stripe_api, buyer_client, api_client, variant
):
    body = place_card(buyer_client, (variant, 2))
    pay(api_client, body)
    payment = payment_of(body)
    (order,) = orders_of(body)
    # Someone refunds part of it in Stripe's dashboard.
    requests.post(
        f"{stripe_api}/v1/refunds",
        data={"payment_intent": payment.intent_id, "amount": 500},
        headers={"Authorization": f"Bearer {stripe_fakes.SECRET_KEY}"},
        timeout=10,
    ).raise_for_status()
    outbox = OutboxEvent.objects.count()

    response = stripe_fakes.deliver(api_client, _charge_refunded(payment.intent_id, 500))

    assert response.json() == {"received": True, "outcome": "refund_mismatch"}
    event = ProviderEvent.objects.get(type="charge.refunded")
    assert (event.payment_id, event.outcome) == (payment.pk, "refund_mismatch")
    # Reported, not acted on: staff decide (payments_reconcile lists it too).
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("paid", Decimal("0.00"))
    assert (order.status, order.payment_status) == ("pending", "paid")
    assert not Refund.objects.exists()
    assert OutboxEvent.objects.count() == outbox


def test_an_intent_cancelled_at_stripe_makes_the_checkout_unpayable(
    stripe_api, buyer_client, api_client, variant
):
    body = place_card(buyer_client, (variant, 1))
    payment = payment_of(body)
    cancelled = requests.post(
        f"{stripe_api}/v1/payment_intents/{payment.intent_id}/cancel",
        headers={"Authorization": f"Bearer {stripe_fakes.SECRET_KEY}"},
        timeout=10,
    )
    assert cancelled.json()["status"] == "canceled"

    response = stripe_fakes.deliver(
        api_client,
        stripe_fakes.event("payment_intent.canceled", stripe_fakes.intent(payment.intent_id)),
    )

    assert response.json() == {"received": True, "outcome": "applied"}
    payment.refresh_from_db()
    assert (payment.status, payment.client_secret) == ("cancelled", "")
    checkout = buyer_client.get(f"/api/v1/checkouts/{body['checkout_number']}")
    assert checkout.json()["payment"]["status"] == "cancelled"
    assert checkout.json()["payment"]["client_secret"] is None
    pay_again = buyer_client.post(f"/api/v1/checkouts/{body['checkout_number']}/pay")
    assert pay_again.status_code == 409
    assert pay_again.json()["code"] == "payment.not_payable"


def test_pay_after_a_lost_answer_sends_the_placements_key_and_metadata(
    stripe_mock, stripe_api, buyer_client, variant
):
    """Stripe made the intent but its answer was lost: /pay's first try is the same request
    (key and parameters), so Stripe answers with that intent instead of making a second one."""
    lost = stripe_mock.add(
        responses.POST,
        f"{stripe_api}/v1/payment_intents",
        body=requests.ConnectionError("read timeout"),
    )
    body = place_card(buyer_client, (variant, 1))
    assert body["payment"]["error"]["code"] == "payment.provider_unavailable"
    stripe_mock.remove(responses.POST, f"{stripe_api}/v1/payment_intents")
    found = stripe_mock.add(responses.POST, f"{stripe_api}/v1/payment_intents", json=INTENT_CREATED)

    paid = buyer_client.post(f"/api/v1/checkouts/{body['checkout_number']}/pay")

    assert paid.status_code == 200, paid.content
    (first,) = lost.calls
    (retry,) = found.calls
    key = f"checkout-{body['id']}-intent-1"
    assert first.request.headers["Idempotency-Key"] == retry.request.headers["Idempotency-Key"]
    assert retry.request.headers["Idempotency-Key"] == key
    assert first.request.body == retry.request.body
    sent = requests.utils.unquote(first.request.body)
    (order,) = body["orders"]
    for field in (
        f"metadata[checkout_number]={body['checkout_number']}",
        f"metadata[checkout_id]={body['id']}",
        f"metadata[payment_id]={body['payment']['id']}",
        f"metadata[order_ids]={order['id']}",
        "metadata[order_count]=1",
    ):
        assert field in sent
    payment = payment_of(body)
    assert (payment.intent_id, payment.intent_attempt) == (INTENT_CREATED["id"], 1)
    assert paid.json()["payment"]["client_secret"] == INTENT_CREATED["client_secret"]
