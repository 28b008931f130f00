"""Buyer and seller order endpoints: bodies, refusals and the permission matrix."""

from decimal import Decimal

import pytest

from apps.cart.models import Cart, CartItem
from apps.discounts.models import Discount
from apps.orders.models import Checkout, Order
from apps.orders.services import order_transition
from tests.assertions import assert_problem
from tests.conftest import auth_client, clear_own_cache
from tests.discounts.factories import DiscountFactory
from tests.orders.conftest import stock_of
from tests.orders.factories import (
    PATHS,
    ShopFactory,
    UserFactory,
    address_payload,
    order_in,
    place,
)
from tests.orders.factories import stocked_variant as make_variant

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"
SELLER_ORDERS = "/api/v1/seller/orders"
PROBLEM = "application/problem+json"


def _body(variant, quantity=1, **extra):
    return {
        "items": [{"variant_id": str(variant.pk), "quantity": quantity}],
        "shipping_address": address_payload(),
        **extra,
    }


# --- POST /orders -----------------------------------------------------------------------------


def test_place_from_the_cart_answers_201_with_the_orders(buyer, buyer_client, shop):
    variant = make_variant(price="12.50", on_hand=10, shop=shop)
    DiscountFactory(shop=shop, code="TEN", type="percentage", value=Decimal("10"))
    cart = Cart.objects.create(user=buyer)
    CartItem.objects.create(cart=cart, variant=variant, quantity=2)

    response = buyer_client.post(
        ORDERS,
        {
            "discounts": [{"shop": "alpha", "code": "ten"}],
            "shipping_address": address_payload(country="de"),
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    checkout = Checkout.objects.get()
    order = checkout.orders.get()
    assert body["checkout_number"] == checkout.number
    assert (body["subtotal"], body["discount_total"], body["shipping_total"], body["total"]) == (
        "25.00",
        "2.50",
        "5.00",
        "27.50",
    )
    assert body["currency"] == "USD"
    (placed,) = body["orders"]
    assert placed["id"] == str(order.pk)
    assert placed["number"] == f"{checkout.number}-1"
    assert placed["checkout_number"] == checkout.number
    assert placed["shop"] == {"id": str(shop.pk), "slug": "alpha", "name": "Alpha"}
    assert placed["buyer"] == {"id": str(buyer.pk), "name": buyer.name}
    assert (placed["status"], placed["payment_status"], placed["payment_method"]) == (
        "pending",
        "unpaid",
        "cash_on_delivery",
    )
    assert placed["lines"] == [
        {
            "id": str(order.lines.get().pk),
            "product_id": str(variant.product_id),
            "variant_id": str(variant.pk),
            "name": variant.product.name,
            "sku": variant.sku,
            "options": {},
            "unit_price": "12.50",
            "quantity": 2,
            "discount": "2.50",
            "line_total": "22.50",
        }
    ]
    assert placed["shipping_address"] == address_payload(country="DE")
    assert placed["tracking_number"] == ""
    assert [(h["status"], h["actor"]) for h in placed["history"]] == [("pending", "buyer")]
    assert not CartItem.objects.filter(cart=cart).exists()
    assert stock_of(variant) == (10, 2)


def test_price_status_and_buyer_in_the_body_are_ignored(buyer, buyer_client, variant):
    other = UserFactory()
    body = _body(variant, 1)
    body["items"][0]["unit_price"] = "0.01"
    body.update(
        {"status": "delivered", "total": "0.00", "buyer": str(other.pk), "payment_status": "paid"}
    )

    response = buyer_client.post(ORDERS, body, format="json")

    assert response.status_code == 201
    order = Order.objects.get()
    assert (order.status, order.payment_status, order.buyer, order.total) == (
        "pending",
        "unpaid",
        buyer,
        Decimal("17.50"),
    )


def test_empty_selection_is_422_order_empty(buyer_client):
    response = buyer_client.post(ORDERS, {"shipping_address": address_payload()}, format="json")

    assert_problem(response, 422, "order.empty")
    assert Checkout.objects.count() == 0


def test_short_stock_is_409_naming_sku_and_available(buyer_client, shop):
    variant = make_variant(on_hand=2, shop=shop)

    body = assert_problem(
        buyer_client.post(ORDERS, _body(variant, 3), format="json"),
        409,
        "inventory.insufficient_stock",
    )

    assert body["sku"] == variant.sku
    assert body["available"] == 2
    assert Order.objects.count() == 0
    assert stock_of(variant) == (2, 0)


def test_unavailable_product_is_404(buyer_client, variant):
    variant.product.status = "draft"
    variant.product.save()

    assert_problem(
        buyer_client.post(ORDERS, _body(variant), format="json"), 404, "cart.variant_not_found"
    )


def test_discount_refusal_is_422_and_unknown_code_404(buyer_client, shop, variant):
    DiscountFactory(shop=shop, code="BIG", min_order_value=Decimal("500"))

    assert_problem(
        buyer_client.post(
            ORDERS, _body(variant, discounts=[{"shop": "alpha", "code": "BIG"}]), format="json"
        ),
        422,
        "discount.min_order_value",
    )
    assert_problem(
        buyer_client.post(
            ORDERS, _body(variant, discounts=[{"shop": "alpha", "code": "NOPE"}]), format="json"
        ),
        404,
        "discount.not_found",
    )
    assert Discount.objects.get().uses_count == 0
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"shipping_address": None}, "/shipping_address"),
        ({"shipping_address": address_payload(country="XX")}, "/shipping_address/country"),
        ({"shipping_address": address_payload(phone="call me")}, "/shipping_address/phone"),
        ({"shipping_address": {"name": "x"}}, "/shipping_address/line1"),
        ({"address_id": "not-a-uuid"}, "/address_id"),
        ({"payment_method": "bitcoin"}, "/payment_method"),
        ({"items": [{"variant_id": "x", "quantity": 0}]}, "/items/0/quantity"),
    ],
)
def test_invalid_input_is_400_with_pointers(buyer_client, variant, change, pointer):
    body = _body(variant)
    body.update(change)
    if body["shipping_address"] is None:
        del body["shipping_address"]
    if "address_id" in change:
        del body["shipping_address"]

    problem = assert_problem(buyer_client.post(ORDERS, body, format="json"), 400, "invalid")

    assert pointer in [error["pointer"] for error in problem["errors"]]
    assert Order.objects.count() == 0


def test_address_id_of_another_user_is_400(buyer_client, variant):
    from tests.users.factories import AddressFactory

    body = _body(variant)
    del body["shipping_address"]
    body["address_id"] = str(AddressFactory().pk)

    problem = assert_problem(
        buyer_client.post(ORDERS, body, format="json"), 400, "order.address_invalid"
    )
    assert problem["errors"][0]["pointer"] == "/address_id"


def test_anonymous_cannot_place(api_client, variant):
    assert_problem(
        api_client.post(ORDERS, _body(variant), format="json"), 401, "auth.not_authenticated"
    )


def test_idempotency_key_replays_the_first_response(buyer_client, variant):
    first = buyer_client.post(ORDERS, _body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = buyer_client.post(ORDERS, _body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    reused = buyer_client.post(ORDERS, _body(variant, 2), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert_problem(reused, 422, "idempotency.key_reused")
    assert Checkout.objects.count() == 1
    assert Checkout.objects.get().idempotency_key == "k-1"
    assert stock_of(variant) == (10, 1)


def test_key_known_to_the_database_but_lost_by_the_cache_still_replays(buyer_client, variant):
    first = buyer_client.post(ORDERS, _body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    clear_own_cache()
    second = buyer_client.post(ORDERS, _body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    assert second.status_code == 201
    assert second.json() == first.json()
    assert Checkout.objects.count() == 1
    assert stock_of(variant) == (10, 1)


# --- buyer reads and cancel -------------------------------------------------------------------


@pytest.fixture
def matrix(db):
    """One confirmed order and the people around it."""
    order = order_in("confirmed")
    return {
        "order": order,
        "buyer": auth_client(order.buyer),
        "other_buyer": auth_client(UserFactory()),
        "seller": auth_client(order.shop.owner),
        "other_seller": auth_client(ShopFactory().owner),
        "staff": auth_client(UserFactory(is_staff=True)),
    }


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("buyer", 200),
        ("other_buyer", 404),
        ("seller", 404),
        ("other_seller", 404),
        ("staff", 200),
    ],
)
def test_buyer_detail_permission_matrix(matrix, who, status):
    order = matrix["order"]

    response = matrix[who].get(f"{ORDERS}/{order.pk}")

    assert response.status_code == status
    if status == 404:
        assert response["Content-Type"].startswith(PROBLEM)
        assert response.json()["code"] == "order.not_found"
    else:
        body = response.json()
        assert body["id"] == str(order.pk)
        assert [h["status"] for h in body["history"]] == ["pending", "confirmed"]
        assert body["history"][1]["actor"] == "seller"
        assert set(body["history"][1]) == {"status", "from_status", "at", "actor", "note"}


def test_anonymous_gets_401_everywhere(api_client, matrix):
    order_id = matrix["order"].pk
    for method, path in [
        ("get", ORDERS),
        ("get", f"{ORDERS}/{order_id}"),
        ("post", f"{ORDERS}/{order_id}/cancel"),
        ("get", SELLER_ORDERS),
        ("get", f"{SELLER_ORDERS}/{order_id}"),
        ("post", f"{SELLER_ORDERS}/{order_id}/transition"),
    ]:
        response = getattr(api_client, method)(path)
        assert_problem(response, 401, "auth.not_authenticated")


@pytest.mark.parametrize(
    ("who", "status", "cancelled_by"),
    [
        ("buyer", 200, "buyer"),
        ("other_buyer", 404, None),
        ("seller", 404, None),
        ("other_seller", 404, None),
        ("staff", 200, "staff"),
    ],
)
def test_cancel_permission_matrix(matrix, who, status, cancelled_by):
    order = matrix["order"]
    variant_id = order.lines.get().variant_id

    response = matrix[who].post(
        f"{ORDERS}/{order.pk}/cancel", {"reason": "no longer needed"}, format="json"
    )

    assert response.status_code == status
    order.refresh_from_db()
    if status == 200:
        body = response.json()
        assert body["status"] == "cancelled"
        assert body["cancel_reason"] == "no longer needed"
        assert body["cancelled_by"] == cancelled_by
        assert body["history"][-1]["actor"] == cancelled_by
        assert order.status == "cancelled"
        from apps.inventory.models import StockItem

        assert StockItem.objects.get(variant_id=variant_id).reserved == 0
    else:
        assert order.status == "confirmed"


@pytest.mark.parametrize("status", ["shipped", "delivered", "cancelled", "refunded"])
def test_cancel_after_confirmation_stage_is_409(status):
    order = order_in(status)

    response = auth_client(order.buyer).post(f"{ORDERS}/{order.pk}/cancel", {}, format="json")

    body = assert_problem(response, 409, "order.invalid_transition")
    assert body["current_status"] == status
    assert Order.objects.get(pk=order.pk).status == status


def test_buyer_list_is_own_orders_newest_first_with_status_filter(buyer, buyer_client):
    mine = [order_in(s, buyer=buyer) for s in ("pending", "confirmed", "pending")]
    order_in("pending")  # someone else's

    response = buyer_client.get(ORDERS)
    pending = buyer_client.get(ORDERS, {"status": "pending"})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [o["id"] for o in body["results"]] == [str(o.pk) for o in reversed(mine)]
    assert [o["id"] for o in pending.json()["results"]] == [str(mine[2].pk), str(mine[0].pk)]
    assert_problem(buyer_client.get(ORDERS, {"status": "lost"}), 400, "invalid")


def test_buyer_list_cursor_pages(buyer, buyer_client):
    orders = [order_in("pending", buyer=buyer) for _ in range(3)]

    first = buyer_client.get(ORDERS, {"page_size": 2}).json()
    second = buyer_client.get(first["next"]).json()

    assert [o["id"] for o in first["results"] + second["results"]] == [
        str(o.pk) for o in reversed(orders)
    ]
    assert second["next"] is None


def _multi_line_order(buyer, status="pending", lines=4, shop=None):
    """An order of `lines` lines from `shop` (a new one by default), moved to `status` by its
    seller."""
    shop = shop or ShopFactory()
    variants = [make_variant(shop=shop) for _ in range(lines)]
    (order,) = place(buyer, *((v, n + 1) for n, v in enumerate(variants))).orders.all()
    for to, extra in PATHS[status]:
        order_transition(order_id=order.pk, to=to, actor=shop.owner, actor_role="seller", **extra)
    return order


def test_buyer_list_queries_do_not_grow_with_the_page(
    buyer, buyer_client, django_assert_num_queries
):
    order_in("confirmed", buyer=buyer)
    # caller + page of orders with shop, buyer and checkout + lines + history
    with django_assert_num_queries(4):
        assert len(buyer_client.get(ORDERS).json()["results"]) == 1
    for status in ("pending", "shipped", "delivered", "cancelled", "refunded"):
        order_in(status, buyer=buyer)
        _multi_line_order(buyer, status)
    place(buyer, (make_variant(), 1), (make_variant(), 2), (make_variant(), 3))  # three shops
    with django_assert_num_queries(4):
        results = buyer_client.get(ORDERS).json()["results"]
    assert len(results) == 14
    assert len({o["shop"]["id"] for o in results}) == 14
    assert len({o["checkout_number"] for o in results}) == 12
    assert {len(o["lines"]) for o in results} == {1, 4}
    assert {len(o["history"]) for o in results} == {1, 2, 3, 4, 5}


def test_buyer_detail_queries_do_not_grow_with_lines_and_history(
    buyer, buyer_client, django_assert_num_queries
):
    small = order_in("pending", buyer=buyer)
    # caller + order with shop, buyer and checkout + lines + history
    with django_assert_num_queries(4):
        body = buyer_client.get(f"{ORDERS}/{small.pk}").json()
    assert (len(body["lines"]), len(body["history"])) == (1, 1)
    big = _multi_line_order(buyer, "refunded", lines=8)
    with django_assert_num_queries(4):
        body = buyer_client.get(f"{ORDERS}/{big.pk}").json()
    assert (len(body["lines"]), len(body["history"])) == (8, 5)


# --- seller endpoints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("buyer", 403), ("other_buyer", 403), ("seller", 200), ("other_seller", 404), ("staff", 200)],
)
def test_seller_detail_permission_matrix(matrix, who, status):
    order = matrix["order"]

    response = matrix[who].get(f"{SELLER_ORDERS}/{order.pk}")

    assert response.status_code == status
    if status == 200:
        assert response.json()["id"] == str(order.pk)
    else:
        assert response["Content-Type"].startswith(PROBLEM)


def test_seller_list_is_the_shops_orders_only(matrix, django_assert_max_num_queries):
    order = matrix["order"]
    theirs = order_in("pending")
    more = order_in("shipped", variant=make_variant(shop=order.shop))

    seller_ids = [o["id"] for o in matrix["seller"].get(SELLER_ORDERS).json()["results"]]
    other_ids = [o["id"] for o in matrix["other_seller"].get(SELLER_ORDERS).json()["results"]]
    staff_ids = [o["id"] for o in matrix["staff"].get(SELLER_ORDERS).json()["results"]]
    shipped = matrix["seller"].get(SELLER_ORDERS, {"status": "shipped"}).json()["results"]
    by_shop = matrix["staff"].get(SELLER_ORDERS, {"shop": theirs.shop.slug}).json()["results"]

    assert seller_ids == [str(more.pk), str(order.pk)]
    assert other_ids == []
    assert set(staff_ids) == {str(order.pk), str(theirs.pk), str(more.pk)}
    assert [o["id"] for o in shipped] == [str(more.pk)]
    assert [o["id"] for o in by_shop] == [str(theirs.pk)]
    assert_problem(matrix["buyer"].get(SELLER_ORDERS), 403, "permission_denied")
    for _ in range(4):
        order_in("pending", variant=make_variant(shop=order.shop))
    with django_assert_max_num_queries(5):
        assert len(matrix["seller"].get(SELLER_ORDERS).json()["results"]) == 6


def test_seller_list_queries_do_not_grow_with_the_page(django_assert_num_queries):
    shop = ShopFactory()
    seller = auth_client(shop.owner)
    order_in("pending", variant=make_variant(shop=shop))
    # caller + their shop (IsSeller) + page of orders with shop, buyer and checkout + lines
    # + history
    with django_assert_num_queries(5):
        assert len(seller.get(SELLER_ORDERS).json()["results"]) == 1
    for status in ("confirmed", "shipped", "delivered", "cancelled", "refunded"):
        order_in(status, variant=make_variant(shop=shop))
        _multi_line_order(UserFactory(), status, lines=3, shop=shop)
    with django_assert_num_queries(5):
        results = seller.get(SELLER_ORDERS).json()["results"]
    assert len(results) == 11
    assert len({o["buyer"]["id"] for o in results}) == 11
    assert {len(o["lines"]) for o in results} == {1, 3}
    assert {len(o["history"]) for o in results} == {1, 2, 3, 4, 5}


def test_staff_seller_list_queries_do_not_grow_with_shops(django_assert_num_queries):
    staff = auth_client(UserFactory(is_staff=True))
    order_in("pending")
    # caller + page of orders with shop, buyer and checkout + lines + history
    with django_assert_num_queries(4):
        assert len(staff.get(SELLER_ORDERS).json()["results"]) == 1
    for status in ("confirmed", "shipped", "delivered", "cancelled", "refunded"):
        order_in(status)
        _multi_line_order(UserFactory(), status, lines=2)
    with django_assert_num_queries(4):
        results = staff.get(SELLER_ORDERS).json()["results"]
    assert len({o["shop"]["id"] for o in results}) == 11


def test_seller_detail_queries_do_not_grow_with_lines_and_history(django_assert_num_queries):
    shop = ShopFactory()
    seller = auth_client(shop.owner)
    small = order_in("pending", variant=make_variant(shop=shop))
    # caller + their shop (IsSeller) + order with shop, buyer and checkout + lines + history
    with django_assert_num_queries(5):
        body = seller.get(f"{SELLER_ORDERS}/{small.pk}").json()
    assert (len(body["lines"]), len(body["history"])) == (1, 1)
    big = _multi_line_order(UserFactory(), "refunded", lines=6, shop=shop)
    with django_assert_num_queries(5):
        body = seller.get(f"{SELLER_ORDERS}/{big.pk}").json()
    assert (len(body["lines"]), len(body["history"])) == (6, 5)


@pytest.mark.parametrize(
    ("who", "status", "role"),
    [
        ("buyer", 403, None),
        ("other_buyer", 403, None),
        ("seller", 200, "seller"),
        ("other_seller", 404, None),
        ("staff", 200, "staff"),
    ],
)
def test_transition_permission_matrix(matrix, who, status, role):
    order = matrix["order"]

    response = matrix[who].post(
        f"{SELLER_ORDERS}/{order.pk}/transition",
        {"to": "shipped", "tracking_number": "1Z-7", "note": "dispatched"},
        format="json",
    )

    assert response.status_code == status
    order.refresh_from_db()
    if status == 200:
        body = response.json()
        assert (body["status"], body["tracking_number"]) == ("shipped", "1Z-7")
        assert body["history"][-1]["actor"] == role
        assert body["history"][-1]["note"] == "dispatched"
        assert order.status == "shipped"
    else:
        assert response["Content-Type"].startswith(PROBLEM)
        assert order.status == "confirmed"


def test_shipping_without_a_tracking_number_is_200(matrix):
    order = matrix["order"]
    response = matrix["seller"].post(
        f"{SELLER_ORDERS}/{order.pk}/transition", {"to": "shipped"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["tracking_number"]) == ("shipped", "")


def test_transition_refusals(matrix):
    order = matrix["order"]
    url = f"{SELLER_ORDERS}/{order.pk}/transition"
    seller = matrix["seller"]

    invalid = assert_problem(
        seller.post(url, {"to": "refunded"}, format="json"), 409, "order.invalid_transition"
    )
    assert invalid["allowed"] == ["shipped", "cancelled"]
    unknown = assert_problem(seller.post(url, {"to": "lost"}, format="json"), 400, "invalid")
    assert unknown["errors"][0]["pointer"] == "/to"
    assert_problem(seller.post(url, {}, format="json"), 400, "invalid")
    assert Order.objects.get(pk=order.pk).status == "confirmed"


def test_seller_walks_an_order_to_refunded_with_restock(matrix):
    order = matrix["order"]
    variant_id = order.lines.get().variant_id
    url = f"{SELLER_ORDERS}/{order.pk}/transition"
    seller = matrix["seller"]

    shipped = seller.post(url, {"to": "shipped", "tracking_number": "T1"}, format="json")
    assert shipped.status_code == 200
    delivered = seller.post(url, {"to": "delivered"}, format="json").json()
    refunded = seller.post(url, {"to": "refunded", "restock": True}, format="json").json()

    assert (delivered["status"], delivered["payment_status"]) == ("delivered", "paid")
    assert (refunded["status"], refunded["payment_status"]) == ("refunded", "refunded")
    from apps.inventory.models import StockItem

    item = StockItem.objects.get(variant_id=variant_id)
    assert (item.on_hand, item.reserved) == (10, 0)
    assert [h["status"] for h in refunded["history"]] == [
        "pending",
        "confirmed",
        "shipped",
        "delivered",
        "refunded",
    ]


def test_seller_cancel_records_the_seller(matrix):
    order = matrix["order"]

    body = (
        matrix["seller"]
        .post(
            f"{SELLER_ORDERS}/{order.pk}/transition",
            {"to": "cancelled", "reason": "out of stock"},
            format="json",
        )
        .json()
    )

    assert (body["status"], body["cancelled_by"], body["cancel_reason"]) == (
        "cancelled",
        "seller",
        "out of stock",
    )


def test_place_then_read_through_the_api(buyer, buyer_client, variant):
    placed = buyer_client.post(ORDERS, _body(variant, 2), format="json").json()
    order_id = placed["orders"][0]["id"]

    detail = buyer_client.get(f"{ORDERS}/{order_id}").json()

    assert detail == placed["orders"][0]


def test_orders_of_two_shops_in_one_response(buyer_client):
    a = make_variant(price="5.00", shop=ShopFactory(name="A shop"))
    b = make_variant(price="7.00", shop=ShopFactory(name="B shop"))

    response = buyer_client.post(
        ORDERS,
        {
            "items": [
                {"variant_id": str(b.pk), "quantity": 1},
                {"variant_id": str(a.pk), "quantity": 2},
            ],
            "shipping_address": address_payload(),
        },
        format="json",
    )

    body = response.json()
    assert response.status_code == 201
    assert [o["shop"]["name"] for o in body["orders"]] == ["A shop", "B shop"]
    assert [o["number"][-2:] for o in body["orders"]] == ["-1", "-2"]
    assert body["total"] == str(sum(Decimal(o["total"]) for o in body["orders"]))
    # The placement test below is the contract test (docs/api.md): 201 {checkout_number, orders,
    # total}
    assert {"checkout_number", "orders", "total", "currency"} <= set(body)


def test_placement_is_in_the_schema(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/orders"])
    assert "post" in paths["/api/v1/seller/orders/{order_id}/transition"]


@pytest.mark.parametrize("status", ["pending", "refunded", "cancelled"])
def test_the_fast_order_rendering_equals_the_declared_serializer(status):
    from rest_framework import serializers

    from apps.orders.api.serializers import OrderOutput, order_as_dict
    from apps.orders.selectors import orders_with_details

    order = orders_with_details().get(pk=order_in(status).pk)

    declared = serializers.Serializer.to_representation(OrderOutput(), order)

    assert order_as_dict(order) == declared
