from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import Product
from apps.discounts.models import Discount
from tests.cart.factories import ShopFactory, stocked_variant
from tests.conftest import auth_client
from tests.discounts.factories import DiscountFactory

pytestmark = pytest.mark.django_db

REVIEW = "/api/v1/checkout/review"
PROBLEM = "application/problem+json"


def add(client, variant, quantity=1):
    response = client.post(
        "/api/v1/cart/items", {"variant_id": str(variant.pk), "quantity": quantity}
    )
    assert response.status_code == 201


@pytest.fixture
def client(user):
    return auth_client(user)


def test_review_of_the_cart_per_shop_with_discount_and_shipping(client):
    alpha = ShopFactory(
        name="Alpha",
        slug="alpha",
        shipping_fee=Decimal("4.50"),
        free_shipping_threshold=Decimal("50.00"),
    )
    beta = ShopFactory(name="Beta", slug="beta", shipping_fee=Decimal("3.00"))
    a1 = stocked_variant(price="25.00", shop=alpha)
    b1 = stocked_variant(price="10.00", shop=beta)
    add(client, a1, 2)
    add(client, b1, 1)
    DiscountFactory(shop=alpha, code="TENOFF", type="fixed_amount", value=Decimal("10"))
    response = client.post(
        REVIEW, {"discounts": [{"shop": "alpha", "code": "tenoff"}]}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    first = body["shops"][0]
    assert first["shop"] == {"id": str(alpha.pk), "slug": "alpha", "name": "Alpha"}
    assert first["items"] == [
        {
            "id": first["items"][0]["id"],
            "variant_id": str(a1.pk),
            "sku": a1.sku,
            "product": {"id": str(a1.product_id), "name": a1.product.name, "slug": a1.product.slug},
            "options": {},
            "unit_price": "25.00",
            "quantity": 2,
            "line_total": "50.00",
            "discount": "10.00",
            "total": "40.00",
            "available_quantity": 50,
        }
    ]
    assert first["items"][0]["id"] is not None
    # 50.00 - 10.00 = 40.00 is below the 50.00 threshold after discounts: the fee applies.
    assert {k: first[k] for k in ("subtotal", "discount_total", "shipping_fee", "total")} == {
        "subtotal": "50.00",
        "discount_total": "10.00",
        "shipping_fee": "4.50",
        "total": "44.50",
    }
    assert first["discounts"] == [{"code": "TENOFF", "amount": "10.00"}]
    second = body["shops"][1]
    assert (second["subtotal"], second["discounts"], second["shipping_fee"], second["total"]) == (
        "10.00",
        [],
        "3.00",
        "13.00",
    )
    assert {
        k: body[k]
        for k in ("subtotal", "discount_total", "shipping_total", "total", "currency", "warnings")
    } == {
        "subtotal": "60.00",
        "discount_total": "10.00",
        "shipping_total": "7.50",
        "total": "57.50",
        "currency": "USD",
        "warnings": [],
    }


def test_explicit_items_ignore_client_prices(client):
    variant = stocked_variant(price="19.99")
    response = client.post(
        REVIEW,
        {
            "items": [
                {"variant_id": str(variant.pk), "quantity": 1, "unit_price": "0.01"},
                {"variant_id": str(variant.pk), "quantity": 2, "price": "0.01"},
            ],
            "subtotal": "0.03",
            "total": "0.03",
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["shops"][0]["items"][0]["quantity"] == 3
    assert body["shops"][0]["items"][0]["id"] is None
    assert body["subtotal"] == "59.97"


def test_unavailable_and_short_lines_are_warned(client):
    shop = ShopFactory()
    kept = stocked_variant(price="5.00", shop=shop, on_hand=3)
    gone = stocked_variant(price="8.00", shop=shop)
    add(client, kept, 3)
    add(client, gone, 1)
    Product.objects.filter(pk=gone.product_id).update(status=Product.Status.ARCHIVED)
    kept.stock.reserved = 2
    kept.stock.save()
    body = client.post(REVIEW, {}, format="json").json()
    assert [i["sku"] for i in body["shops"][0]["items"]] == [kept.sku]
    assert body["subtotal"] == "15.00"
    # Warnings follow the cart's line order.
    assert [(w["code"], w["sku"]) for w in body["warnings"]] == [
        ("inventory.insufficient_stock", kept.sku),
        ("cart.line_unavailable", gone.sku),
    ]
    short = next(w for w in body["warnings"] if w["code"] == "inventory.insufficient_stock")
    assert (short["available"], short["requested"]) == (1, 3)


def test_explicit_unpublished_item_is_404(client):
    draft = stocked_variant(status=Product.Status.DRAFT)
    response = client.post(
        REVIEW, {"items": [{"variant_id": str(draft.pk), "quantity": 1}]}, format="json"
    )
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "cart.variant_not_found"


def test_code_refusals_and_combination_rules(client):
    shop = ShopFactory(slug="solo")
    add(client, stocked_variant(price="40.00", shop=shop), 1)
    DiscountFactory(shop=shop, code="A", combinable=True, value=Decimal("10"))
    DiscountFactory(shop=shop, code="B", combinable=True, type="fixed_amount", value=Decimal("5"))
    DiscountFactory(shop=shop, code="SOLO", combinable=False)
    both = client.post(
        REVIEW,
        {"discounts": [{"shop": "solo", "code": "A"}, {"shop": "solo", "code": "B"}]},
        format="json",
    )
    assert both.status_code == 200
    assert both.json()["shops"][0]["discounts"] == [
        {"code": "A", "amount": "4.00"},
        {"code": "B", "amount": "5.00"},
    ]
    assert both.json()["discount_total"] == "9.00"
    clash = client.post(
        REVIEW,
        {"discounts": [{"shop": "solo", "code": "A"}, {"shop": "solo", "code": "SOLO"}]},
        format="json",
    )
    assert clash.status_code == 422
    assert clash["Content-Type"] == PROBLEM
    assert clash.json()["code"] == "discount.not_combinable"
    unknown = client.post(REVIEW, {"discounts": [{"shop": "solo", "code": "NOPE"}]}, format="json")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "discount.not_found"
    other = ShopFactory(slug="other")
    DiscountFactory(shop=other, code="ELSE")
    elsewhere = client.post(
        REVIEW, {"discounts": [{"shop": "other", "code": "ELSE"}]}, format="json"
    )
    assert elsewhere.status_code == 422
    assert elsewhere.json()["code"] == "discount.not_applicable"
    assert Discount.objects.filter(uses_count__gt=0).count() == 0


def test_shipping_address_is_validated_and_echoed(client):
    add(client, stocked_variant(), 1)
    address = {
        "name": "Ada",
        "line1": "1 Main St",
        "city": "Hanoi",
        "postal_code": "100000",
        "country": "vn",
        "phone": "+84 24 1234 5678",
    }
    ok = client.post(REVIEW, {"shipping_address": address}, format="json")
    assert ok.status_code == 200
    assert ok.json()["shipping_address"]["country"] == "VN"
    bad = client.post(REVIEW, {"shipping_address": {**address, "country": "XX"}}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["pointer"] == "/shipping_address/country"


@pytest.mark.parametrize(
    "body",
    [
        {"items": [{"variant_id": "nope", "quantity": 1}]},
        {"items": [{"quantity": 1}]},
        {"items": "everything"},
        {"discounts": [{"code": "A"}]},
        {"items": [{"variant_id": "00000000-0000-0000-0000-000000000000", "quantity": 0}]},
    ],
)
def test_bad_input_is_400(client, body):
    response = client.post(REVIEW, body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM


def test_anonymous_is_401(api_client):
    response = api_client.post(REVIEW, {}, format="json")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


def test_empty_cart_reviews_to_zero(client):
    body = client.post(REVIEW, {}, format="json").json()
    assert (body["shops"], body["total"], body["warnings"]) == ([], "0.00", [])


def _review_queries(client, codes):
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(REVIEW, {"discounts": codes}, format="json")
    assert response.status_code == 200, response.json()
    return len(ctx.captured_queries), response.json()


def test_review_query_count_is_constant_in_lines_shops_and_codes(client):
    first = ShopFactory(slug="first")
    add(client, stocked_variant(shop=first), 1)
    DiscountFactory(shop=first, code="F1", combinable=True)
    small, _ = _review_queries(client, [{"shop": "first", "code": "F1"}])
    codes = [{"shop": "first", "code": "F1"}]
    for i in range(4):
        shop = ShopFactory(slug=f"s{i}")
        for _ in range(3):
            add(client, stocked_variant(shop=shop), 2)
        d = DiscountFactory(shop=shop, code=f"C{i}", combinable=True, applies_to="products")
        d.products.add(*Product.objects.filter(shop=shop))
        DiscountFactory(shop=shop, code=f"D{i}", combinable=True)
        codes += [{"shop": f"s{i}", "code": f"C{i}"}, {"shop": f"s{i}", "code": f"D{i}"}]
    large, body = _review_queries(client, codes)
    assert len(body["shops"]) == 5
    assert sum(len(s["discounts"]) for s in body["shops"]) == 9
    assert large == small
    assert small <= 6
