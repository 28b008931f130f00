"""The order events as the notifications app receives them (relay after commit, eager tasks):
the payloads carry what its rules read."""

import pytest

from apps.notifications.models import Notification
from apps.orders.services import order_transition
from tests.orders.factories import UserFactory, place, stocked_variant

pytestmark = pytest.mark.django_db


def test_placement_and_moves_notify_buyer_and_seller(django_capture_on_commit_callbacks):
    buyer = UserFactory()
    variant = stocked_variant(price="12.50", on_hand=10)
    seller = variant.product.shop.owner

    with django_capture_on_commit_callbacks(execute=True):
        (order,) = place(buyer, (variant, 2)).orders.all()
    with django_capture_on_commit_callbacks(execute=True):
        order_transition(order_id=order.pk, to="confirmed", actor=seller, actor_role="seller")
    with django_capture_on_commit_callbacks(execute=True):
        order_transition(
            order_id=order.pk, to="shipped", actor=seller, actor_role="seller", tracking_number="Z9"
        )
    with django_capture_on_commit_callbacks(execute=True):
        order_transition(order_id=order.pk, to="delivered", actor=seller, actor_role="seller")

    buyer_types = list(
        Notification.objects.filter(recipient=buyer)
        .order_by("created_at")
        .values_list("type", "title")
    )
    assert buyer_types == [
        ("order.placed", f"Order {order.number} placed"),
        ("order.status_changed", f"Order {order.number} confirmed"),
        ("order.status_changed", f"Order {order.number} shipped"),
        ("order.status_changed", f"Order {order.number} delivered"),
    ]
    shipped = Notification.objects.get(recipient=buyer, title__endswith="shipped")
    assert "Tracking number: Z9" in shipped.body
    assert list(Notification.objects.filter(recipient=seller).values_list("type", flat=True)) == [
        "order.placed"
    ]


def test_a_buyer_cancel_notifies_the_seller(django_capture_on_commit_callbacks):
    buyer = UserFactory()
    variant = stocked_variant(on_hand=10)
    seller = variant.product.shop.owner
    (order,) = place(buyer, (variant, 1)).orders.all()

    with django_capture_on_commit_callbacks(execute=True):
        order_transition(
            order_id=order.pk, to="cancelled", actor=buyer, actor_role="buyer", reason="oops"
        )

    cancelled = Notification.objects.get(type="order.cancelled")
    assert cancelled.recipient == seller
    assert "(oops)" in cancelled.body
