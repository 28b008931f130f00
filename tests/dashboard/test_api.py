"""GET /api/v1/seller/dashboard: the shop's figures, for its seller (staff: any shop or all)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.orders.models import Order
from apps.reviews.models import Review
from tests.conftest import auth_client
from tests.inventory.factories import StockItemFactory, stocked_variant
from tests.orders.factories import order_in
from tests.reviews.factories import ReviewFactory
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/seller/dashboard"
PROBLEM = "application/problem+json"


def _days_ago(order: Order, days: int) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=days))
    order.refresh_from_db()
    return order


@pytest.fixture
def shop():
    return ShopFactory()


@pytest.fixture
def figures(shop):
    """Orders of `shop` in every state, some on earlier days, and one of another shop."""
    variant = stocked_variant(price="12.50", on_hand=100, shop=shop)
    today = [order_in(s, variant=variant) for s in ("pending", "pending", "confirmed", "shipped")]
    order_in("delivered", variant=variant)
    order_in("cancelled", variant=variant)  # not a sale
    _days_ago(order_in("delivered", variant=variant), 3)
    _days_ago(order_in("refunded", variant=variant), 3)  # not a sale
    _days_ago(order_in("delivered", variant=variant), 30)  # before the window
    order_in("pending")  # another shop's
    low = StockItemFactory(
        variant__product__shop=shop, variant__sku="LOW-1", on_hand=3, low_stock_threshold=5
    )
    ReviewFactory(product=variant.product, rating=4, title="Good")
    ReviewFactory(product=variant.product, rating=1, status=Review.Status.HIDDEN)
    ReviewFactory(rating=5)  # another shop's product
    return {"today": today, "low": low, "variant": variant}


def test_seller_gets_their_shop_figures(shop, figures):
    response = auth_client(shop.owner).get(URL)

    assert response.status_code == 200
    body = response.json()
    order_total = Order.objects.filter(shop=shop).first().total  # every order: 2 x 12.50 + fee
    assert body["currency"] == "USD"
    assert body["today"] == {
        "date": timezone.localdate().isoformat(),
        "orders": 5,  # 2 pending, confirmed, shipped, delivered; not the cancelled one
        "revenue": str(order_total * 5),
    }
    days = body["last_30_days"]["days"]
    assert len(days) == 30
    assert days[-1] == body["today"]
    three_ago = (timezone.localdate() - timedelta(days=3)).isoformat()
    assert [d for d in days if d["orders"]] == [
        {"date": three_ago, "orders": 1, "revenue": str(order_total)},
        body["today"],
    ]
    assert body["last_30_days"]["orders"] == 6
    assert Decimal(body["last_30_days"]["revenue"]) == order_total * 6
    waiting = {row["status"]: (row["next_step"], row["count"]) for row in body["waiting"]}
    assert waiting == {
        "pending": ("confirm", 2),
        "confirmed": ("ship", 1),
        "shipped": ("deliver", 1),
    }
    oldest_pending = min(o.created_at for o in figures["today"] if o.status == "pending")
    assert body["waiting"][0]["oldest_at"] == oldest_pending.isoformat().replace("+00:00", "Z")
    assert body["low_stock"]["count"] == 1
    (row,) = body["low_stock"]["variants"]
    assert (row["sku"], row["available"], row["low_stock_threshold"]) == ("LOW-1", 3, 5)
    assert [(r["rating"], r["title"]) for r in body["reviews"]] == [(4, "Good")]


def test_staff_see_the_marketplace_or_one_shop(shop, figures):
    client = auth_client(UserFactory(is_staff=True))

    everything = client.get(URL).json()
    one = client.get(URL, {"shop": shop.slug}).json()

    assert everything["today"]["orders"] == 6  # the other shop's pending order too
    assert one == auth_client(shop.owner).get(URL).json()
    missing = client.get(URL, {"shop": "no-such-shop"})
    assert missing.status_code == 404
    assert missing["Content-Type"] == PROBLEM
    assert missing.json()["code"] == "shop.not_found"


def test_a_seller_cannot_see_another_shop(shop, figures):
    other = ShopFactory()

    body = auth_client(other.owner).get(URL, {"shop": shop.slug}).json()

    assert body["today"]["orders"] == 0  # `shop` is for staff; a seller sees their own shop
    assert body["low_stock"]["count"] == 0
    assert body["reviews"] == []


def test_customers_are_refused_and_anonymous_callers_unauthenticated(api_client):
    customer = auth_client(UserFactory()).get(URL)
    anonymous = api_client.get(URL)

    assert customer.status_code == 403
    assert customer["Content-Type"] == PROBLEM
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == PROBLEM


def test_bad_shop_parameter_is_400(api_client):
    response = auth_client(UserFactory(is_staff=True)).get(URL, {"shop": "not a slug!"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/shop"


def test_query_count_does_not_grow_with_rows(shop, figures, django_assert_num_queries):
    client = auth_client(shop.owner)
    # The user, the shop; sales per day, open orders, low-stock count and rows, reviews.
    with django_assert_num_queries(7):
        client.get(URL)
    for _ in range(3):
        StockItemFactory(variant__product__shop=shop, on_hand=0)
        ReviewFactory(product=figures["variant"].product)
    with django_assert_num_queries(7):
        assert client.get(URL).json()["low_stock"]["count"] == 4
