import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.catalog.models import Product
from apps.discounts.models import Discount, DiscountRedemption
from apps.events.models import OutboxEvent
from apps.shops.models import Shop
from tests.catalog.factories import ProductFactory, category
from tests.conftest import auth_client
from tests.discounts.factories import DiscountFactory
from tests.inventory.factories import stocked_variant
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

SELLER = "/api/v1/seller/discounts"
PROBLEM = "application/problem+json"


@pytest.fixture
def shop():
    return ShopFactory()


@pytest.fixture
def seller(shop):
    return auth_client(shop.owner)


def payload(**fields):
    body = {"code": "SAVE10", "name": "Save ten", "type": "percentage", "value": "10.00"}
    body.update(fields)
    return body


def test_create_returns_201_with_every_field(seller, shop):
    product = ProductFactory(shop=shop)
    ends = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    response = seller.post(
        SELLER,
        payload(
            description="Ten percent",
            max_discount_amount="25.00",
            min_order_value="50.00",
            max_uses=100,
            max_uses_per_user=1,
            ends_at=ends.isoformat(),
            applies_to="products",
            product_ids=[str(product.pk)],
            combinable=True,
        ),
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    discount = Discount.objects.get()
    assert body == {
        "id": str(discount.pk),
        "shop": {"id": str(shop.pk), "slug": shop.slug, "name": shop.name},
        "code": "SAVE10",
        "name": "Save ten",
        "description": "Ten percent",
        "type": "percentage",
        "value": "10.00",
        "max_discount_amount": "25.00",
        "min_order_value": "50.00",
        "max_uses": 100,
        "max_uses_per_user": 1,
        "uses_count": 0,
        "starts_at": None,
        "ends_at": ends.isoformat().replace("+00:00", "Z"),
        "is_active": True,
        "is_public": False,
        "applies_to": "products",
        "product_ids": [str(product.pk)],
        "category_ids": [],
        "combinable": True,
        "currency": "USD",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert discount.shop == shop


def test_shop_and_counters_cannot_be_mass_assigned(seller, shop):
    other = ShopFactory()
    response = seller.post(
        SELLER,
        payload(uses_count=99, shop=str(other.pk), shop_id=str(other.pk), id=str(uuid.uuid4())),
    )
    assert response.status_code == 201
    discount = Discount.objects.get()
    assert (discount.shop_id, discount.uses_count) == (shop.pk, 0)
    assert str(discount.pk) == response.json()["id"]
    patched = seller.patch(f"{SELLER}/{discount.pk}", {"uses_count": 50, "shop": str(other.pk)})
    assert patched.status_code == 200
    discount.refresh_from_db()
    assert (discount.shop_id, discount.uses_count) == (shop.pk, 0)


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"value": "150"}, "/value"),
        ({"value": "0"}, "/value"),
        ({"type": "fixed_amount", "value": "-1"}, "/value"),
        ({"type": "bogus"}, "/type"),
        ({"code": "a b"}, "/code"),
        ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "/ends_at"),
        ({"applies_to": "products"}, "/product_ids"),
        ({"applies_to": "categories"}, "/category_ids"),
        ({"max_uses": 0}, "/max_uses"),
        ({"name": "Save\r\nten"}, "/name"),
        ({"description": "x" * 2001}, "/description"),
    ],
)
def test_invalid_discounts_are_400_with_pointers(seller, fields, pointer):
    response = seller.post(SELLER, payload(**fields), format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    assert not Discount.objects.exists()


def test_products_and_categories_must_belong_to_the_shop_or_be_global(seller, shop):
    foreign_product = ProductFactory()
    foreign_category = category("Foreign", shop=ShopFactory())
    own_category = category("Own", shop=shop)
    global_category = category("Global")
    bad_product = seller.post(
        SELLER,
        payload(applies_to="products", product_ids=[str(foreign_product.pk)]),
        format="json",
    )
    assert bad_product.status_code == 400
    assert bad_product.json()["errors"][0]["pointer"] == "/product_ids"
    bad_category = seller.post(
        SELLER,
        payload(applies_to="categories", category_ids=[str(foreign_category.pk)]),
        format="json",
    )
    assert bad_category.status_code == 400
    assert bad_category.json()["errors"][0]["pointer"] == "/category_ids"
    assert not Discount.objects.exists()
    ok = seller.post(
        SELLER,
        payload(
            applies_to="categories", category_ids=[str(own_category.pk), str(global_category.pk)]
        ),
        format="json",
    )
    assert ok.status_code == 201
    assert sorted(ok.json()["category_ids"]) == sorted(
        [str(own_category.pk), str(global_category.pk)]
    )


def test_code_is_unique_per_shop_case_insensitively(seller, shop):
    assert seller.post(SELLER, payload(code="Spring")).status_code == 201
    response = seller.post(SELLER, payload(code="SPRING"))
    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "discount.code_taken"
    other_shop = ShopFactory()
    assert auth_client(other_shop.owner).post(SELLER, payload(code="spring")).status_code == 201


def test_patch_validates_against_the_stored_state(seller, shop):
    discount = DiscountFactory(shop=shop, type="fixed_amount", value=Decimal("200"))
    response = seller.patch(f"{SELLER}/{discount.pk}", {"type": "percentage"})
    assert response.status_code == 400
    discount.refresh_from_db()
    assert discount.type == "fixed_amount"
    used = DiscountFactory(shop=shop, max_uses=10, uses_count=5)
    below = seller.patch(f"{SELLER}/{used.pk}", {"max_uses": 4})
    assert below.status_code == 400
    assert below.json()["errors"][0]["pointer"] == "/max_uses"
    ok = seller.patch(f"{SELLER}/{used.pk}", {"max_uses": 5, "name": "Renamed"})
    assert ok.status_code == 200
    assert ok.json()["name"] == "Renamed"


def test_permission_matrix(shop, seller, api_client, staff_client):
    discount = DiscountFactory(shop=shop)
    detail = f"{SELLER}/{discount.pk}"
    other_seller = auth_client(ShopFactory().owner)
    no_shop = auth_client(UserFactory())
    for method, url in [
        ("get", SELLER),
        ("post", SELLER),
        ("get", detail),
        ("patch", detail),
        ("delete", detail),
    ]:
        anonymous = getattr(api_client, method)(url, {})
        assert anonymous.status_code == 401, (method, url)
        assert anonymous["Content-Type"] == PROBLEM
        assert getattr(no_shop, method)(url, {}).status_code == 403, (method, url)
    for method in ("get", "patch", "delete"):
        response = getattr(other_seller, method)(detail, {"name": "Mine now"})
        assert response.status_code == 404, method
        assert response.json()["code"] == "discount.not_found"
    assert other_seller.get(SELLER).json()["results"] == []
    assert Discount.objects.get().name == discount.name
    listed = seller.get(SELLER).json()
    assert [d["id"] for d in listed["results"]] == [str(discount.pk)]
    assert seller.get(detail).status_code == 200
    # Staff act on every shop's codes.
    assert [d["id"] for d in staff_client.get(SELLER).json()["results"]] == [str(discount.pk)]
    assert staff_client.get(detail).status_code == 200
    assert staff_client.patch(detail, {"name": "Staff edit"}).status_code == 200
    assert staff_client.post(SELLER, payload(shop=shop.slug)).status_code == 201
    assert staff_client.delete(detail).status_code == 204
    assert list(Discount.objects.values_list("shop_id", "code")) == [(shop.pk, "SAVE10")]


def test_staff_list_every_shop_and_narrow_by_slug_or_id(shop, seller, staff_client):
    other = ShopFactory()
    own_old = DiscountFactory(shop=shop, code="OLD")
    foreign = DiscountFactory(shop=other, code="FOREIGN")
    own_new = DiscountFactory(shop=shop, code="NEW")

    def ids(client, **query):
        response = client.get(SELLER, query)
        assert response.status_code == 200, response.content
        return [d["id"] for d in response.json()["results"]]

    assert ids(staff_client) == [str(own_new.pk), str(foreign.pk), str(own_old.pk)]
    assert ids(staff_client, shop=shop.slug) == [str(own_new.pk), str(own_old.pk)]
    assert ids(staff_client, shop=str(other.pk).upper()) == [str(foreign.pk)]
    assert ids(staff_client, shop="no-such-shop") == []
    # A seller's `?shop=` changes nothing: their own codes only.
    assert ids(seller, shop=other.slug) == [str(own_new.pk), str(own_old.pk)]
    listed = staff_client.get(SELLER, {"shop": other.slug}).json()["results"]
    assert listed[0]["shop"] == {"id": str(other.pk), "slug": other.slug, "name": other.name}


def test_staff_read_update_and_delete_any_shops_code(shop, staff_client):
    discount = DiscountFactory(shop=shop, is_public=False, name="Before")
    detail = f"{SELLER}/{discount.pk}"

    fetched = staff_client.get(detail)
    assert fetched.status_code == 200
    assert fetched.json()["id"] == str(discount.pk)

    patched = staff_client.patch(detail, {"name": "After", "is_public": True}, format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["name"], patched.json()["is_public"]) == ("After", True)
    stored = Discount.objects.get(pk=discount.pk)
    assert (stored.shop_id, stored.name, stored.is_public) == (shop.pk, "After", True)
    # Staff making the code public announce it to the shop's followers like its seller would.
    (event,) = OutboxEvent.objects.filter(type="shop.new_discount")
    assert (event.key, event.payload["discount_id"]) == (str(shop.pk), str(discount.pk))

    assert staff_client.delete(detail).status_code == 204
    assert not Discount.objects.filter(pk=discount.pk).exists()
    missing = staff_client.get(detail)
    assert missing.status_code == 404
    assert missing.json()["code"] == "discount.not_found"


@pytest.mark.parametrize(
    "ref",
    [lambda s: s.slug, lambda s: str(s.pk), lambda s: str(s.pk).upper()],
    ids=["slug", "id", "ID"],
)
def test_staff_create_a_code_for_the_shop_they_name(shop, staff_client, ref):
    response = staff_client.post(SELLER, payload(shop=ref(shop), is_public=True), format="json")
    assert response.status_code == 201, response.content
    discount = Discount.objects.get()
    assert (discount.shop_id, discount.code) == (shop.pk, "SAVE10")
    assert response.json()["id"] == str(discount.pk)
    assert response.json()["shop"] == {"id": str(shop.pk), "slug": shop.slug, "name": shop.name}
    (event,) = OutboxEvent.objects.filter(type="shop.new_discount")
    assert event.payload["shop_id"] == str(shop.pk)


@pytest.mark.parametrize(
    ("shop_ref", "code", "detail"),
    [
        (None, "required", "Name the shop the code is for (slug or id)."),
        ("", "blank", "This field may not be blank."),
        ("no-such-shop", "does_not_exist", "No such shop."),
        (str(uuid.uuid4()), "does_not_exist", "No such shop."),
    ],
)
def test_staff_without_a_shop_must_name_an_existing_one(staff_client, shop_ref, code, detail):
    body = payload() if shop_ref is None else payload(shop=shop_ref)
    response = staff_client.post(SELLER, body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"] == [{"pointer": "/shop", "code": code, "detail": detail}]
    assert not Discount.objects.exists()


def test_staff_with_a_shop_create_for_their_own_unless_they_name_another(shop):
    staff_seller = ShopFactory(owner=UserFactory(is_staff=True))
    client = auth_client(staff_seller.owner)
    own = client.post(SELLER, payload(code="MINE"), format="json")
    assert own.status_code == 201, own.content
    named = client.post(SELLER, payload(code="THEIRS", shop=shop.slug), format="json")
    assert named.status_code == 201, named.content
    assert dict(Discount.objects.values_list("code", "shop_id")) == {
        "MINE": staff_seller.pk,
        "THEIRS": shop.pk,
    }


def test_delete_unused_removes_used_deactivates(seller, shop):
    unused = DiscountFactory(shop=shop)
    used = DiscountFactory(shop=shop)
    DiscountRedemption.objects.create(
        discount=used, user=UserFactory(), order_id=uuid.uuid4(), amount=Decimal("1.00")
    )
    assert seller.delete(f"{SELLER}/{unused.pk}").status_code == 204
    assert not Discount.objects.filter(pk=unused.pk).exists()
    assert seller.delete(f"{SELLER}/{used.pk}").status_code == 204
    used.refresh_from_db()
    assert used.is_active is False
    assert used.redemptions.count() == 1


def _varied_discounts(shop=None, count=5):
    """Codes of every target kind; a new shop each when `shop` is None."""
    for n in range(count):
        owner = shop or ShopFactory()
        kind = ("all", "products", "categories")[n % 3]
        d = DiscountFactory(shop=owner, applies_to=kind)
        if kind == "products":
            d.products.add(ProductFactory(shop=owner), ProductFactory(shop=owner))
        elif kind == "categories":
            d.categories.add(category(f"Category {d.code}"))


def test_seller_list_query_count_is_constant(seller, shop, django_assert_num_queries):
    DiscountFactory(shop=shop)
    # caller + their shop (IsSeller) + count + page with shop + product ids + category ids
    with django_assert_num_queries(6):
        seller.get(SELLER)
    _varied_discounts(shop)
    with django_assert_num_queries(6):
        results = seller.get(SELLER).json()["results"]
    assert len(results) == 6
    targets = sorted(len(d["product_ids"]) + len(d["category_ids"]) for d in results)
    assert targets == [0, 0, 0, 1, 2, 2]


def test_staff_list_query_count_does_not_grow_with_shops(staff_client, django_assert_num_queries):
    DiscountFactory()
    # caller + count + page with shop + product ids + category ids
    with django_assert_num_queries(5):
        staff_client.get(SELLER)
    _varied_discounts()
    with django_assert_num_queries(5):
        results = staff_client.get(SELLER).json()["results"]
    assert len({d["shop"]["id"] for d in results}) == 6


# --- public


def test_shop_listing_shows_public_active_current_codes_only(api_client, shop):
    now = timezone.now()
    visible = DiscountFactory(shop=shop, code="VISIBLE")
    DiscountFactory(shop=shop, code="PRIVATE", is_public=False)
    DiscountFactory(shop=shop, code="OFF", is_active=False)
    DiscountFactory(shop=shop, code="LATER", starts_at=now + timedelta(days=1))
    DiscountFactory(shop=shop, code="OVER", ends_at=now - timedelta(seconds=1))
    DiscountFactory(shop=shop, code="GONE", max_uses=1, uses_count=1)
    DiscountFactory(code="ELSEWHERE")
    response = api_client.get(f"/api/v1/shops/{shop.slug}/discounts")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [d["code"] for d in results] == ["VISIBLE"]
    assert results[0]["id"] == str(visible.pk)
    assert "uses_count" not in results[0]
    assert results[0]["currency"] == "USD"
    assert api_client.get(f"/api/v1/shops/{shop.pk}/discounts").json()["count"] == 1
    missing = api_client.get("/api/v1/shops/no-such-shop/discounts")
    assert missing.status_code == 404
    assert missing.json()["code"] == "shop.not_found"
    Shop.objects.filter(pk=shop.pk).update(status=Shop.Status.SUSPENDED)
    assert api_client.get(f"/api/v1/shops/{shop.slug}/discounts").status_code == 404


def test_products_for_code_follow_applies_to(api_client, shop):
    root = category("Root")
    child = category("Child", parent=root)
    ProductFactory(shop=shop, name="A in child", category=child)
    ProductFactory(shop=shop, name="B in root", category=root)
    uncategorised = ProductFactory(shop=shop, name="C none")
    ProductFactory(shop=shop, name="D draft", status=Product.Status.DRAFT, category=child)
    ProductFactory(name="E other shop", category=child)
    by_category = DiscountFactory(shop=shop, code="CAT", applies_to="categories")
    by_category.categories.add(child)
    by_product = DiscountFactory(shop=shop, code="PROD", applies_to="products")
    by_product.products.add(uncategorised)
    DiscountFactory(shop=shop, code="ALL")

    def names(code):
        response = api_client.get(f"/api/v1/discounts/{code}/products", {"shop": shop.slug})
        assert response.status_code == 200
        return [p["name"] for p in response.json()["results"]]

    assert names("cat") == ["A in child"]
    assert names("PROD") == ["C none"]
    assert names("ALL") == ["A in child", "B in root", "C none"]
    by_category.categories.set([root])
    assert names("CAT") == ["A in child", "B in root"]
    unknown = api_client.get("/api/v1/discounts/NOPE/products", {"shop": shop.slug})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "discount.not_found"
    no_shop = api_client.get("/api/v1/discounts/ALL/products")
    assert no_shop.status_code == 400
    assert no_shop["Content-Type"] == PROBLEM


def test_shop_listing_query_count_is_constant(api_client, shop, django_assert_num_queries):
    url = f"/api/v1/shops/{shop.slug}/discounts"
    DiscountFactory(shop=shop)
    # shop + count + page
    with django_assert_num_queries(3):
        assert api_client.get(url).json()["count"] == 1
    _varied_discounts(shop, count=12)
    DiscountFactory(shop=shop, is_public=False)
    with django_assert_num_queries(3):
        results = api_client.get(url).json()["results"]
    assert len(results) == 13
    assert {d["applies_to"] for d in results} == {"all", "products", "categories"}


@pytest.mark.parametrize("applies_to", ["all", "products", "categories"])
def test_products_for_code_query_count_is_constant(
    api_client, shop, applies_to, django_assert_num_queries
):
    discount = DiscountFactory(shop=shop, code="CODE", applies_to=applies_to)
    root = category("Root")
    discount.categories.add(root)
    discount.products.add(ProductFactory(shop=shop, category=root))
    url = "/api/v1/discounts/CODE/products"
    # shop + discount + its product ids + its category paths + count + page
    with django_assert_num_queries(6):
        assert api_client.get(url, {"shop": shop.slug}).json()["count"] == 1
    for n in range(12):
        child = category(f"Child {n}", root)
        discount.products.add(ProductFactory(shop=shop, category=child if n % 2 else None))
        ProductFactory(shop=shop, category=child)
    expected = {"all": 25, "products": 13, "categories": 19}[applies_to]
    with django_assert_num_queries(6):
        response = api_client.get(url, {"shop": shop.slug, "page_size": 100})
    assert len(response.json()["results"]) == expected


# --- validate

VALIDATE = "/api/v1/discounts/validate"


@pytest.mark.parametrize(
    "ref",
    [lambda s: s.slug, lambda s: str(s.pk), lambda s: str(s.pk).upper()],
    ids=["slug", "id", "ID"],
)
def test_validate_names_the_shop_by_slug_or_id_in_any_case(user, shop, ref):
    client = auth_client(user)
    variant = stocked_variant(price="30.00", shop=shop)
    DiscountFactory(shop=shop, code="TEN", value=Decimal("10"))
    body = {
        "shop": ref(shop),
        "code": "TEN",
        "items": [{"variant_id": str(variant.pk), "quantity": 1}],
    }
    response = client.post(VALIDATE, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["discount_amount"] == "3.00"


def test_validate_uses_cart_lines_of_that_shop_by_default(user, shop):
    client = auth_client(user)
    v1 = stocked_variant(price="30.00", shop=shop)
    v2 = stocked_variant(price="20.00", shop=shop)
    elsewhere = stocked_variant(price="100.00")
    for variant, quantity in ((v1, 1), (v2, 2), (elsewhere, 1)):
        client.post("/api/v1/cart/items", {"variant_id": str(variant.pk), "quantity": quantity})
    DiscountFactory(shop=shop, code="TEN", value=Decimal("10"))
    response = client.post(VALIDATE, {"shop": shop.slug, "code": "ten"})
    assert response.status_code == 200
    assert response.json() == {
        "code": "TEN",
        "eligible_subtotal": "70.00",
        "discount_amount": "7.00",
        "currency": "USD",
    }


def test_validate_with_explicit_items_ignores_client_prices(user_client, shop):
    variant = stocked_variant(price="40.00", shop=shop)
    DiscountFactory(shop=shop, code="FIVE", type="fixed_amount", value=Decimal("5"))
    response = user_client.post(
        VALIDATE,
        {
            "shop": str(shop.pk),
            "code": "FIVE",
            "items": [{"variant_id": str(variant.pk), "quantity": 2, "unit_price": "0.01"}],
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["eligible_subtotal"] == "80.00"
    assert response.json()["discount_amount"] == "5.00"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"is_active": False}, "discount.inactive"),
        ({"starts_at": timezone.now() + timedelta(days=1)}, "discount.not_started"),
        ({"ends_at": timezone.now() - timedelta(days=1)}, "discount.expired"),
        ({"min_order_value": Decimal("100.00")}, "discount.min_order_value"),
        ({"max_uses": 1, "uses_count": 1}, "discount.usage_limit"),
        ({"max_uses_per_user": 1}, "discount.user_usage_limit"),
        ({"applies_to": "products"}, "discount.not_applicable"),
    ],
)
def test_validate_refusals_are_422(user, shop, fields, code):
    client = auth_client(user)
    variant = stocked_variant(price="10.00", shop=shop)
    discount = DiscountFactory(shop=shop, code="X1", **fields)
    if code == "discount.user_usage_limit":
        DiscountRedemption.objects.create(
            discount=discount, user=user, order_id=uuid.uuid4(), amount=Decimal(1)
        )
    response = client.post(
        VALIDATE,
        {
            "shop": shop.slug,
            "code": "X1",
            "items": [{"variant_id": str(variant.pk), "quantity": 1}],
        },
        format="json",
    )
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == code
    assert response.json()["discount_code"] == "X1"


def test_validate_unknown_code_is_404_and_anonymous_401(user_client, api_client, shop):
    DiscountFactory(code="MINE")  # another shop's code
    response = user_client.post(VALIDATE, {"shop": shop.slug, "code": "MINE"})
    assert response.status_code == 404
    assert response.json()["code"] == "discount.not_found"
    assert api_client.post(VALIDATE, {"shop": shop.slug, "code": "MINE"}).status_code == 401
    assert user_client.post(VALIDATE, {"code": "MINE"}).status_code == 400


# --- private codes cannot be confirmed by someone who does not have them


def _products(client, code, shop):
    return client.get(f"/api/v1/discounts/{code}/products", {"shop": shop.slug})


def test_a_private_code_is_not_found_on_the_products_endpoint_except_to_its_shop(
    api_client, shop, staff_client
):
    ProductFactory(shop=shop, name="Lamp")
    DiscountFactory(shop=shop, code="SECRET", is_public=False)
    unknown = _products(api_client, "NOPE", shop)

    for client in (api_client, auth_client(UserFactory()), auth_client(ShopFactory().owner)):
        response = _products(client, "SECRET", shop)
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM
        body, expected = response.json(), unknown.json()
        assert body == {**expected, "detail": body["detail"], "discount_code": "SECRET"}
        assert body["detail"] == expected["detail"].replace("NOPE", "SECRET")
    for client in (auth_client(shop.owner), staff_client):
        response = _products(client, "secret", shop)
        assert response.status_code == 200
        assert [p["name"] for p in response.json()["results"]] == ["Lamp"]


def _validate(client, shop, code, variant):
    return client.post(
        VALIDATE,
        {
            "shop": shop.slug,
            "code": code,
            "items": [{"variant_id": str(variant.pk), "quantity": 1}],
        },
        format="json",
    )


UNUSABLE = [
    {"is_active": False},
    {"starts_at": timezone.now() + timedelta(days=1)},
    {"ends_at": timezone.now() - timedelta(days=1)},
    {"max_uses": 1, "uses_count": 1},
]


@pytest.mark.parametrize("fields", UNUSABLE, ids=["inactive", "not_started", "expired", "used_up"])
def test_validate_answers_an_unusable_private_code_exactly_as_an_unknown_one(user, shop, fields):
    client = auth_client(user)
    variant = stocked_variant(price="10.00", shop=shop)
    DiscountFactory(shop=shop, code="HIDDEN", is_public=False, **fields)
    DiscountFactory(shop=shop, code="VISIBLE", is_public=True, **fields)

    hidden = _validate(client, shop, "HIDDEN", variant)
    unknown = _validate(client, shop, "HIDDEN2", variant)
    public = _validate(client, shop, "VISIBLE", variant)

    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == {
        **unknown.json(),
        "detail": unknown.json()["detail"].replace("HIDDEN2", "HIDDEN"),
        "discount_code": "HIDDEN",
    }
    assert hidden.json()["code"] == "discount.not_found"
    # a public code is no secret: its documented refusal stays
    assert public.status_code == 422
    assert public.json()["code"].startswith("discount.")
    assert public.json()["code"] != "discount.not_found"


@pytest.mark.parametrize("fields", UNUSABLE, ids=["inactive", "not_started", "expired", "used_up"])
def test_the_private_codes_seller_and_past_users_keep_the_documented_refusals(user, shop, fields):
    variant = stocked_variant(price="10.00", shop=shop)
    discount = DiscountFactory(shop=shop, code="HIDDEN", is_public=False, **fields)
    DiscountRedemption.objects.create(
        discount=discount, user=user, order_id=uuid.uuid4(), amount=Decimal(1)
    )
    expected = {
        "is_active": "discount.inactive",
        "starts_at": "discount.not_started",
        "ends_at": "discount.expired",
        "max_uses": "discount.usage_limit",
    }[next(iter(fields))]

    for client in (auth_client(user), auth_client(shop.owner)):
        response = _validate(client, shop, "HIDDEN", variant)
        assert response.status_code == 422
        assert response.json()["code"] == expected


def test_a_usable_private_code_keeps_its_cart_refusals(user_client, shop):
    """Whoever can build a matching cart gets a 200 for a usable code anyway; refusing by the
    cart (min order, applies to) tells nothing more, and helps its real holders."""
    variant = stocked_variant(price="10.00", shop=shop)
    DiscountFactory(shop=shop, code="HIDDEN", is_public=False, min_order_value=Decimal("50"))

    response = _validate(user_client, shop, "HIDDEN", variant)

    assert response.status_code == 422
    assert response.json()["code"] == "discount.min_order_value"


def test_checkout_review_answers_an_unusable_private_code_as_unknown(user_client, shop):
    variant = stocked_variant(price="10.00", shop=shop)
    DiscountFactory(shop=shop, code="HIDDEN", is_public=False, max_uses=1, uses_count=1)
    body = {
        "items": [{"variant_id": str(variant.pk), "quantity": 1}],
        "discounts": [{"shop": shop.slug, "code": "HIDDEN"}],
    }

    response = user_client.post("/api/v1/checkout/review", body, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "discount.not_found"


def test_code_checks_are_throttled_per_caller(api_client, user, shop, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "discount_check", "2/min")
    variant = stocked_variant(price="10.00", shop=shop)
    DiscountFactory(shop=shop, code="TEN")
    client = auth_client(user)
    review = {"items": [{"variant_id": str(variant.pk), "quantity": 1}]}

    # a checkout review without codes checks none and is not counted
    assert client.post("/api/v1/checkout/review", review, format="json").status_code == 200
    statuses = [_validate(client, shop, f"GUESS{n}", variant).status_code for n in range(2)]
    with_code = client.post(
        "/api/v1/checkout/review",
        {**review, "discounts": [{"shop": shop.slug, "code": "TEN"}]},
        format="json",
    )
    anonymous = [_products(api_client, "TEN", shop).status_code for _ in range(3)]

    assert statuses == [404, 404]
    assert with_code.status_code == 429
    assert with_code["Content-Type"] == PROBLEM
    assert with_code.json()["code"] == "throttled"
    assert int(with_code["Retry-After"]) >= 1
    assert _validate(client, shop, "TEN", variant).status_code == 429
    assert anonymous == [200, 200, 429]  # anonymous callers by address
    assert _validate(auth_client(UserFactory()), shop, "TEN", variant).status_code == 200
