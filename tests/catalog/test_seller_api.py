from decimal import Decimal

import pytest

from apps.catalog.models import Product, ProductImage, ProductVariant
from apps.catalog.services import product_update
from apps.events.models import OutboxEvent
from apps.inventory.models import StockItem, StockMovement
from tests.assertions import assert_problem
from tests.catalog.factories import category, make_product
from tests.media.factories import MediaAssetFactory

pytestmark = pytest.mark.django_db


def _create_body(**overrides):
    body = {
        "type": "clothing",
        "name": "Linen Shirt",
        "description": "Breathable summer shirt.",
        "price": "39.90",
        "attributes": {"brand": "Loom", "material": "linen"},
    }
    body.update(overrides)
    return body


# --- create ----------


def test_create_without_variants_makes_a_draft_with_a_default_variant_and_stock(
    seller_client, shop, seller
):
    response = seller_client.post("/api/v1/products", _create_body(stock=7), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert body["slug"] == "linen-shirt"
    assert body["shop"] == {"id": str(shop.pk), "slug": shop.slug, "name": shop.name}
    assert body["price"] == "39.90"
    assert body["currency"] == "USD"
    assert body["attributes"] == {"brand": "Loom", "material": "linen"}
    assert body["rating_histogram"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
    [variant] = body["variants"]
    assert variant["options"] == {}
    assert variant["price"] == "39.90"
    assert variant["available"] == 7
    assert variant["sku"].startswith(shop.slug.upper().replace("-", "")[:10])
    # Initial stock went through the inventory ledger.
    item = StockItem.objects.get(variant_id=variant["id"])
    assert (item.on_hand, item.reserved) == (7, 0)
    movement = StockMovement.objects.get(stock_item=item)
    assert (movement.kind, movement.quantity, movement.actor_id) == ("restock", 7, seller.pk)
    assert Product.objects.get(pk=body["id"]).status == "draft"


def test_create_with_variants_prices_the_product_at_the_cheapest_active_one(seller_client):
    response = seller_client.post(
        "/api/v1/products",
        _create_body(
            price=None,
            variants=[
                {
                    "sku": "SHIRT-M",
                    "options": {"size": "M", "color": "white"},
                    "price": "41.00",
                    "stock": 3,
                },
                {"sku": "SHIRT-L", "options": {"size": "L", "color": "white"}, "price": "44.00"},
                {"sku": "SHIRT-S", "options": {"size": "S"}, "price": "5.00", "is_active": False},
            ],
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["price"] == "41.00"
    assert [(v["sku"], v["available"]) for v in body["variants"]] == [
        ("SHIRT-M", 3),
        ("SHIRT-L", 0),
        ("SHIRT-S", 0),
    ]


def test_a_free_variant_without_a_product_price_is_created(seller_client):
    # A variant price of 0.00 is a price: it was read as missing (`or`) and priced the product
    # at Decimal(None), a 500.
    response = seller_client.post(
        "/api/v1/products",
        _create_body(
            price=None,
            variants=[
                {"options": {"size": "M"}, "price": "0.00"},
                {"options": {"size": "L"}, "price": "5.00"},
            ],
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["price"] == "0.00"
    assert [v["price"] for v in body["variants"]] == ["0.00", "5.00"]


def test_variant_price_falls_back_to_product_price(seller_client):
    response = seller_client.post(
        "/api/v1/products",
        _create_body(
            variants=[{"options": {"size": "M"}}, {"options": {"size": "L"}, "price": "45"}]
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert [v["price"] for v in response.json()["variants"]] == ["39.90", "45.00"]


@pytest.mark.parametrize(
    ("overrides", "status", "code", "pointers"),
    [
        ({"type": "spaceship"}, 400, "catalog.unknown_type", ["/type"]),
        (
            {"attributes": {"material": "linen"}},
            400,
            "catalog.invalid_attributes",
            ["/attributes/brand"],
        ),
        (
            {"attributes": {"brand": "Loom", "size": 40, "fabric": "x"}},
            400,
            "catalog.invalid_attributes",
            ["/attributes/size", "/attributes/fabric"],
        ),
        ({"price": None}, 400, "catalog.invalid_product", ["/price"]),
        ({"price": "-1.00"}, 400, "invalid", ["/price"]),
        ({"name": ""}, 400, "invalid", ["/name"]),
        (
            {
                "variants": [
                    {"options": {"size": "M"}},
                    {"options": {"size": "M"}},
                    {"options": {"storage": "1TB"}},
                ]
            },
            400,
            "catalog.invalid_product",
            ["/variants/1/options", "/variants/2/options/storage"],
        ),
        (
            {"variants": [{"options": {"size": "M"}}], "stock": 3},
            400,
            "catalog.invalid_product",
            ["/stock"],
        ),
        ({"category": "no-such-category"}, 400, "catalog.invalid_product", ["/category"]),
    ],
)
def test_invalid_create_is_400_with_pointers_and_writes_nothing(
    seller_client, overrides, status, code, pointers
):
    body = _create_body(**overrides)
    body = {k: v for k, v in body.items() if v is not None}
    response = seller_client.post("/api/v1/products", body, format="json")
    problem = assert_problem(response, status, code)
    assert [e["pointer"] for e in problem["errors"]] == pointers
    assert Product.objects.count() == 0
    assert ProductVariant.objects.count() == 0


def test_taken_sku_is_409(seller_client, shop):
    make_product(shop, variants=[{"sku": "TAKEN-1", "options": {}, "price": Decimal("1")}])
    response = seller_client.post(
        "/api/v1/products",
        _create_body(variants=[{"sku": "TAKEN-1", "options": {"size": "M"}}]),
        format="json",
    )
    assert assert_problem(response, 409, "catalog.sku_taken")["sku"] == "TAKEN-1"
    assert Product.objects.count() == 1


def test_mass_assignment_of_status_counters_and_shop_is_ignored(seller_client, shop, other_shop):
    response = seller_client.post(
        "/api/v1/products",
        _create_body(status="published", rating_avg="5.00", rating_count=999, shop=other_shop.slug),
        format="json",
    )
    assert response.status_code == 201
    product = Product.objects.get(pk=response.json()["id"])
    assert (product.status, product.rating_count, product.shop_id) == ("draft", 0, shop.pk)


def test_slugs_are_unique_per_shop(seller_client, other_seller_client):
    first = seller_client.post("/api/v1/products", _create_body(), format="json").json()
    second = seller_client.post("/api/v1/products", _create_body(), format="json").json()
    elsewhere = other_seller_client.post("/api/v1/products", _create_body(), format="json").json()
    assert (first["slug"], second["slug"], elsewhere["slug"]) == (
        "linen-shirt",
        "linen-shirt-2",
        "linen-shirt",
    )


def test_create_with_images_of_the_caller(seller_client, seller, user):
    mine = MediaAssetFactory.create_batch(2, owner=seller)
    response = seller_client.post(
        "/api/v1/products",
        _create_body(image_ids=[str(mine[1].pk), str(mine[0].pk)]),
        format="json",
    )
    assert response.status_code == 201, response.content
    images = response.json()["images"]
    assert [(i["asset_id"], i["position"]) for i in images] == [
        (str(mine[1].pk), 0),
        (str(mine[0].pk), 1),
    ]
    assert images[0]["url"].endswith(mine[1].storage_key)


def test_images_of_someone_else_or_failed_are_400(seller_client, seller, user):
    theirs = MediaAssetFactory(owner=user)
    failed = MediaAssetFactory(owner=seller, status="failed")
    mine = MediaAssetFactory(owner=seller)
    response = seller_client.post(
        "/api/v1/products",
        _create_body(image_ids=[str(mine.pk), str(theirs.pk), str(failed.pk)]),
        format="json",
    )
    problem = assert_problem(response, 400, "catalog.invalid_product")
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [
        ("/image_ids/1", "does_not_exist"),
        ("/image_ids/2", "invalid_asset"),
    ]
    assert ProductImage.objects.count() == 0
    assert Product.objects.count() == 0


def test_staff_creates_for_a_named_shop(staff_client, shop):
    response = staff_client.post("/api/v1/products", _create_body(shop=shop.slug), format="json")
    assert response.status_code == 201
    assert response.json()["shop"]["id"] == str(shop.pk)
    response = staff_client.post("/api/v1/products", _create_body(), format="json")
    assert (
        assert_problem(response, 400, "catalog.invalid_product")["errors"][0]["pointer"] == "/shop"
    )


def test_create_permissions(api_client, user_client):
    assert_problem(
        api_client.post("/api/v1/products", _create_body(), format="json"),
        401,
        "auth.not_authenticated",
    )
    assert_problem(
        user_client.post("/api/v1/products", _create_body(), format="json"),
        403,
        "permission_denied",
    )
    assert Product.objects.count() == 0


# --- update ----------


def test_patch_merges_attributes_key_by_key_and_null_removes(seller_client, shop):
    product = make_product(
        shop, type="motorbike", attributes={"manufacturer": "Moto", "model": "R6", "color": "red"}
    )
    response = seller_client.patch(
        f"/api/v1/products/{product.pk}",
        {"attributes": {"color": None, "engine_cc": 600, "model": "R7"}, "name": "Moto R7"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["attributes"] == {"manufacturer": "Moto", "model": "R7", "engine_cc": 600}
    assert body["name"] == "Moto R7"
    assert body["slug"] == product.slug  # stable URLs
    product.refresh_from_db()
    assert product.attributes == {"manufacturer": "Moto", "model": "R7", "engine_cc": 600}


def test_patch_validates_the_merged_result(seller_client, shop):
    product = make_product(shop, type="furniture", attributes={"brand": "Oakly", "color": "oak"})
    response = seller_client.patch(
        f"/api/v1/products/{product.pk}",
        {"attributes": {"brand": None, "legs": 4}},
        format="json",
    )
    problem = assert_problem(response, 400, "catalog.invalid_attributes")
    assert sorted(e["pointer"] for e in problem["errors"]) == [
        "/attributes/brand",
        "/attributes/legs",
    ]
    product.refresh_from_db()
    assert product.attributes == {"brand": "Oakly", "color": "oak"}


def test_patch_price_of_a_single_variant_product_reprices_its_variant(seller_client, shop):
    product = make_product(shop, price="10.00")
    response = seller_client.patch(
        f"/api/v1/products/{product.pk}", {"price": "12.50"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["price"] == "12.50"
    assert response.json()["variants"][0]["price"] == "12.50"


def test_patch_price_of_a_multi_variant_product_is_refused(seller_client, shop):
    product = make_product(
        shop,
        variants=[
            {"options": {"color": "a"}, "price": Decimal("1")},
            {"options": {"color": "b"}, "price": Decimal("2")},
        ],
    )
    response = seller_client.patch(f"/api/v1/products/{product.pk}", {"price": "3"}, format="json")
    assert (
        assert_problem(response, 400, "catalog.invalid_product")["errors"][0]["code"]
        == "price_on_variants"
    )
    product.refresh_from_db()
    assert product.price == Decimal("1.00")


def test_patch_ignores_status_and_counters(seller_client, shop):
    product = make_product(shop, publish=False)
    response = seller_client.patch(
        f"/api/v1/products/{product.pk}", {"status": "published", "rating_count": 5}, format="json"
    )
    assert response.status_code == 200
    product.refresh_from_db()
    assert (product.status, product.rating_count) == ("draft", 0)


def test_patch_replaces_images(seller_client, shop, seller):
    a, b, c = MediaAssetFactory.create_batch(3, owner=seller)
    product = make_product(shop)
    seller_client.patch(
        f"/api/v1/products/{product.pk}", {"image_ids": [str(a.pk), str(b.pk)]}, format="json"
    )
    response = seller_client.patch(
        f"/api/v1/products/{product.pk}", {"image_ids": [str(c.pk), str(a.pk)]}, format="json"
    )
    assert [i["asset_id"] for i in response.json()["images"]] == [str(c.pk), str(a.pk)]
    assert ProductImage.objects.filter(product=product).count() == 2


# --- permission matrix on every write endpoint ----------


def _write_calls(product, variant):
    base = f"/api/v1/products/{product.pk}"
    return [
        ("patch", base, {"name": "Hijacked"}),
        ("delete", base, None),
        ("post", f"{base}/publish", None),
        ("post", f"{base}/unpublish", None),
        ("post", f"{base}/variants", {"options": {"color": "green"}, "price": "1.00"}),
        ("patch", f"{base}/variants/{variant.pk}", {"price": "0.01"}),
        ("delete", f"{base}/variants/{variant.pk}", None),
    ]


@pytest.mark.parametrize("index", range(7))
def test_write_endpoints_permission_matrix(
    index, api_client, user_client, other_seller_client, shop
):
    product = make_product(
        shop,
        variants=[
            {"options": {"color": "a"}, "price": Decimal("5")},
            {"options": {"color": "b"}, "price": Decimal("6")},
        ],
    )
    variant = product.variants.all()[0]
    method, url, body = _write_calls(product, variant)[index]
    before = (Product.objects.get(pk=product.pk).updated_at, ProductVariant.objects.count())

    assert_problem(
        getattr(api_client, method)(url, body, format="json"), 401, "auth.not_authenticated"
    )
    assert_problem(getattr(user_client, method)(url, body, format="json"), 403, "permission_denied")
    assert_problem(
        getattr(other_seller_client, method)(url, body, format="json"),
        404,
        "catalog.product_not_found",
    )
    assert (Product.objects.get(pk=product.pk).updated_at, ProductVariant.objects.count()) == before


@pytest.mark.parametrize("index", range(7))
def test_write_endpoints_succeed_for_owner_and_staff(index, seller_client, staff_client, shop):
    for client in (seller_client, staff_client):
        product = make_product(
            shop,
            variants=[
                {"options": {"color": "a"}, "price": Decimal("5")},
                {"options": {"color": "b"}, "price": Decimal("6")},
            ],
        )
        variant = product.variants.all()[0]
        method, url, body = _write_calls(product, variant)[index]
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code in (200, 201, 204), response.content


# --- variants ----------


def test_variant_crud(seller_client, shop):
    product = make_product(shop, type="clothing", price="30.00", publish=False)
    base = f"/api/v1/products/{product.pk}/variants"
    response = seller_client.post(
        base,
        {
            "sku": "TEE-XL",
            "options": {"size": "XL", "color": "black"},
            "price": "25.00",
            "stock": 4,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["sku"], created["options"], created["price"], created["available"]) == (
        "TEE-XL",
        {"size": "XL", "color": "black"},
        "25.00",
        4,
    )
    product.refresh_from_db()
    assert product.price == Decimal("25.00")

    response = seller_client.patch(
        f"{base}/{created['id']}", {"price": "35.00", "options": {"size": "XXL"}}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["price"], response.json()["options"]) == ("35.00", {"size": "XXL"})
    product.refresh_from_db()
    assert product.price == Decimal("30.00")

    assert seller_client.delete(f"{base}/{created['id']}").status_code == 204
    assert not ProductVariant.objects.filter(pk=created["id"]).exists()


def test_variant_options_must_use_the_types_options(seller_client, shop):
    product = make_product(shop, type="motorbike")
    response = seller_client.post(
        f"/api/v1/products/{product.pk}/variants",
        {"options": {"size": "M"}, "price": "1000.00"},
        format="json",
    )
    problem = assert_problem(response, 400, "catalog.invalid_options")
    assert problem["errors"][0]["pointer"] == "/options/size"
    assert ProductVariant.objects.filter(product=product).count() == 1


def test_variant_sku_taken_and_duplicate_options_are_409(seller_client, shop):
    product = make_product(
        shop,
        type="clothing",
        variants=[{"sku": "A-1", "options": {"size": "M"}, "price": Decimal("1")}],
    )
    base = f"/api/v1/products/{product.pk}/variants"
    assert_problem(
        seller_client.post(
            base, {"sku": "A-1", "options": {"size": "L"}, "price": "1"}, format="json"
        ),
        409,
        "catalog.sku_taken",
    )
    assert_problem(
        seller_client.post(base, {"options": {"size": "M"}, "price": "1"}, format="json"),
        409,
        "catalog.duplicate_variant",
    )
    other = seller_client.post(
        base, {"sku": "A-2", "options": {"size": "L"}, "price": "1"}, format="json"
    ).json()
    assert_problem(
        seller_client.patch(f"{base}/{other['id']}", {"sku": "A-1"}, format="json"),
        409,
        "catalog.sku_taken",
    )
    assert ProductVariant.objects.filter(product=product).count() == 2


def test_deleting_the_last_variant_is_409(seller_client, shop):
    product = make_product(shop, publish=False)
    [variant] = product.variants.all()
    assert_problem(
        seller_client.delete(f"/api/v1/products/{product.pk}/variants/{variant.pk}"),
        409,
        "catalog.last_variant",
    )
    assert ProductVariant.objects.filter(pk=variant.pk).exists()


def test_a_published_product_keeps_an_active_variant(seller_client, shop):
    product = make_product(
        shop,
        variants=[
            {"options": {"color": "a"}, "price": Decimal("5")},
            {"options": {"color": "b"}, "price": Decimal("6"), "is_active": False},
        ],
    )
    active = product.variants.get(is_active=True)
    base = f"/api/v1/products/{product.pk}/variants/{active.pk}"
    assert_problem(
        seller_client.patch(base, {"is_active": False}, format="json"), 409, "catalog.last_variant"
    )
    assert_problem(seller_client.delete(base), 409, "catalog.last_variant")
    assert ProductVariant.objects.get(pk=active.pk).is_active


def test_unknown_variant_is_404(seller_client, shop, other_shop):
    product = make_product(shop)
    foreign = make_product(other_shop).variants.get()
    for variant_id in (foreign.pk, "not-a-uuid"):
        response = seller_client.patch(
            f"/api/v1/products/{product.pk}/variants/{variant_id}", {"price": "1"}, format="json"
        )
        assert_problem(response, 404, "catalog.variant_not_found")


# --- publish, unpublish, archive ----------


def test_publish_and_unpublish_emit_events(seller_client, shop):
    product = make_product(shop, publish=False, price="19.99")
    response = seller_client.post(f"/api/v1/products/{product.pk}/publish")
    assert response.status_code == 200
    assert response.json()["status"] == "published"
    assert response.json()["published_at"] is not None
    event = OutboxEvent.objects.get(type="product.published")
    assert (event.topic, event.key) == ("catalog", str(product.pk))
    assert event.payload == {
        "product_id": str(product.pk),
        "shop_id": str(shop.pk),
        "name": "Widget",
        "slug": "widget",
        "price": "19.99",
        "first_publish": True,
    }
    # Publishing again changes nothing and emits nothing.
    assert seller_client.post(f"/api/v1/products/{product.pk}/publish").status_code == 200
    assert OutboxEvent.objects.filter(type="product.published").count() == 1

    response = seller_client.post(f"/api/v1/products/{product.pk}/unpublish")
    assert response.status_code == 200
    assert response.json()["status"] == "draft"
    assert OutboxEvent.objects.get(type="product.unpublished").payload["product_id"] == str(
        product.pk
    )
    assert seller_client.post(f"/api/v1/products/{product.pk}/unpublish").status_code == 200
    assert OutboxEvent.objects.filter(type="product.unpublished").count() == 1


def test_republishing_emits_product_published_with_first_publish_false(seller_client, shop):
    product = make_product(shop, publish=False, price="19.99")
    for _ in range(3):
        assert seller_client.post(f"/api/v1/products/{product.pk}/publish").status_code == 200
        assert seller_client.post(f"/api/v1/products/{product.pk}/unpublish").status_code == 200
    response = seller_client.post(f"/api/v1/products/{product.pk}/publish")
    assert response.status_code == 200
    assert response.json()["status"] == "published"

    # Every publication is a `product.published` event; only the first one is new.
    events = list(OutboxEvent.objects.filter(type="product.published").order_by("seq"))
    assert [(e.key, e.payload["first_publish"]) for e in events] == [
        (str(product.pk), True),
        (str(product.pk), False),
        (str(product.pk), False),
        (str(product.pk), False),
    ]
    assert events[-1].payload == {
        "product_id": str(product.pk),
        "shop_id": str(shop.pk),
        "name": "Widget",
        "slug": "widget",
        "price": "19.99",
        "first_publish": False,
    }
    assert OutboxEvent.objects.filter(type="product.unpublished").count() == 3


def test_publish_needs_an_active_variant(seller_client, shop):
    product = make_product(
        shop, publish=False, variants=[{"options": {}, "price": Decimal("5"), "is_active": False}]
    )
    assert_problem(
        seller_client.post(f"/api/v1/products/{product.pk}/publish"), 409, "catalog.not_publishable"
    )
    assert Product.objects.get(pk=product.pk).status == "draft"
    assert not OutboxEvent.objects.filter(type="product.published").exists()


def test_delete_archives_hides_and_keeps(seller_client, api_client, shop):
    product = make_product(shop)
    OutboxEvent.objects.all().delete()
    assert seller_client.delete(f"/api/v1/products/{product.pk}").status_code == 204
    product.refresh_from_db()
    assert product.status == "archived"
    assert ProductVariant.objects.filter(product=product).count() == 1
    assert OutboxEvent.objects.get().type == "product.unpublished"
    assert_problem(
        api_client.get(f"/api/v1/products/{product.pk}"), 404, "catalog.product_not_found"
    )
    assert seller_client.get(f"/api/v1/products/{product.pk}").status_code == 200
    # Idempotent, and an archived product no longer changes.
    assert seller_client.delete(f"/api/v1/products/{product.pk}").status_code == 204
    assert_problem(
        seller_client.post(f"/api/v1/products/{product.pk}/publish"),
        409,
        "catalog.product_archived",
    )
    assert_problem(
        seller_client.patch(f"/api/v1/products/{product.pk}", {"name": "x"}, format="json"),
        409,
        "catalog.product_archived",
    )


# --- seller list ----------


def test_seller_products_lists_own_with_status_and_search(seller_client, shop, other_shop):
    make_product(shop, name="Blue Lamp")
    draft = make_product(shop, name="Red Chair", type="furniture", publish=False)
    make_product(other_shop, name="Blue Sofa", type="furniture")
    response = seller_client.get("/api/v1/seller/products")
    assert response.status_code == 200
    assert sorted(p["name"] for p in response.json()["results"]) == ["Blue Lamp", "Red Chair"]
    response = seller_client.get("/api/v1/seller/products", {"status": "draft"})
    assert [p["id"] for p in response.json()["results"]] == [str(draft.pk)]
    response = seller_client.get("/api/v1/seller/products", {"search": "blue"})
    assert [p["name"] for p in response.json()["results"]] == ["Blue Lamp"]
    assert_problem(seller_client.get("/api/v1/seller/products", {"status": "gone"}), 400, "invalid")


def test_seller_products_permissions(api_client, user_client):
    assert_problem(api_client.get("/api/v1/seller/products"), 401, "auth.not_authenticated")
    assert_problem(user_client.get("/api/v1/seller/products"), 403, "permission_denied")


def test_seller_list_query_count_is_constant(seller_client, shop, django_assert_num_queries):
    make_product(shop, name="one")
    # caller + their shop (IsSeller) + count + page + images + in-stock flags of the page
    with django_assert_num_queries(6):
        assert seller_client.get("/api/v1/seller/products").json()["count"] == 1
    categories = [category("Lamps"), category("Desks")]
    for n in range(15):
        product = make_product(
            shop,
            name=f"more {n}",
            category=categories[n % 2],
            variants=[{"options": {"color": c}, "price": Decimal("3")} for c in "abc"],
            publish=n % 3 != 0,
        )
        if n % 2:
            assets = [MediaAssetFactory(owner=shop.owner) for _ in range(2)]
            product_update(
                actor=shop.owner, product=product, data={"image_ids": [a.pk for a in assets]}
            )
    with django_assert_num_queries(6):
        results = seller_client.get("/api/v1/seller/products").json()["results"]
    assert len(results) == 16
    assert {p["status"] for p in results} == {"draft", "published"}
    assert sum(p["image"] is not None for p in results) == 7
