"""Expiry of pending orders (service, Celery task, command, beat entry), the order admin and the
demo seed."""

import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from apps.events.models import OutboxEvent
from apps.orders.demo import DEMO_ORDERS
from apps.orders.demo import seed as demo_seed
from apps.orders.models import Order, OrderStatusChange
from apps.orders.services import orders_expire
from apps.orders.tasks import expire_pending_orders_task
from tests.orders.conftest import stock_of
from tests.orders.factories import UserFactory, order_in, stocked_variant

pytestmark = pytest.mark.django_db


def _age(order: Order, by: timedelta) -> None:
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - by)


def test_pending_orders_older_than_the_ttl_are_cancelled_by_the_system():
    variant = stocked_variant(on_hand=10)
    old = order_in("pending", variant=variant, quantity=3)
    fresh = order_in("pending", variant=variant, quantity=1)
    confirmed = order_in("confirmed", variant=variant, quantity=2)
    for order in (old, confirmed):
        _age(order, settings.ORDER_PENDING_TTL + timedelta(minutes=1))
    _age(fresh, settings.ORDER_PENDING_TTL - timedelta(minutes=1))

    assert orders_expire() == 1

    old.refresh_from_db()
    assert (old.status, old.cancel_reason, old.cancelled_by) == ("cancelled", "expired", "system")
    assert Order.objects.get(pk=fresh.pk).status == "pending"
    assert Order.objects.get(pk=confirmed.pk).status == "confirmed"
    assert stock_of(variant) == (10, 3)  # 1 (fresh) + 2 (confirmed) still reserved
    change = OrderStatusChange.objects.filter(order=old).order_by("created_at").last()
    assert (change.to_status, change.actor, change.actor_role, change.note) == (
        "cancelled",
        None,
        "system",
        "expired",
    )
    event = OutboxEvent.objects.get(type="order.cancelled")
    assert event.key == str(old.pk)
    assert (event.payload["cancelled_by"], event.payload["reason"]) == ("system", "expired")
    # Running again finds nothing.
    assert orders_expire() == 0


def test_the_task_and_the_command_run_the_same_service():
    first = order_in("pending")
    second = order_in("pending")
    _age(first, settings.ORDER_PENDING_TTL + timedelta(hours=1))

    assert expire_pending_orders_task.delay().get() == 1
    assert Order.objects.get(pk=first.pk).status == "cancelled"

    _age(second, settings.ORDER_PENDING_TTL + timedelta(hours=1))
    out = io.StringIO()
    call_command("expire_orders", "--all", stdout=out)
    assert "Cancelled 1 pending order(s)" in out.getvalue()
    assert Order.objects.get(pk=second.pk).status == "cancelled"


def test_the_expiry_runs_on_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["orders-expire-pending"]
    assert entry["task"] == "orders.expire_pending"
    assert entry["schedule"] > 0
    from config.celery import app

    assert "orders.expire_pending" in app.tasks


# --- admin ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    client.staff = staff
    return client


def test_admin_lists_and_shows_an_order_with_lines_and_history(admin_client):
    order = order_in("shipped")

    listing = admin_client.get(reverse("admin:orders_order_changelist"), {"status": "shipped"})
    detail = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    checkout = admin_client.get(reverse("admin:orders_checkout_change", args=[order.checkout_id]))

    assert listing.status_code == 200
    assert order.number in listing.content.decode()
    assert detail.status_code == 200
    content = detail.content.decode()
    assert order.lines.get().sku in content
    assert "confirmed" in content
    assert "TRK-1" in content
    assert checkout.status_code == 200


def test_admin_actions_move_orders_through_the_services(admin_client):
    pending = order_in("pending")
    shipped = order_in("shipped")
    url = reverse("admin:orders_order_changelist")

    admin_client.post(url, {"action": "confirm", "_selected_action": [pending.pk, shipped.pk]})

    assert Order.objects.get(pk=pending.pk).status == "confirmed"
    assert Order.objects.get(pk=shipped.pk).status == "shipped"  # refused, unchanged
    change = OrderStatusChange.objects.filter(order=pending).order_by("created_at").last()
    assert (change.actor, change.actor_role) == (admin_client.staff, "staff")
    assert OutboxEvent.objects.filter(type="order.confirmed", key=str(pending.pk)).exists()


def test_admin_ship_asks_for_tracking_numbers_then_ships(admin_client):
    order = order_in("confirmed")
    url = reverse("admin:orders_order_changelist")

    form = admin_client.post(url, {"action": "ship", "_selected_action": [order.pk]})
    assert form.status_code == 200
    assert f"tracking_number_{order.pk}" in form.content.decode()
    assert Order.objects.get(pk=order.pk).status == "confirmed"

    admin_client.post(
        url,
        {
            "action": "ship",
            "apply": "ship",
            "_selected_action": [order.pk],
            f"tracking_number_{order.pk}": "ADMIN-42",
        },
    )
    order.refresh_from_db()
    assert (order.status, order.tracking_number) == ("shipped", "ADMIN-42")


def test_admin_refund_with_restock_and_cancel(admin_client):
    variant = stocked_variant(on_hand=10)
    delivered = order_in("delivered", variant=variant, quantity=2)
    pending = order_in("pending", variant=variant, quantity=1)
    url = reverse("admin:orders_order_changelist")

    admin_client.post(url, {"action": "refund_restock", "_selected_action": [delivered.pk]})
    admin_client.post(url, {"action": "cancel", "_selected_action": [pending.pk]})

    assert Order.objects.get(pk=delivered.pk).status == "refunded"
    assert Order.objects.get(pk=pending.pk).status == "cancelled"
    assert stock_of(variant) == (10, 0)


def test_admin_cannot_add_or_delete_orders(admin_client):
    assert admin_client.get(reverse("admin:orders_order_add")).status_code == 403


# --- demo -------------------------------------------------------------------------------------


def test_demo_seed_places_orders_in_several_states_once():
    customer = UserFactory(email="customer@example.com")
    for _ in range(3):
        stocked_variant(on_hand=20)

    demo_seed(out := io.StringIO())
    assert f"{len(DEMO_ORDERS)} demo order(s)" in out.getvalue()
    statuses = sorted(Order.objects.filter(buyer=customer).values_list("status", flat=True))
    assert statuses == ["cancelled", "confirmed", "delivered", "pending", "shipped"]

    demo_seed(out := io.StringIO())
    assert "already there" in out.getvalue()
    assert Order.objects.filter(buyer=customer).count() == len(DEMO_ORDERS)


def test_demo_seed_without_customer_or_products_skips():
    demo_seed(out := io.StringIO())
    assert "no demo customer" in out.getvalue()
    UserFactory(email="customer@example.com")
    demo_seed(out := io.StringIO())
    assert "no stocked demo products" in out.getvalue()
    assert Order.objects.count() == 0
