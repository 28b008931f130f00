"""A guest fills a cart, signs up, merges it, reviews the checkout with a discount code, places
the order; the seller confirms, ships and delivers it; the buyer reviews the product as a verified
purchase; both sides get their notifications. Everything the buyer does goes through the API."""

from decimal import Decimal

import pytest

from apps.cart.models import Cart
from apps.discounts.models import Discount
from apps.inventory.models import StockItem
from apps.orders.models import Order
from tests.catalog.factories import make_product
from tests.flows.conftest import PROBLEM
from tests.shops.factories import ShopFactory

pytestmark = pytest.mark.django_db

ADDRESS = {
    "name": "Bea Buyer",
    "line1": "1 Market Street",
    "line2": "",
    "city": "Springfield",
    "state": "",
    "postal_code": "12345",
    "country": "US",
    "phone": "+1 555 010 0000",
}


def _types(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [n["type"] for n in response.json()["results"]]


def test_guest_to_verified_review(new_api):
    shop = ShopFactory(name="Alpha", slug="alpha", shipping_fee=Decimal("5.00"))
    lamp = make_product(shop, name="Desk Lamp", price="20.00", stock=5)
    variant = lamp.variants.get()
    seller = new_api().as_user(shop.owner)
    response = seller.post(
        "/api/v1/seller/discounts",
        {"code": "SAVE10", "name": "Ten off", "type": "percentage", "value": "10.00"},
    )
    assert response.status_code == 201, response.content
    discount_id = response.json()["id"]

    # A guest adds two lamps; the first cart response hands out the guest token.
    guest = new_api()
    response = guest.post("/api/v1/cart/items", {"variant_id": str(variant.pk), "quantity": 2})
    assert response.status_code == 201, response.content
    token = response["X-Cart-Token"]
    guest_cart = response.json()
    assert guest_cart["token"] == token
    assert (guest_cart["item_count"], guest_cart["subtotal"]) == (2, "40.00")
    again = guest.get("/api/v1/cart", HTTP_X_CART_TOKEN=token).json()
    assert (again["id"], again["item_count"]) == (guest_cart["id"], 2)

    # Sign up, log in again (a fresh pair of tokens), and fold the guest cart in.
    buyer = new_api()
    signup = buyer.signup("bea@example.com", "Bea Buyer")
    login = buyer.login("bea@example.com")
    assert login["user"]["id"] == signup["user"]["id"]
    response = buyer.post("/api/v1/cart/merge", HTTP_X_CART_TOKEN=token)
    assert response.status_code == 200, response.content
    cart = response.json()
    assert "token" not in cart
    (group,) = cart["shops"]
    assert group["shop"] == {"id": str(shop.pk), "slug": "alpha", "name": "Alpha"}
    (line,) = group["items"]
    assert (line["variant_id"], line["quantity"], line["unit_price"], line["line_total"]) == (
        str(variant.pk),
        2,
        "20.00",
        "40.00",
    )
    assert not Cart.objects.filter(token=token, user__isnull=True).exists()

    # Review the checkout with the code (any case): 10% of 40.00, plus the shop's shipping.
    codes = [{"shop": "alpha", "code": "save10"}]
    response = buyer.post("/api/v1/checkout/review", {"discounts": codes})
    assert response.status_code == 200, response.content
    review = response.json()
    (shop_review,) = review["shops"]
    assert shop_review["discounts"] == [{"code": "SAVE10", "amount": "4.00"}]
    assert (
        shop_review["subtotal"],
        shop_review["discount_total"],
        shop_review["shipping_fee"],
        shop_review["total"],
    ) == ("40.00", "4.00", "5.00", "41.00")
    assert (
        review["subtotal"],
        review["discount_total"],
        review["shipping_total"],
        review["total"],
        review["currency"],
    ) == ("40.00", "4.00", "5.00", "41.00", "USD")

    # An unknown code is a 404 problem and reserves nothing.
    response = buyer.post(
        "/api/v1/checkout/review", {"discounts": [{"shop": "alpha", "code": "NOPE"}]}
    )
    assert response.status_code == 404
    assert response["Content-Type"].startswith(PROBLEM)
    assert response.json()["code"] == "discount.not_found"

    # Place the order: the same totals, stock reserved, one use redeemed, the cart emptied.
    response = buyer.post("/api/v1/orders", {"discounts": codes, "shipping_address": ADDRESS})
    assert response.status_code == 201, response.content
    checkout = response.json()
    assert (checkout["subtotal"], checkout["discount_total"], checkout["total"]) == (
        "40.00",
        "4.00",
        "41.00",
    )
    (placed,) = checkout["orders"]
    order_id = placed["id"]
    assert (placed["status"], placed["payment_status"], placed["total"]) == (
        "pending",
        "unpaid",
        "41.00",
    )
    assert [
        (ln["sku"], ln["quantity"], ln["discount"], ln["line_total"]) for ln in placed["lines"]
    ] == [(variant.sku, 2, "4.00", "36.00")]
    assert placed["shipping_address"] == ADDRESS
    stock = StockItem.objects.get(variant=variant)
    assert (stock.on_hand, stock.reserved) == (5, 2)
    assert Discount.objects.get(pk=discount_id).uses_count == 1
    assert buyer.get("/api/v1/cart").json()["item_count"] == 0

    # The seller sees it and moves it along.
    listed = seller.get("/api/v1/seller/orders").json()["results"]
    assert [o["id"] for o in listed] == [order_id]

    for to, extra in (
        ("confirmed", {}),
        ("shipped", {"tracking_number": "TRK-9"}),
        ("delivered", {}),
    ):
        response = seller.post(f"/api/v1/seller/orders/{order_id}/transition", {"to": to, **extra})
        assert response.status_code == 200, response.content
        assert response.json()["status"] == to

    mine = buyer.get(f"/api/v1/orders/{order_id}").json()
    assert (mine["status"], mine["payment_status"], mine["tracking_number"]) == (
        "delivered",
        "paid",
        "TRK-9",
    )
    assert [(h["status"], h["actor"]) for h in mine["history"]] == [
        ("pending", "buyer"),
        ("confirmed", "seller"),
        ("shipped", "seller"),
        ("delivered", "seller"),
    ]
    stock.refresh_from_db()
    assert (stock.on_hand, stock.reserved) == (3, 0)
    assert Order.objects.get(pk=order_id).status == Order.Status.DELIVERED

    # The buyer reviews what they bought: a verified purchase, reflected in the product rating.
    response = buyer.post(
        f"/api/v1/products/{lamp.pk}/reviews",
        {"rating": 5, "title": "Great", "body": "Bright lamp.", "verified_purchase": False},
    )
    assert response.status_code == 201, response.content
    written = response.json()
    assert (written["rating"], written["verified_purchase"], written["status"]) == (
        5,
        True,
        "published",
    )
    assert written["author"] == {"id": signup["user"]["id"], "name": "Bea Buyer"}
    detail = buyer.get(f"/api/v1/products/{lamp.pk}").json()
    assert (detail["rating_avg"], detail["rating_count"]) == ("5.00", 1)
    assert detail["rating_histogram"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
    duplicate = buyer.post(f"/api/v1/products/{lamp.pk}/reviews", {"rating": 1, "title": "x"})
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "review.exists"

    # Notifications: newest first.
    assert _types(seller.get("/api/v1/notifications")) == ["review.created", "order.placed"]
    buyer_feed = buyer.get("/api/v1/notifications").json()["results"]
    assert [n["type"] for n in buyer_feed] == [
        "order.status_changed",
        "order.status_changed",
        "order.status_changed",
        "order.placed",
    ]
    assert [n["data"]["status"] for n in buyer_feed] == [
        "delivered",
        "shipped",
        "confirmed",
        "pending",
    ]
    assert all(n["data"]["order_id"] == order_id for n in buyer_feed)
    assert buyer.get("/api/v1/notifications/unread-count").json() == {"count": 4}
