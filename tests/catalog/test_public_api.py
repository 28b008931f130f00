from decimal import Decimal

import pytest
from django.utils import timezone

from apps.catalog.models import Product
from apps.inventory.services import StockLine, stock_adjust, stock_reserve
from tests.catalog.factories import category, make_product
from tests.conftest import auth_client
from tests.services import need_postgres

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def _ids(response):
    assert response.status_code == 200, response.content
    return [p["id"] for p in response.json()["results"]]


def _names(response):
    assert response.status_code == 200, response.content
    return [p["name"] for p in response.json()["results"]]


# --- visibility ----------


def test_list_shows_published_products_of_active_shops_only(api_client, shop, other_shop):
    published = make_product(shop, name="Published")
    make_product(shop, name="Draft", publish=False)
    archived = make_product(shop, name="Archived")
    Product.objects.filter(pk=archived.pk).update(status="archived")
    make_product(other_shop, name="Suspended shop's")
    other_shop.status = "suspended"
    other_shop.save()
    assert _ids(api_client.get("/api/v1/products")) == [str(published.pk)]


def test_detail_visibility(api_client, user, staff, shop, other_shop):
    draft = make_product(shop, name="Secret", publish=False)
    url = f"/api/v1/products/{draft.pk}"
    for client in (api_client, auth_client(user), auth_client(other_shop.owner)):
        response = client.get(url)
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM
        assert response.json()["code"] == "catalog.product_not_found"
    for client in (auth_client(shop.owner), auth_client(staff)):
        response = client.get(url)
        assert response.status_code == 200
        assert response.json()["status"] == "draft"
        assert response["Cache-Control"] == "private, no-cache"
    assert (
        api_client.get("/api/v1/products/00000000-0000-0000-0000-000000000000").status_code == 404
    )


def test_detail_body(api_client, shop):
    parent = category("Clothing")
    shirts = category("Shirts", parent)
    product = make_product(
        shop,
        type="clothing",
        name="Oxford Shirt",
        description="Cotton oxford.",
        category=shirts,
        variants=[
            {"sku": "OX-M", "options": {"size": "M"}, "price": Decimal("49.00"), "stock": 5},
            {"sku": "OX-L", "options": {"size": "L"}, "price": Decimal("52.00")},
            {"sku": "OX-S", "options": {"size": "S"}, "price": Decimal("1.00"), "is_active": False},
        ],
    )
    Product.objects.filter(pk=product.pk).update(
        rating_avg=Decimal("4.50"), rating_count=2, rating_histogram={"4": 1, "5": 1}
    )
    response = api_client.get(f"/api/v1/products/{product.pk}")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=0, s-maxage=5"
    body = response.json()
    assert body["name"] == "Oxford Shirt"
    assert body["description"] == "Cotton oxford."
    assert body["attributes"] == {
        "brand": "Loom",
        "size": "M",
        "material": "cotton",
        "color": "navy",
    }
    assert body["category"] == {"id": str(shirts.pk), "slug": "shirts", "name": "Shirts"}
    assert body["shop"] == {"id": str(shop.pk), "slug": shop.slug, "name": shop.name}
    assert (body["price"], body["currency"]) == ("49.00", "USD")
    assert body["rating_avg"] == "4.50"
    assert body["rating_count"] == 2
    assert body["rating_histogram"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    # Inactive variants are not shown to buyers.
    assert [(v["sku"], v["options"], v["price"], v["available"]) for v in body["variants"]] == [
        ("OX-M", {"size": "M"}, "49.00", 5),
        ("OX-L", {"size": "L"}, "52.00", 0),
    ]
    assert body["images"] == []


def test_detail_by_slug_prefers_the_published_product_and_accepts_shop(
    api_client, shop, other_shop
):
    draft = make_product(shop, name="Lamp", publish=False)
    published = make_product(other_shop, name="Lamp")
    assert api_client.get("/api/v1/products/lamp").json()["id"] == str(published.pk)
    # The seller of the draft may pick theirs with ?shop=; the public may not see it.
    owner = auth_client(shop.owner)
    assert owner.get("/api/v1/products/lamp", {"shop": shop.slug}).json()["id"] == str(draft.pk)
    assert api_client.get("/api/v1/products/lamp", {"shop": shop.slug}).status_code == 404
    assert api_client.get("/api/v1/products/no-such-lamp").status_code == 404


# --- ETag and cache ----------


def test_etag_and_if_none_match(api_client, shop):
    product = make_product(shop)
    url = f"/api/v1/products/{product.pk}"
    first = api_client.get(url)
    etag = first["ETag"]
    assert etag[0] == etag[-1] == '"'
    not_modified = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == etag
    # Weak comparison and lists of tags, as sent by caches behind gzip.
    assert api_client.get(url, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert api_client.get(url, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_write_is_visible_on_next_read_and_changes_the_etag(api_client, seller_client, shop):
    product = make_product(shop, name="Old name", type="furniture")
    url = f"/api/v1/products/{product.pk}"
    before = api_client.get(url)
    assert before.json()["name"] == "Old name"
    seller_client.patch(url, {"name": "New name", "attributes": {"color": "walnut"}}, format="json")
    after = api_client.get(url, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after.json()["name"] == "New name"
    assert after.json()["attributes"]["color"] == "walnut"
    assert after["ETag"] != before["ETag"]


def test_variant_change_and_unpublish_invalidate_the_cached_detail(api_client, seller_client, shop):
    product = make_product(shop, price="10.00")
    url = f"/api/v1/products/{product.pk}"
    variant_id = api_client.get(url).json()["variants"][0]["id"]
    seller_client.patch(f"{url}/variants/{variant_id}", {"price": "8.00"}, format="json")
    assert api_client.get(url).json()["variants"][0]["price"] == "8.00"
    seller_client.post(f"{url}/unpublish")
    assert api_client.get(url).status_code == 404


def test_stock_changes_show_in_the_cached_detail(
    api_client, shop, django_capture_on_commit_callbacks
):
    product = make_product(shop, stock=3)
    url = f"/api/v1/products/{product.pk}"
    variant_id = product.variants.get().pk
    assert api_client.get(url).json()["variants"][0]["available"] == 3
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant_id=variant_id, delta=4, reason="restock", actor=shop.owner)
    assert api_client.get(url).json()["variants"][0]["available"] == 7
    with django_capture_on_commit_callbacks(execute=True):
        stock_reserve(lines=[StockLine(variant_id, 2)])
    assert api_client.get(url).json()["variants"][0]["available"] == 5


def test_cached_detail_runs_no_queries(api_client, shop, django_assert_num_queries):
    product = make_product(
        shop, variants=[{"options": {"color": f"c{i}"}, "price": Decimal("5")} for i in range(12)]
    )
    url = f"/api/v1/products/{product.pk}"
    with django_assert_num_queries(3):  # product + variants (with stock) + images
        assert len(api_client.get(url).json()["variants"]) == 12
    with django_assert_num_queries(0):
        assert api_client.get(url).status_code == 200


def test_detail_query_count_does_not_grow_with_variants(
    api_client, shop, django_assert_num_queries
):
    small = make_product(shop, name="small")
    big = make_product(
        shop,
        name="big",
        variants=[
            {"options": {"color": f"c{i}"}, "price": Decimal("5"), "stock": 2} for i in range(25)
        ],
    )
    for product in (small, big):
        with django_assert_num_queries(3):
            api_client.get(f"/api/v1/products/{product.pk}")


# --- list: filters, ordering, search ----------


def test_list_query_count_is_constant(api_client, shop, other_shop, django_assert_num_queries):
    make_product(shop, name="first", stock=1)
    # count + page + images + in-stock flags of the page
    with django_assert_num_queries(4):
        assert api_client.get("/api/v1/products").json()["count"] == 1
    categories = [category("Lamps"), category("Desks")]
    for n in range(19):
        make_product(
            other_shop if n % 2 else shop,
            name=f"p{n}",
            category=categories[n % 2] if n % 3 else None,
            variants=[{"options": {"color": c}, "price": Decimal("3"), "stock": 1} for c in "abc"],
        )
    with django_assert_num_queries(4):
        response = api_client.get("/api/v1/products", {"in_stock": "true", "ordering": "price"})
    results = response.json()["results"]
    assert len(results) == 20
    assert {p["shop"]["id"] for p in results} == {str(shop.pk), str(other_shop.pk)}
    assert len({(p["category"] or {}).get("id") for p in results}) == 3


def test_filters(api_client, shop, other_shop):
    furniture = category("Furniture")
    chairs = category("Chairs", furniture)
    office = category("Office chairs", chairs)
    tables = category("Tables", furniture)
    chair = make_product(
        shop, type="furniture", name="Chair", price="80.00", category=chairs, stock=2
    )
    office_chair = make_product(
        shop,
        type="furniture",
        name="Office chair",
        price="150.00",
        category=office,
        attributes={"brand": "Ergo", "color": "black"},
    )
    table = make_product(
        other_shop, type="furniture", name="Table", price="300.00", category=tables, stock=1
    )
    bike = make_product(
        other_shop,
        type="motorbike",
        name="Bike",
        price="5000.00",
        attributes={"manufacturer": "Moto", "engine_cc": 650, "year": 2021},
    )

    def names(**params):
        return sorted(_names(api_client.get("/api/v1/products", params)))

    assert names(type="furniture") == ["Chair", "Office chair", "Table"]
    assert names(shop=shop.slug) == ["Chair", "Office chair"]
    assert names(shop=str(other_shop.pk)) == ["Bike", "Table"]
    assert names(category="chairs") == ["Chair", "Office chair"]  # with descendants
    assert names(category=str(office.pk)) == ["Office chair"]
    assert names(category="furniture") == ["Chair", "Office chair", "Table"]
    assert names(min_price="100", max_price="300") == ["Office chair", "Table"]
    assert names(in_stock="true") == ["Chair", "Table"]
    assert names(in_stock="false") == ["Bike", "Office chair"]
    assert names(**{"attr.color": "black"}) == ["Office chair"]
    assert names(**{"attr.engine_cc": "650"}) == ["Bike"]
    assert names(**{"attr.engine_cc": "651"}) == []
    assert names(**{"attr.brand": "Oakly", "attr.color": "natural"}) == ["Chair", "Table"]
    # The spelling a generated client can send: attr=<name>:<value>, repeatable.
    assert names(attr="color:black") == ["Office chair"]
    assert names(attr="engine_cc:650") == ["Bike"]
    assert names(attr=["brand:Oakly", "color:natural"]) == ["Chair", "Table"]
    assert names(attr=["brand:Oakly", "color:black"]) == []
    assert names(attr="color:black", **{"attr.brand": "Ergo"}) == ["Office chair"]
    assert names(type="furniture", shop=shop.slug, max_price="100") == ["Chair"]
    flags = {p["name"]: p["in_stock"] for p in api_client.get("/api/v1/products").json()["results"]}
    assert flags == {"Chair": True, "Office chair": False, "Table": True, "Bike": False}
    assert {chair.pk, office_chair.pk, table.pk, bike.pk}


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"attr.wheels": "2"}, "/attr.wheels"),
        ({"attr.engine_cc": "big"}, "/attr.engine_cc"),
        ({"attr": "wheels:2"}, "/attr/0"),
        ({"attr": ["color:black", "engine_cc:big"]}, "/attr/1"),
        ({"attr": "color"}, "/attr/0"),
        ({"attr": ":black"}, "/attr/0"),
        ({"attr": [f"color:{n}" for n in range(21)]}, "/attr"),
        ({"type": "spaceship"}, "/type"),
        ({"min_price": "cheap"}, "/min_price"),
        ({"ordering": "name"}, "/ordering"),
        ({"in_stock": "maybe"}, "/in_stock"),
    ],
)
def test_bad_filters_are_400(api_client, params, pointer):
    response = api_client.get("/api/v1/products", params)
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert [e["pointer"] for e in response.json()["errors"]] == [pointer]


def test_unknown_category_filter_is_404(api_client):
    response = api_client.get("/api/v1/products", {"category": "nowhere"})
    assert response.status_code == 404
    assert response.json()["code"] == "catalog.category_not_found"


def test_ordering(api_client, shop):
    cheap = make_product(shop, name="cheap", price="5.00")
    dear = make_product(shop, name="dear", price="500.00")
    mid = make_product(shop, name="mid", price="50.00")
    Product.objects.filter(pk=mid.pk).update(rating_avg=Decimal("4.9"), rating_count=10)
    Product.objects.filter(pk=cheap.pk).update(rating_avg=Decimal("3.0"), rating_count=2)
    Product.objects.filter(pk=dear.pk).update(
        created_at=timezone.now() + timezone.timedelta(days=1)
    )

    def order(value):
        return _names(api_client.get("/api/v1/products", {"ordering": value}))

    assert order("price") == ["cheap", "mid", "dear"]
    assert order("-price") == ["dear", "mid", "cheap"]
    assert order("-rating") == ["mid", "cheap", "dear"]
    assert order("-created_at") == ["dear", "mid", "cheap"]
    assert _names(api_client.get("/api/v1/products")) == ["dear", "mid", "cheap"]


def test_search_matches_name_and_description(api_client, shop):
    make_product(shop, name="Walnut desk", description="Solid wood.")
    make_product(shop, name="Lamp", description="Looks great on a walnut desk.")
    make_product(shop, name="Sofa", description="Three seats.")
    assert sorted(_names(api_client.get("/api/v1/products", {"search": "walnut"}))) == [
        "Lamp",
        "Walnut desk",
    ]


def test_search_relevance_ranks_name_over_description_on_postgres(api_client, shop):
    need_postgres()
    description_hit = make_product(
        shop, name="Reading lamp", description="Pairs with a leather sofa."
    )
    name_hit = make_product(shop, name="Leather sofa", description="Three seats, brown.")
    make_product(shop, name="Side table", description="Oak.")
    # Newer first by default: the description hit is newer, relevance must still put it second.
    Product.objects.filter(pk=description_hit.pk).update(
        created_at=timezone.now() + timezone.timedelta(days=1)
    )
    response = api_client.get("/api/v1/products", {"search": "leather sofas"})
    assert _ids(response) == [str(name_hit.pk), str(description_hit.pk)]  # stemmed: sofas ~ sofa
    response = api_client.get(
        "/api/v1/products", {"search": "leather sofa", "ordering": "-created_at"}
    )
    assert _ids(response) == [str(description_hit.pk), str(name_hit.pk)]


def test_search_sees_renames(api_client, seller_client, shop):
    product = make_product(shop, name="Plain chair", type="furniture")
    seller_client.patch(f"/api/v1/products/{product.pk}", {"name": "Rocking chair"}, format="json")
    assert _ids(api_client.get("/api/v1/products", {"search": "rocking"})) == [str(product.pk)]


def test_pagination(api_client, shop):
    for n in range(5):
        make_product(shop, name=f"p{n}")
    body = api_client.get("/api/v1/products", {"page_size": 2, "page": 2}).json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"] is not None
    assert body["previous"] is not None
    summary = body["results"][0]
    assert set(summary) == {
        "id",
        "slug",
        "type",
        "name",
        "status",
        "price",
        "currency",
        "shop",
        "category",
        "image",
        "in_stock",
        "rating_avg",
        "rating_count",
        "published_at",
        "created_at",
    }


# --- categories ----------


def test_category_tree_is_cached_and_invalidated(api_client, django_assert_num_queries):
    from apps.catalog.cache import category_cache_bump

    root = category("Electronics")
    category("Phones", root)
    category("Laptops", root)
    category("Home")
    with django_assert_num_queries(1):
        tree = api_client.get("/api/v1/categories").json()
    assert [(n["name"], [c["name"] for c in n["children"]]) for n in tree] == [
        ("Electronics", ["Laptops", "Phones"]),
        ("Home", []),
    ]
    with django_assert_num_queries(0):
        api_client.get("/api/v1/categories")
    category("Garden")
    category_cache_bump()
    assert [n["name"] for n in api_client.get("/api/v1/categories").json()] == [
        "Electronics",
        "Garden",
        "Home",
    ]


def test_category_tree_is_one_query_whatever_its_size(api_client, django_assert_num_queries):
    from apps.catalog.cache import category_cache_bump

    category("Only")
    with django_assert_num_queries(1):
        assert len(api_client.get("/api/v1/categories").json()) == 1
    for r in range(5):
        root = category(f"Root {r}")
        for c in range(3):
            category(f"Leaf {r}-{c}", category(f"Branch {r}-{c}", root))
    category_cache_bump()
    with django_assert_num_queries(1):
        tree = api_client.get("/api/v1/categories").json()
    assert len(tree) == 6
    assert sum(len(branch["children"]) for root in tree for branch in root["children"]) == 15


def test_summary_fast_path_equals_the_declared_fields(shop, seller):
    from rest_framework import serializers

    from apps.catalog.api.serializers import ProductSummaryOutput
    from apps.catalog.selectors import ProductFilters, product_list, products_mark_in_stock
    from tests.media.factories import MediaAssetFactory

    furniture = category("Furniture")
    make_product(shop, name="Plain")
    with_all = make_product(shop, type="furniture", name="Chair", category=furniture, stock=2)
    asset = MediaAssetFactory(owner=seller)
    auth_client(seller).patch(
        f"/api/v1/products/{with_all.pk}", {"image_ids": [str(asset.pk)]}, format="json"
    )
    Product.objects.filter(pk=with_all.pk).update(rating_avg=Decimal("4.5"), rating_count=3)
    products = products_mark_in_stock(list(product_list(filters=ProductFilters())))
    for product in products:
        output = ProductSummaryOutput()
        assert output.to_representation(product) == dict(
            serializers.Serializer.to_representation(output, product)
        )
