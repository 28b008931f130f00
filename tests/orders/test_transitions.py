"""The status machine: every move allowed and refused, who may make it, and its effects on stock,
discount uses, payment status, history and events."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from apps.discounts.models import Discount, DiscountRedemption
from apps.events.models import OutboxEvent
from apps.inventory.models import StockItem, StockMovement
from apps.orders import errors
from apps.orders.models import Order, OrderStatusChange
from apps.orders.services import order_cancel, order_transition
from apps.orders.status import TRANSITIONS
from tests.discounts.factories import DiscountFactory
from tests.orders.conftest import events_of, stock_of
from tests.orders.factories import PATHS, UserFactory, order_in, place, stocked_variant
from tests.services import need_postgres

pytestmark = pytest.mark.django_db

STATUSES = ["pending", "confirmed", "shipped", "delivered", "cancelled", "refunded"]
ALLOWED = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
EXTRA = {"shipped": {"tracking_number": "TRK-9"}}


def test_the_machine_is_exactly_the_contract():
    assert {
        ("pending", "confirmed"),
        ("confirmed", "shipped"),
        ("shipped", "delivered"),
        ("pending", "cancelled"),
        ("confirmed", "cancelled"),
        ("delivered", "refunded"),
    } == ALLOWED


@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED))
def test_allowed_move_by_the_seller(source, target):
    order = order_in(source)
    seller = order.shop.owner
    before_history = OrderStatusChange.objects.filter(order=order).count()

    moved = order_transition(
        order_id=order.pk,
        to=target,
        actor=seller,
        actor_role="seller",
        note="by the book",
        **EXTRA.get(target, {}),
    )

    assert moved.status == target
    assert Order.objects.get(pk=order.pk).status == target
    change = OrderStatusChange.objects.filter(order=order).order_by("created_at").last()
    assert OrderStatusChange.objects.filter(order=order).count() == before_history + 1
    assert (change.from_status, change.to_status, change.actor, change.actor_role) == (
        source,
        target,
        seller,
        "seller",
    )
    assert change.note == "by the book"
    event = OutboxEvent.objects.filter(type=f"order.{target}").order_by("seq").last()
    assert event.key == str(order.pk)
    assert event.payload["from_status"] == source
    assert event.payload["status"] == target


@pytest.mark.parametrize(
    ("source", "target"),
    [(a, b) for a in STATUSES for b in STATUSES if (a, b) not in ALLOWED],
)
def test_every_other_move_is_invalid_transition_and_changes_nothing(source, target):
    order = order_in(source)
    stock = StockItem.objects.get(variant_id=order.lines.get().variant_id)
    snapshot = (stock.on_hand, stock.reserved)
    events = OutboxEvent.objects.count()
    history = OrderStatusChange.objects.count()

    with pytest.raises(errors.InvalidTransition) as caught:
        order_transition(
            order_id=order.pk,
            to=target,
            actor=order.shop.owner,
            actor_role="seller",
            **EXTRA.get(target, {}),
        )

    assert caught.value.code == "order.invalid_transition"
    assert caught.value.status == 409
    assert caught.value.extra["current_status"] == source
    assert caught.value.extra["to"] == target
    assert caught.value.extra["allowed"] == [s for s in STATUSES if (source, s) in ALLOWED]
    assert Order.objects.get(pk=order.pk).status == source
    stock.refresh_from_db()
    assert (stock.on_hand, stock.reserved) == snapshot
    assert OutboxEvent.objects.count() == events
    assert OrderStatusChange.objects.count() == history


@pytest.mark.parametrize("target", ["confirmed", "shipped", "delivered", "refunded"])
def test_buyer_and_system_may_only_cancel(target):
    source = next(a for (a, b) in ALLOWED if b == target)
    order = order_in(source)

    for role, actor in (("buyer", order.buyer), ("system", None)):
        with pytest.raises(errors.TransitionForbidden):
            order_transition(
                order_id=order.pk, to=target, actor=actor, actor_role=role, **EXTRA.get(target, {})
            )
    assert Order.objects.get(pk=order.pk).status == source


def test_shipping_without_a_tracking_number_records_none():
    order = order_in("confirmed")

    order_transition(order_id=order.pk, to="shipped", actor=order.shop.owner, actor_role="seller")

    order.refresh_from_db()
    assert (order.status, order.tracking_number) == ("shipped", "")
    assert order.history.filter(to_status="shipped").count() == 1


def test_unknown_order_is_not_found():
    import uuid

    with pytest.raises(errors.OrderNotFound):
        order_transition(order_id=uuid.uuid4(), to="confirmed", actor=None, actor_role="staff")


# --- effects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["pending", "confirmed"])
def test_cancel_releases_the_reservation_and_the_discount_uses(source):
    variant = stocked_variant(price="20.00", on_hand=10)
    shop = variant.product.shop
    DiscountFactory(shop=shop, code="FIVE", type="fixed_amount", value=Decimal("5.00"), max_uses=1)
    buyer = UserFactory()
    (order,) = place(buyer, (variant, 3), codes=((shop.slug, "FIVE"),)).orders.all()
    for to, extra in PATHS[source]:
        order_transition(order_id=order.pk, to=to, actor=shop.owner, actor_role="seller", **extra)
    assert stock_of(variant) == (10, 3)
    assert Discount.objects.get().uses_count == 1

    order_cancel(order_id=order.pk, actor=buyer, actor_role="buyer", reason="too slow")

    order.refresh_from_db()
    assert (order.status, order.cancel_reason, order.cancelled_by) == (
        "cancelled",
        "too slow",
        "buyer",
    )
    assert stock_of(variant) == (10, 0)
    release = StockMovement.objects.get(kind="release")
    assert (release.quantity, release.order_id, release.actor) == (-3, order.pk, buyer)
    assert Discount.objects.get().uses_count == 0
    assert DiscountRedemption.objects.get().released_at is not None
    # The code can be used again by someone else.
    place(UserFactory(), (variant, 1), codes=((shop.slug, "FIVE"),))
    assert Discount.objects.get().uses_count == 1
    (event,) = events_of("order.cancelled")
    assert event.key == str(order.pk)
    assert event.payload == {
        "order_id": str(order.pk),
        "number": order.number,
        "buyer_id": str(buyer.pk),
        "seller_id": str(shop.owner_id),
        "shop_id": str(shop.pk),
        "from_status": source,
        "status": "cancelled",
        "payment_status": "unpaid",
        "tracking_number": "",
        "total": str(order.total),
        "currency": "USD",
        "cancelled_by": "buyer",
        "reason": "too slow",
    }


def test_ship_fulfils_the_reservation():
    variant = stocked_variant(on_hand=10)
    order = order_in("confirmed", variant=variant, quantity=4)
    assert stock_of(variant) == (10, 4)

    order_transition(
        order_id=order.pk,
        to="shipped",
        actor=order.shop.owner,
        actor_role="seller",
        tracking_number=" 1Z-42 ",
    )

    assert stock_of(variant) == (6, 0)
    fulfil = StockMovement.objects.get(kind="fulfil")
    assert (fulfil.quantity, fulfil.order_id) == (-4, order.pk)
    order.refresh_from_db()
    assert order.tracking_number == "1Z-42"
    (event,) = events_of("order.shipped")
    assert event.payload["tracking_number"] == "1Z-42"
    assert event.payload["seller_id"] == str(order.shop.owner_id)


def test_delivery_marks_cash_on_delivery_paid_and_moves_no_stock():
    variant = stocked_variant(on_hand=10)
    order = order_in("shipped", variant=variant, quantity=2)
    movements = StockMovement.objects.count()

    order_transition(order_id=order.pk, to="delivered", actor=None, actor_role="staff")

    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("delivered", "paid")
    assert stock_of(variant) == (8, 0)
    assert StockMovement.objects.count() == movements
    (event,) = events_of("order.delivered")
    assert event.payload["payment_status"] == "paid"


def test_refund_without_restock_moves_no_stock():
    variant = stocked_variant(on_hand=10)
    order = order_in("delivered", variant=variant, quantity=2)
    movements = StockMovement.objects.count()

    order_transition(order_id=order.pk, to="refunded", actor=order.shop.owner, actor_role="seller")

    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("refunded", "refunded")
    assert stock_of(variant) == (8, 0)
    assert StockMovement.objects.count() == movements


def test_refund_with_restock_returns_the_goods_with_a_return_movement():
    variant = stocked_variant(on_hand=10)
    order = order_in("delivered", variant=variant, quantity=2)

    order_transition(
        order_id=order.pk,
        to="refunded",
        actor=order.shop.owner,
        actor_role="seller",
        restock=True,
        note="parcel came back",
    )

    assert stock_of(variant) == (10, 0)
    movement = StockMovement.objects.get(kind="return")
    assert (movement.quantity, movement.order_id) == (2, order.pk)
    change = OrderStatusChange.objects.filter(order=order).order_by("created_at").last()
    assert change.note == "parcel came back (restocked)"
    (event,) = events_of("order.refunded")
    assert event.payload["payment_status"] == "refunded"


def test_confirm_moves_no_stock():
    variant = stocked_variant(on_hand=10)
    order = order_in("pending", variant=variant, quantity=2)
    movements = StockMovement.objects.count()

    order_transition(order_id=order.pk, to="confirmed", actor=None, actor_role="staff")

    assert stock_of(variant) == (10, 2)
    assert StockMovement.objects.count() == movements
    (event,) = events_of("order.confirmed")
    assert "cancelled_by" not in event.payload


def test_one_event_per_move_in_order_keyed_by_the_order():
    order = order_in("refunded")

    types = list(
        OutboxEvent.objects.filter(key=str(order.pk)).order_by("seq").values_list("type", flat=True)
    )

    assert types == [
        "order.placed",
        "order.confirmed",
        "order.shipped",
        "order.delivered",
        "order.refunded",
    ]
    assert list(
        OrderStatusChange.objects.filter(order=order)
        .order_by("created_at")
        .values_list("from_status", "to_status")
    ) == [
        ("", "pending"),
        ("pending", "confirmed"),
        ("confirmed", "shipped"),
        ("shipped", "delivered"),
        ("delivered", "refunded"),
    ]


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_moves_cannot_both_win():
    """Cancel (buyer) and ship (seller) race on a confirmed order: exactly one wins, the other
    is 409, and the stock is either released or fulfilled, never both."""
    need_postgres()
    variant = stocked_variant(on_hand=10)
    order = order_in("confirmed", variant=variant, quantity=3)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(to: str, actor, role: str, extra: dict) -> None:
        try:
            barrier.wait(timeout=10)
            order_transition(order_id=order.pk, to=to, actor=actor, actor_role=role, **extra)
            outcomes.append(f"won:{to}")
        except errors.InvalidTransition:
            outcomes.append(f"409:{to}")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=attempt, args=("cancelled", order.buyer, "buyer", {})),
        threading.Thread(
            target=attempt,
            args=("shipped", order.shop.owner, "seller", {"tracking_number": "T"}),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(o.split(":")[0] for o in outcomes) == ["409", "won"]
    final = Order.objects.get(pk=order.pk).status
    assert f"won:{final}" in outcomes
    assert stock_of(variant) == ((10, 0) if final == "cancelled" else (7, 0))
    assert OrderStatusChange.objects.filter(order=order).count() == 3
