"""A card placement calls Stripe before its transaction and before any lock is taken (with and
without an Idempotency-Key, whose request-wide transaction is open around the view), so a slow
Stripe holds up nobody else's checkout; a placement that fails after its intent was made cancels
that intent (durably, when Stripe is down) and changes nothing; a replay answers the same payment.

Stripe is localstripe behind `StripeGate` (a proxy on a loopback port) that holds intent
creations or runs another buyer's checkout while the platform waits on Stripe. Threads, each with
its own database connection, on PostgreSQL, through the whole HTTP stack."""

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from apps.cart.models import CartItem
from apps.events.models import OutboxEvent, PendingTask
from apps.events.task_outbox import pending_tasks_send
from apps.orders.models import Checkout, Order
from apps.orders.pricing import ItemInput
from apps.orders.services import order_place
from apps.payments.models import Payment
from tests.conftest import auth_client
from tests.discounts.factories import DiscountFactory
from tests.orders.factories import UserFactory, address_payload, stocked_variant
from tests.payments import stripe_fakes
from tests.payments.conftest import stock_of
from tests.payments.stripe_gate import StripeGate
from tests.services import need_postgres

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gate(settings, localstripe_url: str) -> Iterator[StripeGate]:
    need_postgres()
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_TIMEOUT = 90.0  # a held call waits for the test, never times out before
    with StripeGate(localstripe_url).serving() as gate:
        settings.STRIPE_API_BASE = gate.url
        yield gate


def _order(
    client: Any, method: str, *lines: tuple[Any, int], key: str | None = None, **extra: Any
) -> Any:
    """POST /orders: explicit `lines`, or the caller's cart when none are given."""
    body: dict[str, Any] = {
        "shipping_address": address_payload(),
        "payment_method": method,
        **extra,
    }
    if lines:
        body["items"] = [{"variant_id": str(v.pk), "quantity": q} for v, q in lines]
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/orders", body, format="json", **headers)


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["response"] = call()
        except BaseException as exc:  # handed to the test's thread
            result["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _own_connection(call: Callable[[], Any]) -> Callable[[], Any]:
    """`call` as run by the gate's thread, which closes its database connection after."""

    def run() -> Any:
        try:
            return call()
        finally:
            connections.close_all()

    return run


def _tables_written_or_locked() -> set[str]:
    """The tables other sessions of this database hold write or row locks on (INSERT, UPDATE,
    DELETE, SELECT .. FOR UPDATE/SHARE take these): pg_locks, which the ORM cannot read."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_database d ON d.oid = l.database "
            "WHERE d.datname = current_database() AND l.pid <> pg_backend_pid() "
            "AND c.relkind = 'r' AND l.mode IN ('RowShareLock', 'RowExclusiveLock')"
        )
        return {name for (name,) in cursor.fetchall()}


def _nothing_placed_for(buyer: Any) -> None:
    assert not Checkout.objects.filter(buyer=buyer).exists()
    assert not Order.objects.filter(buyer=buyer).exists()
    assert not Payment.objects.filter(checkout__buyer=buyer).exists()


@pytest.mark.parametrize("key", ["card-1", None], ids=["idempotency-key", "no-key"])
def test_a_cash_order_goes_through_while_a_card_placement_waits_on_stripe(gate, key):
    variant = stocked_variant(price="20.00", on_hand=5)
    card_buyer, cash_buyer = UserFactory(), UserFactory()
    card_client, cash_client = auth_client(card_buyer), auth_client(cash_buyer)
    gate.hold()

    card, card_result = _in_thread(lambda: _order(card_client, "card", (variant, 1), key=key))
    assert gate.waiting.wait(timeout=30), "the card placement never called Stripe"
    # While it waits on Stripe, the card request has written or locked no table but its own
    # idempotency record (with a key).
    assert _tables_written_or_locked() == ({"core_idempotencyrecord"} if key else set())
    cash, cash_result = _in_thread(
        lambda: _order(cash_client, "cash_on_delivery", (variant, 1), key="cash-1")
    )
    cash.join(timeout=20)
    done_while_card_waited = not cash.is_alive() and card.is_alive()
    gate.release()
    card.join(timeout=60)
    cash.join(timeout=60)

    assert done_while_card_waited, "the cash order waited for the card placement's Stripe call"
    assert "error" not in cash_result
    assert "error" not in card_result
    assert cash_result["response"].status_code == 201, cash_result["response"].content
    placed = card_result["response"]
    assert placed.status_code == 201, placed.content
    body = placed.json()
    payment = Payment.objects.get(checkout__number=body["checkout_number"])
    (intent_id,) = gate.created
    assert payment.intent_id == intent_id
    assert body["payment"]["id"] == str(payment.pk)
    assert body["payment"]["client_secret"] == payment.client_secret != ""
    assert (payment.status, payment.amount, payment.intent_attempt) == (
        "awaiting_payment",
        Decimal("20.00"),
        1,
    )
    intent = stripe_fakes.intent(intent_id)
    (order,) = body["orders"]
    assert (intent["amount"], intent["currency"], intent["status"]) == (
        2000,
        "usd",
        "requires_payment_method",
    )
    assert intent["metadata"]["checkout_number"] == body["checkout_number"]
    assert intent["metadata"]["checkout_id"] == body["id"]
    assert intent["metadata"]["payment_id"] == str(payment.pk)
    assert intent["metadata"]["order_ids"] == order["id"]
    assert stock_of(variant) == (5, 2)


def test_a_placement_that_fails_after_its_intent_was_made_cancels_it_and_changes_nothing(gate):
    variant = stocked_variant(price="20.00", on_hand=1)
    card_buyer, cash_buyer = UserFactory(), UserFactory()
    card_client, cash_client = auth_client(card_buyer), auth_client(cash_buyer)
    added = card_client.post(
        "/api/v1/cart/items", {"variant_id": str(variant.pk), "quantity": 1}, format="json"
    )
    assert added.status_code == 201, added.content
    # While the card placement waits on Stripe, another buyer takes the last unit.
    gate.while_held = _own_connection(lambda: _order(cash_client, "cash_on_delivery", (variant, 1)))
    outbox = OutboxEvent.objects.count()

    refused = _order(card_client, "card", key="card-1")

    assert gate.held_result.status_code == 201, gate.held_result.content
    assert refused.status_code == 409, refused.content
    assert refused["Content-Type"] == "application/problem+json"
    assert (refused.json()["code"], refused.json()["available"]) == (
        "inventory.insufficient_stock",
        0,
    )
    # The intent made for it is cancelled at Stripe; its secret never reached the buyer.
    (intent_id,) = gate.created
    assert stripe_fakes.intent(intent_id)["status"] == "canceled"
    assert intent_id not in refused.content.decode()
    assert not PendingTask.objects.exists()
    # Nothing of the card placement is left: only the cash order's rows and events.
    _nothing_placed_for(card_buyer)
    assert stock_of(variant) == (1, 1)
    assert list(
        CartItem.objects.filter(cart__user=card_buyer).values_list("variant_id", "quantity")
    ) == [(variant.pk, 1)]
    assert OutboxEvent.objects.count() == outbox + 1  # the cash order's order.placed

    # The refusal was stored with the key: a retry is answered the same, with no new intent.
    again = _order(card_client, "card", key="card-1")
    assert again.status_code == 409
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == refused.json()
    assert len(gate.created) == 1
    _nothing_placed_for(card_buyer)


def test_a_discount_used_up_while_stripe_answers_cancels_the_intent(gate):
    variant = stocked_variant(price="40.00", on_hand=5)
    discount = DiscountFactory(
        shop=variant.product.shop, code="ONCE", value=Decimal("10.00"), max_uses=1
    )
    card_buyer, cash_buyer = UserFactory(), UserFactory()
    code = [{"shop": variant.product.shop.slug, "code": "ONCE"}]
    gate.while_held = _own_connection(
        lambda: _order(auth_client(cash_buyer), "cash_on_delivery", (variant, 1), discounts=code)
    )

    refused = _order(auth_client(card_buyer), "card", (variant, 1), discounts=code)

    assert gate.held_result.status_code == 201, gate.held_result.content
    assert refused.status_code == 422, refused.content
    assert refused.json()["code"] == "discount.usage_limit"
    (intent_id,) = gate.created
    assert stripe_fakes.intent(intent_id)["status"] == "canceled"
    _nothing_placed_for(card_buyer)
    discount.refresh_from_db()
    assert discount.uses_count == 1
    assert stock_of(variant) == (5, 1)


def test_a_price_changed_while_stripe_answers_is_409_and_cancels_the_intent(gate):
    variant = stocked_variant(price="20.00", on_hand=5)
    buyer = UserFactory()

    def reprice() -> None:
        type(variant).objects.filter(pk=variant.pk).update(price=Decimal("25.00"))

    gate.while_held = _own_connection(reprice)

    refused = _order(auth_client(buyer), "card", (variant, 1), key="card-1")

    assert refused.status_code == 409, refused.content
    problem = refused.json()
    assert problem["code"] == "order.checkout_changed"
    assert (problem["quoted_total"], problem["total"], problem["currency"]) == (
        "20.00",
        "25.00",
        "USD",
    )
    (intent_id,) = gate.created
    assert stripe_fakes.intent(intent_id)["status"] == "canceled"
    _nothing_placed_for(buyer)
    assert stock_of(variant) == (5, 0)


def test_stripe_down_when_the_placement_failed_cancels_the_intent_once_it_is_back(gate):
    variant = stocked_variant(price="20.00", on_hand=1)
    card_buyer, cash_buyer = UserFactory(), UserFactory()

    def take_the_stock_and_take_stripe_down() -> Any:
        response = _order(auth_client(cash_buyer), "cash_on_delivery", (variant, 1))
        gate.down = True  # after this creation: the cancel finds Stripe unavailable
        return response

    gate.while_held = _own_connection(take_the_stock_and_take_stripe_down)

    refused = _order(auth_client(card_buyer), "card", (variant, 1))

    assert refused.status_code == 409
    assert refused.json()["code"] == "inventory.insufficient_stock"
    (intent_id,) = gate.created
    (task,) = PendingTask.objects.all()
    assert (task.name, task.kwargs) == (
        "payments.intent_abandon",
        {"provider": "stripe", "intent_id": intent_id},
    )
    assert task.attempts == 1
    assert "unavailable" in task.last_error
    gate.down = False
    assert stripe_fakes.intent(intent_id)["status"] == "requires_payment_method"
    _nothing_placed_for(card_buyer)

    # Stripe is back; the outbox sends the task again once it is due.
    assert pending_tasks_send() == 0
    PendingTask.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert pending_tasks_send() == 1

    assert stripe_fakes.intent(intent_id)["status"] == "canceled"
    assert not PendingTask.objects.exists()


def test_a_replay_answers_the_same_payment_and_makes_no_second_intent(gate):
    variant = stocked_variant(price="20.00", on_hand=5)
    client = auth_client(UserFactory())

    first = _order(client, "card", (variant, 1), key="card-1")
    replay = _order(client, "card", (variant, 1), key="card-1")

    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    payment = Payment.objects.get()
    assert replay.json()["payment"]["id"] == str(payment.pk)
    assert replay.json()["payment"]["client_secret"] == payment.client_secret != ""
    assert gate.created == [payment.intent_id]
    assert stock_of(variant) == (5, 1)


def test_the_service_replay_by_key_answers_the_same_payment_without_calling_stripe(gate):
    variant = stocked_variant(price="20.00", on_hand=5)
    buyer = UserFactory()

    def place() -> Any:
        return order_place(
            buyer=buyer,
            items=[ItemInput(variant_id=variant.pk, quantity=1)],
            shipping_address=address_payload(),
            payment_method="card",
            idempotency_key="card-1",
        )

    first = place()
    gate.down = True  # a replay needs no Stripe
    again = place()

    assert again.pk == first.pk
    assert again.payment == first.payment
    assert again.payment["client_secret"] == Payment.objects.get().client_secret != ""
    assert len(gate.created) == 1


def test_a_placement_crashing_under_a_key_cancels_its_intent_at_once(gate, monkeypatch):
    """A 5xx rolls the keyed request's transaction back, the cancel task's row with it: the
    intent is cancelled right away instead."""
    variant = stocked_variant(price="20.00", on_hand=5)
    buyer = UserFactory()
    client = auth_client(buyer)
    client.raise_request_exception = False

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("apps.orders.services.stock_reserve", broken)

    crashed = _order(client, "card", (variant, 1), key="card-1")

    assert crashed.status_code == 500
    (intent_id,) = gate.created
    assert stripe_fakes.intent(intent_id)["status"] == "canceled"
    assert not PendingTask.objects.exists()
    _nothing_placed_for(buyer)
    assert stock_of(variant) == (5, 0)
    # Nothing was stored for the key: the retry runs, with a new intent.
    monkeypatch.undo()
    placed = _order(client, "card", (variant, 1), key="card-1")
    assert placed.status_code == 201, placed.content
    assert len(gate.created) == 2
    assert Payment.objects.get().intent_id == gate.created[1]
