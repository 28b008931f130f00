"""Deliveries from the outbox to a real HTTP receiver on the loopback: signed as the Standard
Webhooks specification says (checked with its reference verifier), retried, disabled, swept.

Tasks run eagerly here: the relay runs after the test's commit, the delivery task inline."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from apps.core.request_context import request_id_var
from apps.events import emit
from apps.events.models import OutboxEvent
from apps.events.relay import relay_run
from apps.events.services import events_republish
from apps.notifications.models import Notification
from apps.webhooks import services
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.orders.factories import UserFactory, place, stocked_variant
from tests.shops.factories import ShopFactory
from tests.webhooks.conftest import endpoint_for

pytestmark = pytest.mark.django_db

Status = WebhookDelivery.Status


def emit_committed(capture, event_type, data, key="k1"):
    with capture(execute=True):
        return emit(event_type, key, data)


def sweep_now(capture):
    """What the beat sweep does once the pending deliveries' time has come."""
    WebhookDelivery.objects.filter(status=Status.PENDING).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    with capture(execute=True):
        return services.deliveries_due_enqueue()


def verify(endpoint_secret, received):
    return Webhook(endpoint_secret).verify(received.body, received.headers)


def shop_data(shop, **extra):
    return {"shop_id": str(shop.pk), "order_id": "o-1", "number": "ORD-1", **extra}


def test_a_placed_order_reaches_the_platform_and_its_shops_endpoints_only(
    receiver, staff_user, django_capture_on_commit_callbacks
):
    variant = stocked_variant(price="12.50", on_hand=10)
    shop = variant.product.shop
    other_shop = ShopFactory()
    platform = endpoint_for(staff_user, receiver.url("/platform"), ["order.placed"])
    own = endpoint_for(shop.owner, receiver.url("/shop"), ["order.placed", "order.cancelled"])
    other = endpoint_for(other_shop.owner, receiver.url("/other"), ["order.placed"])
    endpoint_for(shop.owner, receiver.url("/stock-only"), ["stock.low"])

    with django_capture_on_commit_callbacks(execute=True):
        (order,) = place(UserFactory(), (variant, 2)).orders.all()

    assert sorted(r.path for r in receiver.requests) == ["/platform", "/shop"]
    event = OutboxEvent.objects.get(type="order.placed")
    for received, endpoint in zip(
        sorted(receiver.requests, key=lambda r: r.path), (platform, own), strict=True
    ):
        body = verify(endpoint.secret, received)  # the reference verifier accepts it
        assert body == {
            "event_id": str(event.id),
            "type": "order.placed",
            "version": 1,
            "occurred_at": event.occurred_at.isoformat(),
            "data": event.payload,
        }
        assert body["data"]["shop_id"] == str(shop.pk)
        assert body["data"]["order_id"] == str(order.pk)
        assert received.headers["webhook-id"] == str(event.id)
        assert received.headers["content-type"] == "application/json"
        with pytest.raises(WebhookVerificationError):
            Webhook(other.secret).verify(received.body, received.headers)
    assert sorted(
        WebhookDelivery.objects.values_list(
            "endpoint__url", "status", "attempts", "last_status_code"
        )
    ) == [
        (receiver.url("/platform"), "succeeded", 1, 200),
        (receiver.url("/shop"), "succeeded", 1, 200),
    ]
    assert not WebhookDelivery.objects.filter(endpoint=other).exists()


def test_a_tampered_body_or_stale_timestamp_does_not_verify(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])
    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))
    (received,) = receiver.requests

    assert verify(endpoint.secret, received)["type"] == "stock.low"
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(received.body.replace(b"ORD-1", b"ORD-2"), received.headers)
    stale = {
        **received.headers,
        "webhook-timestamp": str(int(received.headers["webhook-timestamp"]) - 3600),
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(received.body, stale)


def test_the_request_id_of_the_work_that_emitted_the_event_is_sent(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint_for(seller, receiver.url(), ["stock.low"])
    token = request_id_var.set("req-4242")
    try:
        emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))
    finally:
        request_id_var.reset(token)

    (received,) = receiver.requests
    assert received.headers["x-request-id"] == "req-4242"


def test_500s_are_retried_on_the_schedule_until_a_success(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])
    receiver.answer(500, 503)

    before = timezone.now()
    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error == "The receiver answered HTTP 500."
    # 5 s later, with up to 10 % jitter either way.
    wait = delivery.next_attempt_at - before
    assert timedelta(seconds=4.4) <= wait <= timedelta(seconds=6)
    assert delivery.locked_until is None
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    assert endpoint.enabled

    before = timezone.now()
    assert sweep_now(django_capture_on_commit_callbacks) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 2, 503)
    assert timedelta(minutes=4.4) <= delivery.next_attempt_at - before <= timedelta(minutes=5.6)

    assert sweep_now(django_capture_on_commit_callbacks) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 200)
    assert (delivery.next_attempt_at, delivery.last_error) == (None, "")
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1  # one event, 3 tries
    assert len(receiver.requests) == 3
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # the success ended the run of failures


def test_the_sweep_leaves_deliveries_that_are_not_due(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint_for(seller, receiver.url(), ["stock.low"])
    receiver.answer(500)
    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))

    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_due_enqueue() == 0
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().attempts == 1


def test_a_410_disables_the_endpoint_and_tells_its_owner(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])
    receiver.answer(410)

    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code, delivery.next_attempt_at) == (
        "failed",
        410,
        None,
    )
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "gone")
    notification = Notification.objects.get(recipient=seller)
    assert notification.type == "webhook.disabled"
    assert "410 Gone" in notification.body
    # A disabled endpoint gets no more deliveries.
    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop), key="k2")
    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_a_timeout_is_retried(receiver, seller, shop, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    endpoint_for(seller, receiver.url(), ["stock.low"])
    receiver.answer(200, delay=2.0)

    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error == "No answer within 0.5 s."

    sweep_now(django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 2, 200)


def test_a_receiver_that_refuses_connections_is_retried(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])
    # Nothing listens on port 1 of the loopback.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url="http://127.0.0.1:1/hooks")

    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "Could not reach 127.0.0.1: ConnectionRefusedError."


def test_a_redelivered_event_adds_no_delivery_and_sends_nothing_again(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint_for(seller, receiver.url(), ["stock.low"])
    event = emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))

    with django_capture_on_commit_callbacks(execute=True):
        assert events_republish(event_ids=[event.pk]) == 1
    relay_run()

    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.requests) == 1
    # The handling itself, run again with the same envelope, inserts and sends nothing.
    envelope = {
        "event_id": str(event.id),
        "type": event.type,
        "version": 1,
        "occurred_at": event.occurred_at.isoformat(),
        "key": event.key,
        "data": event.payload,
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_record(envelope=envelope) == 0
    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_a_day_of_failures_disables_the_endpoint_and_tells_its_owner(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(hours=24, minutes=1)
    )
    receiver.answer(500)

    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))

    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "failing")
    (notification,) = Notification.objects.filter(recipient=seller)
    assert notification.type == "webhook.disabled"
    assert "every delivery failed for a day" in notification.body
    # Its pending delivery is not sent while the endpoint is disabled.
    sweep_now(django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_error) == ("failed", "The endpoint is disabled.")
    assert len(receiver.requests) == 1


def test_failures_within_a_day_keep_the_endpoint(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(hours=23)
    )
    receiver.answer(500)

    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))

    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert not Notification.objects.exists()


def test_a_receiver_down_for_the_whole_window_ends_failed_and_is_retryable_by_hand(
    receiver, seller, shop, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_RETRY_WINDOW_HOURS = 8 / 3600  # 8 s: room for the 5 s retry only
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])
    receiver.answer(503, 503)

    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))
    assert WebhookDelivery.objects.get().status == "pending"
    sweep_now(django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)
    assert sweep_now(django_capture_on_commit_callbacks) == 0  # nothing more is tried

    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_retry(delivery=delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 200)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(delivery.event_id)] * 3
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])
    old_secret = endpoint.secret
    services.endpoint_rotate_secret(endpoint=endpoint)
    new_secret = endpoint.secret
    assert new_secret != old_secret

    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))
    (received,) = receiver.requests
    signatures = received.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(s.startswith("v1,") for s in signatures)
    verify(new_secret, received)
    verify(old_secret, received)

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop), key="k2")
    later = receiver.requests[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    verify(new_secret, later)
    with pytest.raises(WebhookVerificationError):
        verify(old_secret, later)


def test_a_ping_is_one_signed_attempt(receiver, staff_user, django_capture_on_commit_callbacks):
    endpoint = endpoint_for(staff_user, receiver.url(), ["payment.failed"])
    receiver.answer(500)

    with django_capture_on_commit_callbacks(execute=True):
        delivery = services.endpoint_ping(endpoint=endpoint)

    (received,) = receiver.requests
    body = verify(endpoint.secret, received)
    assert body["type"] == "webhook.ping"
    assert body["data"] == {"endpoint_id": str(endpoint.pk)}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 500)


def test_a_platform_only_event_reaches_platform_endpoints_only(
    receiver, staff_user, seller, django_capture_on_commit_callbacks
):
    endpoint_for(staff_user, receiver.url("/platform"), ["payment.failed"])
    endpoint_for(seller, receiver.url("/shop"), ["order.placed"])

    emit_committed(
        django_capture_on_commit_callbacks, "payment.failed", {"payment_id": "p1", "reason": "x"}
    )

    assert [r.path for r in receiver.requests] == ["/platform"]


def test_a_held_delivery_is_not_attempted_twice(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    """A duplicate of a queued task (a message delivered twice) attempts nothing."""
    endpoint_for(seller, receiver.url(), ["stock.low"])
    receiver.answer(500)
    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    assert services.delivery_attempt(delivery_id=delivery.pk, token=None) == "succeeded"
    assert services.delivery_attempt(delivery_id=delivery.pk, token=None) is None
    assert len(receiver.requests) == 2


def test_the_sweep_command_sends_what_is_due(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    import io

    from django.core.management import call_command

    endpoint_for(seller, receiver.url(), ["stock.low"])
    receiver.answer(500)
    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    out = io.StringIO()
    call_command("webhooks_sweep", stdout=out)

    assert out.getvalue() == "1 webhook delivery(ies) queued\n"
    assert WebhookDelivery.objects.get().status == "succeeded"


def pending_deliveries(endpoint, count):
    now = timezone.now()
    return [
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=f"00000000-0000-4000-8000-{index:012d}",
            event_type="stock.low",
            payload={"type": "stock.low", "n": index},
            next_attempt_at=now - timedelta(seconds=count - index),
            expires_at=now + timedelta(days=3),
        )
        for index in range(count)
    ]


def test_an_endpoint_has_at_most_its_cap_of_attempts_in_flight(receiver, seller, settings):
    settings.WEBHOOKS_MAX_IN_FLIGHT_PER_ENDPOINT = 1
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])
    sending, queued = pending_deliveries(endpoint, 2)
    later = timezone.now() + timedelta(seconds=30)
    WebhookDelivery.objects.filter(pk=sending.pk).update(sending_until=later, locked_until=later)
    token = "5e0b7a8e-1c7d-4f0a-9b5e-3d2c1b0a9f8e"
    WebhookDelivery.objects.filter(pk=queued.pk).update(lock_token=token, locked_until=later)

    assert services.delivery_attempt(delivery_id=queued.pk, token=token) is None

    assert receiver.requests == []
    queued.refresh_from_db()
    # Its hold is given back, for the sweep to queue it again once a slot frees.
    assert (queued.attempts, queued.lock_token, queued.locked_until) == (0, None, None)
    assert services.deliveries_due_enqueue() == 0  # the one in flight fills the cap

    WebhookDelivery.objects.filter(pk=sending.pk).update(
        status="succeeded", sending_until=None, locked_until=None
    )
    assert services.deliveries_due_enqueue() == 1
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == ("succeeded", 1)


def test_the_sweep_queues_at_most_the_cap_per_endpoint(receiver, seller, settings):
    settings.WEBHOOKS_MAX_IN_FLIGHT_PER_ENDPOINT = 2
    busy = endpoint_for(seller, receiver.url("/busy"), ["stock.low"])
    quiet = endpoint_for(ShopFactory().owner, receiver.url("/quiet"), ["stock.low"])
    pending_deliveries(busy, 5)
    WebhookDelivery.objects.create(
        endpoint=quiet,
        event_id="00000000-0000-4000-9000-000000000001",
        event_type="stock.low",
        payload={"type": "stock.low"},
        next_attempt_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=3),
    )

    assert services.deliveries_due_enqueue() == 3  # two of the busy endpoint's, the quiet one

    assert sorted(r.path for r in receiver.requests) == ["/busy", "/busy", "/quiet"]
    assert WebhookDelivery.objects.filter(endpoint=busy, status="pending").count() == 3
    sent = [r.json()["n"] for r in receiver.requests if r.path == "/busy"]
    assert sorted(sent) == [0, 1]  # the oldest due first


def verify_by_hand(secret, headers, body):
    """The spec's verification written out (docs/webhooks.md), independent of the library."""
    import base64
    import hashlib
    import hmac
    import time

    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > 300:
        return False
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, sig.split(",", 1)[1])
        for sig in headers["webhook-signature"].split()
        if sig.startswith("v1,")
    )


def test_the_documented_hand_written_verifier_agrees(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])
    old_secret = endpoint.secret
    services.endpoint_rotate_secret(endpoint=endpoint)
    emit_committed(django_capture_on_commit_callbacks, "stock.low", shop_data(shop))
    (received,) = receiver.requests

    assert verify_by_hand(endpoint.secret, received.headers, received.body)
    assert verify_by_hand(old_secret, received.headers, received.body)
    assert not verify_by_hand(endpoint.secret, received.headers, received.body + b" ")
    assert not verify_by_hand(
        "whsec_" + "A" * 43 + "=", received.headers, received.body
    )  # another secret


def test_handling_an_event_costs_one_query_without_endpoints_and_four_with(
    seller, shop, staff_user, django_assert_num_queries
):
    from apps.webhooks.subscribers import on_event

    envelope = {
        "event_id": "9b2d7c1a-0e4f-4a3b-8c6d-5e4f3a2b1c0d",
        "type": "order.placed",
        "version": 1,
        "occurred_at": timezone.now().isoformat(),
        "key": "o",
        "data": {"shop_id": str(shop.pk)},
    }
    with django_assert_num_queries(1):
        on_event(envelope)

    endpoint_for(staff_user, "https://93.184.215.14/a", ["order.placed"])
    endpoint_for(seller, "https://93.184.215.14/b", ["order.placed"])
    with django_assert_num_queries(4):  # endpoints, the rows, which are new, the task outbox
        on_event(envelope)
    assert WebhookDelivery.objects.count() == 2
