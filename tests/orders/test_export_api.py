"""GET /api/v1/seller/exports/orders.csv: a shop's order lines as streamed CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.orders.models import Order, OrderLine
from tests.conftest import auth_client
from tests.inventory.factories import stocked_variant
from tests.orders.factories import order_in
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/seller/exports/orders.csv"
PROBLEM = "application/problem+json"


def rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def shop():
    return ShopFactory()


@pytest.fixture
def orders(shop):
    variant = stocked_variant(price="12.50", on_hand=100, shop=shop)
    placed = [order_in(status, variant=variant) for status in ("pending", "shipped", "cancelled")]
    old = order_in("delivered", variant=variant)
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    order_in("pending")  # another shop's
    return placed, old


def test_the_export_matches_the_database(shop, orders):
    placed, _ = orders

    exported = rows(auth_client(shop.owner).get(URL))

    lines = OrderLine.objects.filter(order__in=placed).select_related("order__shop", "order__buyer")
    assert len(exported) == lines.count() == 3
    by_order = {row["order"]: row for row in exported}
    for line in lines:
        row = by_order[line.order.number]
        order = line.order
        assert row == {
            "order": order.number,
            "placed_at": order.created_at.isoformat(),
            "status": order.status,
            "payment_status": order.payment_status,
            "shop": shop.slug,
            "buyer": order.buyer.email,
            "currency": order.currency,
            "sku": line.sku,
            "product": line.product_name,
            "quantity": str(line.quantity),
            "unit_price": str(line.unit_price),
            "line_discount": str(line.discount),
            "line_total": str(line.line_total),
            "order_subtotal": str(order.subtotal),
            "order_discount": str(order.discount_total),
            "shipping_fee": str(order.shipping_fee),
            "order_total": str(order.total),
            "tracking_number": order.tracking_number,
        }


def test_the_range_picks_the_days(shop, orders):
    _, old = orders
    old.refresh_from_db()
    day = old.created_at.date()

    exported = rows(
        auth_client(shop.owner).get(URL, {"from": day.isoformat(), "to": day.isoformat()})
    )

    assert [row["order"] for row in exported] == [old.number]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"from": "2026-03-02", "to": "2026-03-01"}, "Must not be after `to`."),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "At most 366 days at a time."),
        ({"from": "yesterday"}, None),
    ],
)
def test_bad_ranges_are_400(shop, params, detail):
    response = auth_client(shop.owner).get(URL, params, HTTP_ACCEPT="text/csv")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    error = response.json()["errors"][0]
    assert error["pointer"] == "/from"
    if detail:
        assert error["detail"] == detail


def test_staff_export_every_shop_and_others_are_refused(api_client, shop, orders):
    staff = rows(auth_client(UserFactory(is_staff=True)).get(URL))
    one = rows(auth_client(UserFactory(is_staff=True)).get(URL, {"shop": shop.slug}))
    other = rows(auth_client(ShopFactory().owner).get(URL, {"shop": shop.slug}))

    assert len(staff) == 4
    assert len(one) == 3
    assert other == []  # a seller's `shop` is ignored: their own (empty) shop
    assert auth_client(UserFactory()).get(URL).status_code == 403
    assert api_client.get(URL).status_code == 401
