"""The Django admin checks a product's attributes and its variants' options with the API's own
checks, shows each problem on its field, saves nothing when one is found, and keeps the cached
product pages fresh after every save."""

from decimal import Decimal
from typing import Any

import pytest

from apps.catalog.models import Product, ProductVariant
from tests.catalog.factories import VALID_ATTRIBUTES, make_product
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

PHONE_VARIANTS = [
    {"sku": "PH-BLACK", "options": {"color": "black", "storage": "128 GB"}, "price": "300.00"},
    {"sku": "PH-WHITE", "options": {"color": "white", "storage": "128 GB"}, "price": "320.00"},
]


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def phone(shop):
    return make_product(shop, name="Phone", variants=PHONE_VARIANTS)


def change_url(product: Product) -> str:
    return f"/admin/catalog/product/{product.pk}/change/"


def variant_url(variant: ProductVariant) -> str:
    return f"/admin/catalog/productvariant/{variant.pk}/change/"


def current_variants(product: Product) -> list[dict[str, Any]]:
    """The product's variant rows as the change form shows them."""
    return [
        {
            "id": str(v.pk),
            "sku": v.sku,
            "options": v.options,
            "price": str(v.price),
            "is_active": v.is_active,
            "position": v.position,
        }
        for v in product.variants.order_by("position", "created_at")
    ]


def structured(name: str, type_: str, values: Any) -> dict[str, str]:
    """What the schema inputs post for `values` (apps.catalog.widgets): one input per key."""
    if not isinstance(values, dict):
        return {}
    return {f"{name}.{type_}.{key}": str(value) for key, value in values.items()}


def product_form(
    product: Product | None,
    *,
    variants: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, str]:
    """The POST body of the product change (or add) form: the product's current values with
    `fields` changed, and `variants` as the inline rows (default: the current rows)."""
    data: dict[str, Any] = {}
    if product is not None:
        data = {
            "shop": str(product.shop_id),
            "type": product.type,
            "name": product.name,
            "slug": product.slug,
            "description": product.description,
            "category": str(product.category_id or ""),
            "attributes": product.attributes,
        }
    data.update(fields)
    data |= structured("attributes", data["type"], data.pop("attributes"))
    if variants is None:
        variants = current_variants(product) if product is not None else []
    data |= {
        "variants-TOTAL_FORMS": str(len(variants)),
        "variants-INITIAL_FORMS": str(sum(1 for v in variants if v.get("id"))),
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }
    for index, variant in enumerate(variants):
        prefix = f"variants-{index}-"
        data[prefix + "id"] = variant.get("id", "")
        data[prefix + "product"] = str(product.pk) if product is not None else ""
        data[prefix + "sku"] = variant["sku"]
        data |= structured(prefix + "options", data["type"], variant["options"])
        data[prefix + "price"] = variant["price"]
        data[prefix + "position"] = str(variant.get("position", index))
        if variant.get("is_active", True):
            data[prefix + "is_active"] = "on"
        if variant.get("delete"):
            data[prefix + "DELETE"] = "on"
    return data


def variant_form(variant: ProductVariant, **fields: Any) -> dict[str, str]:
    """The POST body of a variant's own change page (its product is read-only there)."""
    data = {
        "sku": variant.sku,
        "options": variant.options,
        "price": str(variant.price),
        "is_active": variant.is_active,
        "position": str(variant.position),
        **fields,
    }
    data |= structured("options", variant.product.type, data.pop("options"))
    if data.pop("is_active"):
        data["is_active"] = "on"
    data |= {
        "stock-TOTAL_FORMS": "0",
        "stock-INITIAL_FORMS": "0",
        "stock-MIN_NUM_FORMS": "0",
        "stock-MAX_NUM_FORMS": "0",
    }
    return data


def product_errors(response: Any) -> dict[str, list[str]]:
    return {
        field: list(errors) for field, errors in response.context["adminform"].form.errors.items()
    }


def variant_row_errors(response: Any) -> list[dict[str, list[str]]]:
    (inline,) = [
        inline
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.prefix == "variants"
    ]
    return [
        {field: list(errors) for field, errors in form.errors.items()}
        for form in inline.formset.forms
    ]


def snapshot(product: Product) -> tuple:
    """What a refused form must leave as it was: the product row and its variant rows."""
    row = Product.objects.get(pk=product.pk)
    variants = [
        (v.pk, v.sku, v.options, v.price, v.is_active)
        for v in ProductVariant.objects.filter(product=row).order_by("position", "created_at")
    ]
    return (row.type, row.name, row.slug, row.attributes, row.price, row.updated_at, variants)


# --- product attributes --------------------------------------------------------------------------


def test_invalid_attributes_are_refused_on_the_attributes_field(admin_client, phone):
    before = snapshot(phone)
    attributes = {"manufacturer": "Acme", "model": "x" * 101, "warranty_months": "lots"}

    response = admin_client.post(
        change_url(phone), product_form(phone, name="Renamed", attributes=attributes)
    )

    assert response.status_code == 200
    assert product_errors(response) == {
        "attributes": [
            "model: At most 100 characters.",
            "warranty_months: Must be an integer, not string.",
        ]
    }
    assert snapshot(phone) == before


def test_a_number_out_of_bounds_is_refused(admin_client, phone):
    before = snapshot(phone)
    attributes = {"manufacturer": "Acme", "warranty_months": "500"}

    response = admin_client.post(change_url(phone), product_form(phone, attributes=attributes))

    assert product_errors(response) == {"attributes": ["warranty_months: Must be at most 120."]}
    assert snapshot(phone) == before


def test_a_missing_required_attribute_is_refused(admin_client, phone):
    before = snapshot(phone)

    response = admin_client.post(change_url(phone), product_form(phone, attributes={"model": "X"}))

    assert response.status_code == 200
    assert product_errors(response) == {
        "attributes": ["manufacturer: manufacturer is required for electronics products."]
    }
    assert snapshot(phone) == before


def test_the_type_draws_the_inputs_and_keys_it_does_not_declare_are_never_read(admin_client, phone):
    before = snapshot(phone)
    page = admin_client.get(change_url(phone)).content.decode()

    response = admin_client.post(
        change_url(phone),
        product_form(phone, attributes={**phone.attributes, "colour": "red"}),
    )

    for attribute in ("manufacturer", "model", "color", "warranty_months"):
        assert f'name="attributes.electronics.{attribute}"' in page
    assert 'name="attributes.electronics.colour"' not in page
    assert 'type="number" name="attributes.electronics.warranty_months"' in page
    assert 'min="0" max="120"' in page
    assert response.status_code == 302
    assert snapshot(phone) == before  # nothing changed: `colour` is not an attribute


# --- variant options in the product form's inline ------------------------------------------------


def test_inline_variant_options_the_type_does_not_allow_are_refused(admin_client, phone):
    before = snapshot(phone)
    variants = current_variants(phone)
    variants[1]["options"] = {"color": "x" * 41, "storage": "128 GB"}
    variants[1]["price"] = "1.00"

    response = admin_client.post(
        change_url(phone), product_form(phone, name="Renamed", variants=variants)
    )

    assert response.status_code == 200
    assert product_errors(response) == {}
    assert variant_row_errors(response) == [
        {},
        {"options": ["color: At most 40 characters."]},
    ]
    assert snapshot(phone) == before


def test_inline_refuses_two_variants_with_the_same_options(admin_client, phone):
    before = snapshot(phone)
    variants = current_variants(phone)
    variants.append({"sku": "PH-BLACK-2", "options": {"storage": "128 GB", "color": "black"}})
    variants[2]["price"] = "290.00"

    response = admin_client.post(change_url(phone), product_form(phone, variants=variants))

    assert response.status_code == 200
    assert variant_row_errors(response) == [
        {},
        {},
        {"options": ["Same options as variant 0."]},
    ]
    assert snapshot(phone) == before
    assert not ProductVariant.objects.filter(sku="PH-BLACK-2").exists()


def test_inline_allows_two_variants_to_swap_their_options(admin_client, phone):
    variants = current_variants(phone)
    variants[0]["options"], variants[1]["options"] = variants[1]["options"], variants[0]["options"]

    response = admin_client.post(change_url(phone), product_form(phone, variants=variants))

    assert response.status_code == 302
    assert dict(phone.variants.values_list("sku", "options")) == {
        "PH-BLACK": {"color": "white", "storage": "128 GB"},
        "PH-WHITE": {"color": "black", "storage": "128 GB"},
    }


def test_a_deleted_inline_row_is_not_checked(admin_client, phone):
    """A staff member may delete a row whose options the type refuses."""
    ProductVariant.objects.filter(sku="PH-WHITE").update(options={"size": "M"})
    variants = current_variants(phone)
    variants[1]["delete"] = True

    response = admin_client.post(change_url(phone), product_form(phone, variants=variants))

    assert response.status_code == 302
    assert list(phone.variants.values_list("sku", flat=True)) == ["PH-BLACK"]


def test_adding_a_product_with_invalid_variant_options_creates_nothing(admin_client, shop):
    data = product_form(
        None,
        shop=str(shop.pk),
        type="furniture",
        name="Chair",
        slug="chair",
        description="",
        category="",
        attributes=VALID_ATTRIBUTES["furniture"],
        variants=[{"sku": "CH-1", "options": {"color": "x" * 41}, "price": "80.00"}],
    )

    response = admin_client.post("/admin/catalog/product/add/", data)

    assert response.status_code == 200
    assert variant_row_errors(response) == [{"options": ["color: At most 40 characters."]}]
    assert not Product.objects.exists()
    assert not ProductVariant.objects.exists()


def test_adding_a_valid_product_saves_it_with_its_derived_price(admin_client, shop):
    data = product_form(
        None,
        shop=str(shop.pk),
        type="furniture",
        name="Chair",
        slug="chair",
        description="",
        category="",
        attributes=VALID_ATTRIBUTES["furniture"],
        variants=[
            {"sku": "CH-OAK", "options": {"color": "oak"}, "price": "80.00"},
            {"sku": "CH-ASH", "options": {"color": "ash"}, "price": "75.00"},
        ],
    )

    response = admin_client.post("/admin/catalog/product/add/", data)

    assert response.status_code == 302
    product = Product.objects.get(slug="chair")
    assert (product.type, product.status, product.price) == ("furniture", "draft", Decimal("75"))
    assert dict(product.variants.values_list("sku", "options")) == {
        "CH-OAK": {"color": "oak"},
        "CH-ASH": {"color": "ash"},
    }


# --- changing the type ---------------------------------------------------------------------------


def test_changing_the_type_rechecks_attributes_and_existing_variants(admin_client, phone):
    before = snapshot(phone)

    response = admin_client.post(
        change_url(phone),
        product_form(phone, type="furniture", attributes=VALID_ATTRIBUTES["electronics"]),
    )

    # The furniture inputs are read: the phone's color carries over, its manufacturer does not.
    assert response.status_code == 200
    assert product_errors(response) == {
        "attributes": ["brand: brand is required for furniture products."]
    }
    assert snapshot(phone) == before


def test_changing_the_type_with_valid_attributes_still_rechecks_the_variants(admin_client, phone):
    before = snapshot(phone)

    variants = current_variants(phone)
    variants[1]["options"] = {"color": "black", "storage": "256 GB"}  # furniture: color only

    response = admin_client.post(
        change_url(phone),
        product_form(
            phone, type="furniture", attributes=VALID_ATTRIBUTES["furniture"], variants=variants
        ),
    )

    assert response.status_code == 200
    assert product_errors(response) == {}
    assert variant_row_errors(response) == [{}, {"options": ["Same options as variant 0."]}]
    assert snapshot(phone) == before


def test_changing_the_type_saves_when_attributes_and_variants_fit_it(admin_client, phone):
    variants = current_variants(phone)
    variants[0]["options"] = {"color": "black"}
    variants[1]["options"] = {"color": "white"}

    response = admin_client.post(
        change_url(phone),
        product_form(
            phone, type="furniture", attributes=VALID_ATTRIBUTES["furniture"], variants=variants
        ),
    )

    assert response.status_code == 302
    phone.refresh_from_db()
    assert (phone.type, phone.attributes) == ("furniture", VALID_ATTRIBUTES["furniture"])
    assert dict(phone.variants.values_list("sku", "options")) == {
        "PH-BLACK": {"color": "black"},
        "PH-WHITE": {"color": "white"},
    }


# --- a variant's own change page -----------------------------------------------------------------


def test_variant_page_refuses_options_the_type_does_not_allow(admin_client, phone):
    variant = phone.variants.get(sku="PH-BLACK")
    before = snapshot(phone)

    response = admin_client.post(
        variant_url(variant), variant_form(variant, options={"storage": "x" * 41, "size": "M"})
    )

    assert response.status_code == 200
    assert product_errors(response) == {"options": ["storage: At most 40 characters."]}
    assert snapshot(phone) == before


def test_variant_page_refuses_the_options_of_another_variant(admin_client, phone):
    variant = phone.variants.get(sku="PH-BLACK")
    before = snapshot(phone)

    response = admin_client.post(
        variant_url(variant),
        variant_form(variant, options={"color": "white", "storage": "128 GB"}),
    )

    assert response.status_code == 200
    assert product_errors(response) == {
        "options": ["Another variant of this product has the same options."]
    }
    assert snapshot(phone) == before


def test_variant_page_saves_valid_options_and_keeps_the_product(admin_client, phone, other_shop):
    variant = phone.variants.get(sku="PH-BLACK")
    other = make_product(other_shop, name="Other")

    response = admin_client.post(
        variant_url(variant),
        # A posted product is ignored: a variant stays with its product.
        variant_form(variant, options={"color": "red"}, price="250.00", product=str(other.pk)),
    )

    assert response.status_code == 302
    variant.refresh_from_db()
    assert (variant.product_id, variant.options, variant.price) == (
        phone.pk,
        {"color": "red"},
        Decimal("250.00"),
    )
    phone.refresh_from_db()
    assert phone.price == Decimal("250.00")


def test_variant_add_page_checks_options_against_the_chosen_product(admin_client, phone):
    data = {
        "product": str(phone.pk),
        "sku": "PH-NEW",
        "options.electronics.color": "x" * 41,
        "price": "310.00",
        "position": "3",
        "is_active": "on",
        "stock-TOTAL_FORMS": "0",
        "stock-INITIAL_FORMS": "0",
        "stock-MIN_NUM_FORMS": "0",
        "stock-MAX_NUM_FORMS": "0",
    }

    response = admin_client.post("/admin/catalog/productvariant/add/", data)

    assert response.status_code == 200
    assert product_errors(response) == {"options": ["color: At most 40 characters."]}
    assert not ProductVariant.objects.filter(sku="PH-NEW").exists()

    data["options.electronics.color"] = "green"
    assert admin_client.post("/admin/catalog/productvariant/add/", data).status_code == 302
    assert ProductVariant.objects.get(sku="PH-NEW").options == {"color": "green"}


# --- valid edits and cache freshness -------------------------------------------------------------


def test_valid_edits_save_and_refresh_the_derived_price(admin_client, phone):
    variants = current_variants(phone)
    variants[1]["price"] = "99.00"
    variants[1]["options"] = {"color": "blue", "storage": "256 GB"}
    attributes = {**phone.attributes, "warranty_months": 36}

    response = admin_client.post(
        change_url(phone),
        product_form(phone, name="Phone Pro", attributes=attributes, variants=variants),
    )

    assert response.status_code == 302
    phone.refresh_from_db()
    assert (phone.name, phone.attributes, phone.price) == ("Phone Pro", attributes, Decimal("99"))
    white = phone.variants.get(sku="PH-WHITE")
    assert (white.options, white.price) == ({"color": "blue", "storage": "256 GB"}, Decimal("99"))


def cached_detail(api_client, product: Product, django_assert_num_queries) -> dict[str, Any]:
    """GET the product twice; the second read is served from the cache (no SQL)."""
    url = f"/api/v1/products/{product.pk}"
    assert api_client.get(url).status_code == 200
    with django_assert_num_queries(0):
        response = api_client.get(url)
    assert response.status_code == 200
    return response.json()


def test_admin_product_edit_shows_on_cached_detail_and_list(
    admin_client, api_client, phone, django_assert_num_queries
):
    assert cached_detail(api_client, phone, django_assert_num_queries)["name"] == "Phone"
    assert api_client.get("/api/v1/products").json()["results"][0]["name"] == "Phone"

    response = admin_client.post(change_url(phone), product_form(phone, name="Phone Pro"))
    assert response.status_code == 302

    assert api_client.get(f"/api/v1/products/{phone.pk}").json()["name"] == "Phone Pro"
    assert api_client.get("/api/v1/products").json()["results"][0]["name"] == "Phone Pro"


def test_admin_inline_variant_price_shows_on_cached_detail_and_list(
    admin_client, api_client, phone, django_assert_num_queries
):
    body = cached_detail(api_client, phone, django_assert_num_queries)
    assert [v["price"] for v in body["variants"]] == ["300.00", "320.00"]
    assert api_client.get("/api/v1/products").json()["results"][0]["price"] == "300.00"
    variants = current_variants(phone)
    variants[0]["price"] = "280.00"

    response = admin_client.post(change_url(phone), product_form(phone, variants=variants))
    assert response.status_code == 302

    body = api_client.get(f"/api/v1/products/{phone.pk}").json()
    assert (body["price"], [v["price"] for v in body["variants"]]) == (
        "280.00",
        ["280.00", "320.00"],
    )
    assert api_client.get("/api/v1/products").json()["results"][0]["price"] == "280.00"


def test_admin_variant_page_edit_shows_on_cached_detail(
    admin_client, api_client, phone, django_assert_num_queries
):
    cached_detail(api_client, phone, django_assert_num_queries)
    variant = phone.variants.get(sku="PH-WHITE")

    response = admin_client.post(variant_url(variant), variant_form(variant, price="150.00"))
    assert response.status_code == 302

    body = api_client.get(f"/api/v1/products/{phone.pk}").json()
    assert (body["price"], [v["price"] for v in body["variants"]]) == (
        "150.00",
        ["300.00", "150.00"],
    )


def test_admin_variant_delete_shows_on_cached_detail(
    admin_client, api_client, phone, django_assert_num_queries
):
    cached_detail(api_client, phone, django_assert_num_queries)
    variant = phone.variants.get(sku="PH-BLACK")

    response = admin_client.post(
        f"/admin/catalog/productvariant/{variant.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302

    body = api_client.get(f"/api/v1/products/{phone.pk}").json()
    assert (body["price"], [v["sku"] for v in body["variants"]]) == ("320.00", ["PH-WHITE"])


def test_admin_product_archive_shows_on_cached_detail(
    admin_client, api_client, phone, django_assert_num_queries
):
    """The admin archives products (it never deletes them, see test_admin_services.py)."""
    cached_detail(api_client, phone, django_assert_num_queries)

    response = admin_client.post(f"/admin/catalog/product/{phone.pk}/archive/", {"post": "yes"})
    assert response.status_code == 302

    assert api_client.get(f"/api/v1/products/{phone.pk}").status_code == 404
    assert api_client.get("/api/v1/products").json()["count"] == 0


def test_a_refused_admin_edit_leaves_the_cached_detail_as_it_was(
    admin_client, api_client, phone, django_assert_num_queries
):
    cached_detail(api_client, phone, django_assert_num_queries)

    response = admin_client.post(
        change_url(phone), product_form(phone, name="Renamed", attributes={"model": "X"})
    )
    assert response.status_code == 200

    with django_assert_num_queries(0):
        assert api_client.get(f"/api/v1/products/{phone.pk}").json()["name"] == "Phone"


# --- access --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "customer", "seller"])
def test_only_staff_reach_the_catalog_admin(client, phone, who):
    if who == "customer":
        client.force_login(UserFactory())
    elif who == "seller":
        client.force_login(phone.shop.owner)
    before = snapshot(phone)
    variant = phone.variants.get(sku="PH-BLACK")

    pages = [change_url(phone), variant_url(variant), "/admin/catalog/product/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/")
    posted = client.post(change_url(phone), product_form(phone, name="Hijacked"))
    assert posted.status_code == 302
    assert posted.url.startswith("/admin/login/")
    posted = client.post(variant_url(variant), variant_form(variant, price="0.01"))
    assert posted.status_code == 302

    assert snapshot(phone) == before


def test_staff_without_catalog_permissions_are_refused(client, phone):
    client.force_login(UserFactory(is_staff=True))
    before = snapshot(phone)

    assert client.get(change_url(phone)).status_code == 403
    assert client.post(change_url(phone), product_form(phone, name="Hijacked")).status_code == 403

    assert snapshot(phone) == before
