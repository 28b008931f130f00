import uuid

import pytest

from apps.catalog.models import Product
from apps.events.models import OutboxEvent
from apps.inventory.models import StockItem, StockMovement
from apps.inventory.services import STOCK_MAX, StockLine, stock_adjust, stock_reserve
from tests.conftest import auth_client
from tests.inventory.factories import ProductFactory, StockItemFactory, VariantFactory
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def url(variant_id=None, action=""):
    if variant_id is None:
        return "/api/v1/seller/inventory"
    return f"/api/v1/seller/inventory/{variant_id}" + (f"/{action}" if action else "")


@pytest.fixture
def shop():
    return ShopFactory()


@pytest.fixture
def seller_client(shop):
    return auth_client(shop.owner)


@pytest.fixture
def item(shop):
    return StockItemFactory(variant__product__shop=shop, on_hand=10, reserved=3)


def row(item):
    variant = item.variant
    return {
        "variant_id": str(variant.pk),
        "sku": variant.sku,
        "product": {
            "id": str(variant.product_id),
            "name": variant.product.name,
            "slug": variant.product.slug,
        },
        "on_hand": item.on_hand,
        "reserved": item.reserved,
        "available": item.on_hand - item.reserved,
        "low_stock_threshold": item.low_stock_threshold,
    }


# --- list -----------------------------------------------------------------------------------


def test_seller_lists_own_inventory_only(seller_client, shop, item):
    bare = VariantFactory(product=item.variant.product, sku="ZZZ-BARE", position=9)
    StockItemFactory()  # another shop
    VariantFactory(product__shop=shop, product__status=Product.Status.ARCHIVED)
    VariantFactory(product=item.variant.product, is_active=False)

    response = seller_client.get(url())

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["results"][0] == row(item)
    assert body["results"][1] == {
        "variant_id": str(bare.pk),
        "sku": "ZZZ-BARE",
        "product": body["results"][0]["product"],
        "on_hand": 0,
        "reserved": 0,
        "available": 0,
        "low_stock_threshold": 5,
    }


def test_low_stock_filter(seller_client, shop):
    low = StockItemFactory(
        variant__product__shop=shop, on_hand=8, reserved=4, low_stock_threshold=4
    )
    StockItemFactory(variant__product__shop=shop, on_hand=8, reserved=3, low_stock_threshold=4)

    response = seller_client.get(url(), {"low_stock": "true"})

    assert response.status_code == 200
    assert [r["variant_id"] for r in response.json()["results"]] == [str(low.variant_id)]


def test_bad_low_stock_value_is_400(seller_client):
    response = seller_client.get(url(), {"low_stock": "perhaps"})

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"][0]["pointer"] == "/low_stock"


def test_staff_sees_every_shop_and_can_narrow_to_one(staff_client, item):
    other = StockItemFactory()

    everything = staff_client.get(url()).json()
    narrowed = staff_client.get(url(), {"shop": other.variant.product.shop.slug}).json()

    assert {r["variant_id"] for r in everything["results"]} == {
        str(item.variant_id),
        str(other.variant_id),
    }
    assert [r["variant_id"] for r in narrowed["results"]] == [str(other.variant_id)]


def test_list_pages_and_runs_a_constant_number_of_queries(
    seller_client, shop, django_assert_num_queries
):
    StockItemFactory(variant__product=ProductFactory(shop=shop))
    # caller + their shop (IsSeller) + count + page of variants with product and stock figures
    with django_assert_num_queries(4):
        response = seller_client.get(url())
    assert response.json()["count"] == 1

    products = [ProductFactory(shop=shop) for _ in range(3)]
    for n, product in enumerate(products):
        for _ in range(10):
            StockItemFactory(variant__product=product, on_hand=n, reserved=0)
        VariantFactory(product=product)  # no stock row yet
    with django_assert_num_queries(4):
        response = seller_client.get(url(), {"page_size": 30})
    results = response.json()["results"]
    assert response.json()["count"] == 34
    assert len(results) == 30
    assert len({r["product"]["id"] for r in results}) == 4
    assert {r["available"] for r in results} == {0, 1, 2, 10}


def test_list_without_a_shop_is_403_and_anonymous_is_401(user_client, api_client):
    forbidden = user_client.get(url())
    anonymous = api_client.get(url())

    assert forbidden.status_code == 403
    assert forbidden["Content-Type"] == PROBLEM
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == PROBLEM


# --- adjust ---------------------------------------------------------------------------------


def test_seller_adjusts_stock(seller_client, shop, item):
    response = seller_client.post(
        url(item.variant_id, "adjust"), {"delta": 5, "reason": "restock", "note": "truck"}
    )

    assert response.status_code == 200
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (15, 3)
    assert response.json() == row(item)
    movement = StockMovement.objects.get(stock_item=item)
    assert (movement.kind, movement.quantity, movement.note, movement.actor_id) == (
        "restock",
        5,
        "truck",
        shop.owner_id,
    )
    assert OutboxEvent.objects.filter(type="stock.adjusted", key=str(item.variant_id)).count() == 1


def test_adjust_creates_the_stock_row_of_a_bare_variant(seller_client, shop):
    variant = VariantFactory(product__shop=shop)

    response = seller_client.post(url(variant.pk, "adjust"), {"delta": 7, "reason": "restock"})

    assert response.status_code == 200
    assert response.json()["on_hand"] == 7
    assert StockItem.objects.get(variant=variant).on_hand == 7


def test_adjust_below_reserved_is_409_and_changes_nothing(seller_client, item):
    response = seller_client.post(url(item.variant_id, "adjust"), {"delta": -8, "reason": "damage"})

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "inventory.below_reserved"
    assert (body["on_hand"], body["reserved"], body["delta"]) == (10, 3, -8)
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (10, 3)
    assert not StockMovement.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_adjust_above_the_maximum_is_409_and_changes_nothing(seller_client, item):
    StockItem.objects.filter(pk=item.pk).update(on_hand=STOCK_MAX - 5)
    response = seller_client.post(url(item.variant_id, "adjust"), {"delta": 6, "reason": "restock"})

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "inventory.above_maximum"
    assert (body["on_hand"], body["maximum"], body["delta"]) == (STOCK_MAX - 5, STOCK_MAX, 6)
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (STOCK_MAX - 5, 3)
    assert not StockMovement.objects.exists()
    assert not OutboxEvent.objects.exists()
    # up to the maximum exactly is fine
    ok = seller_client.post(url(item.variant_id, "adjust"), {"delta": 5, "reason": "restock"})
    assert ok.status_code == 200
    assert ok.json()["on_hand"] == STOCK_MAX


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"delta": 0, "reason": "restock"}, "/delta"),
        ({"delta": "many", "reason": "restock"}, "/delta"),
        ({"reason": "restock"}, "/delta"),
        ({"delta": 1, "reason": "gift"}, "/reason"),
        ({"delta": -1, "reason": "restock"}, "/delta"),
        ({"delta": 1, "reason": "restock", "note": "x" * 256}, "/note"),
    ],
)
def test_adjust_bad_input_is_400_and_changes_nothing(seller_client, item, body, pointer):
    response = seller_client.post(url(item.variant_id, "adjust"), body)

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"][0]["pointer"] == pointer
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (10, 3)
    assert not StockMovement.objects.exists()


def test_adjust_ignores_fields_the_seller_does_not_own(seller_client, item):
    response = seller_client.post(
        url(item.variant_id, "adjust"),
        {"delta": 1, "reason": "restock", "reserved": 0, "on_hand": 999, "actor": None},
    )

    assert response.status_code == 200
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (11, 3)


def test_permission_matrix_for_adjust(api_client, user_client, staff_client, item):
    other_seller = auth_client(ShopFactory().owner)
    body = {"delta": 1, "reason": "restock"}

    assert api_client.post(url(item.variant_id, "adjust"), body).status_code == 401
    assert user_client.post(url(item.variant_id, "adjust"), body).status_code == 403
    not_yours = other_seller.post(url(item.variant_id, "adjust"), body)
    assert not_yours.status_code == 404
    assert not_yours["Content-Type"] == PROBLEM
    assert other_seller.post(url(uuid.uuid4(), "adjust"), body).status_code == 404
    item.refresh_from_db()
    assert item.on_hand == 10

    assert staff_client.post(url(item.variant_id, "adjust"), body).status_code == 200
    item.refresh_from_db()
    assert item.on_hand == 11


# --- threshold ------------------------------------------------------------------------------


def test_seller_sets_the_threshold(seller_client, item):
    response = seller_client.patch(url(item.variant_id), {"low_stock_threshold": 8})

    assert response.status_code == 200
    item.refresh_from_db()
    assert item.low_stock_threshold == 8
    assert response.json() == row(item)


@pytest.mark.parametrize("value", [-1, "lots", None])
def test_bad_threshold_is_400(seller_client, item, value):
    response = seller_client.patch(url(item.variant_id), {"low_stock_threshold": value})

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    item.refresh_from_db()
    assert item.low_stock_threshold == 5


def test_threshold_permission_matrix(api_client, user_client, staff_client, item):
    other_seller = auth_client(ShopFactory().owner)
    body = {"low_stock_threshold": 1}

    assert api_client.patch(url(item.variant_id), body).status_code == 401
    assert user_client.patch(url(item.variant_id), body).status_code == 403
    assert other_seller.patch(url(item.variant_id), body).status_code == 404
    item.refresh_from_db()
    assert item.low_stock_threshold == 5
    assert staff_client.patch(url(item.variant_id), body).status_code == 200


# --- movements ------------------------------------------------------------------------------


def test_movements_newest_first_with_actor_and_order(seller_client, shop, item):
    order_id = uuid.uuid4()
    stock_adjust(variant_id=item.variant_id, delta=2, reason="restock", actor=shop.owner)
    stock_reserve(lines=[StockLine(item.variant_id, 4)], order_id=order_id)

    response = seller_client.get(url(item.variant_id, "movements"))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    newest, oldest = body["results"]
    assert {k: v for k, v in newest.items() if k not in ("id", "created_at")} == {
        "kind": "reserve",
        "reason": "reserve",
        "quantity": 4,
        "on_hand_after": 12,
        "reserved_after": 7,
        "note": "",
        "actor": None,
        "order_id": str(order_id),
    }
    assert (oldest["kind"], oldest["reason"]) == ("restock", "restock")
    assert oldest["actor"] == {"id": str(shop.owner.pk), "email": shop.owner.email}
    assert oldest["order_id"] is None


def test_movements_cursor_pages_with_constant_queries(
    seller_client, shop, item, django_assert_num_queries
):
    actors = [UserFactory() for _ in range(5)]
    for actor in actors:
        stock_adjust(variant_id=item.variant_id, delta=1, reason="restock", actor=actor)

    with django_assert_num_queries(4):
        first = seller_client.get(url(item.variant_id, "movements"), {"page_size": 3}).json()
    second = seller_client.get(first["next"]).json()

    assert len(first["results"]) == 3
    assert len(second["results"]) == 2
    assert second["next"] is None
    seen = [m["on_hand_after"] for m in first["results"] + second["results"]]
    assert seen == [15, 14, 13, 12, 11]


def test_movements_query_count_does_not_grow_with_the_page(
    seller_client, shop, item, django_assert_num_queries
):
    stock_adjust(variant_id=item.variant_id, delta=1, reason="restock", actor=shop.owner)
    # caller + their shop (IsSeller) + the variant check + page of movements with actor
    with django_assert_num_queries(4):
        results = seller_client.get(url(item.variant_id, "movements")).json()["results"]
    assert len(results) == 1
    for _ in range(6):
        stock_adjust(variant_id=item.variant_id, delta=1, reason="restock", actor=UserFactory())
        stock_reserve(lines=[StockLine(item.variant_id, 1)], order_id=uuid.uuid4())
    stock_adjust(variant_id=item.variant_id, delta=-1, reason="damage", actor=shop.owner)
    with django_assert_num_queries(4):
        results = seller_client.get(url(item.variant_id, "movements")).json()["results"]
    assert len(results) == 14
    assert len({m["actor"]["id"] for m in results if m["actor"]}) == 7
    assert len({m["order_id"] for m in results if m["order_id"]}) == 6


def test_movements_permission_matrix(api_client, user_client, staff_client, item):
    other_seller = auth_client(ShopFactory().owner)

    assert api_client.get(url(item.variant_id, "movements")).status_code == 401
    assert user_client.get(url(item.variant_id, "movements")).status_code == 403
    assert other_seller.get(url(item.variant_id, "movements")).status_code == 404
    assert staff_client.get(url(item.variant_id, "movements")).status_code == 200


def test_movements_of_a_variant_without_stock_row_is_empty(seller_client, shop):
    variant = VariantFactory(product__shop=shop)

    response = seller_client.get(url(variant.pk, "movements"))

    assert response.status_code == 200
    assert response.json()["results"] == []


# --- product detail shows stock on the next read --------------------------------------------


def test_stock_changes_show_in_product_detail_on_the_next_read(
    api_client, seller_client, item, django_capture_on_commit_callbacks
):
    path = f"/api/v1/products/{item.variant.product_id}"
    before = api_client.get(path)
    assert before.status_code == 200
    assert [v["available"] for v in before.json()["variants"]] == [7]
    assert api_client.get(path, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 304

    with django_capture_on_commit_callbacks(execute=True):
        stock_reserve(lines=[StockLine(item.variant_id, 2)])
    after_reserve = api_client.get(path, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after_reserve.status_code == 200
    assert [v["available"] for v in after_reserve.json()["variants"]] == [5]

    with django_capture_on_commit_callbacks(execute=True):
        seller_client.post(url(item.variant_id, "adjust"), {"delta": 10, "reason": "restock"})
    assert [v["available"] for v in api_client.get(path).json()["variants"]] == [15]
