"""Product and category slugs never read as ids, and paths still find the ones from before.

Product paths and the `category`/`shop` filters take a text that parses as a UUID for an id
(apps.core.slugs): a slug made from a name like `0123456789abcdef0123456789abcdef` gets `-2`,
the models refuse such slugs (the admin), and a slug of that shape made before is still found
when no product the caller may see has that id.
"""

import pytest
from django.core.exceptions import ValidationError

from apps.catalog.models import Category, Product
from tests.catalog.factories import VALID_ATTRIBUTES, category, make_product
from tests.conftest import auth_client

pytestmark = pytest.mark.django_db

UUID_HEX = "0123456789abcdef0123456789abcdef"


def test_a_product_named_like_an_id_gets_a_slug_that_is_not_one(api_client, seller_client):
    response = seller_client.post(
        "/api/v1/products",
        {
            "type": "electronics",
            "name": UUID_HEX,
            "price": "10.00",
            "attributes": VALID_ATTRIBUTES["electronics"],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == f"{UUID_HEX}-2"
    assert seller_client.post(f"/api/v1/products/{body['id']}/publish").status_code == 200
    detail = api_client.get(f"/api/v1/products/{UUID_HEX}-2")
    assert detail.status_code == 200
    assert detail.json()["id"] == body["id"]


def test_product_numbering_skips_a_slug_that_would_read_as_an_id(shop):
    base = UUID_HEX[:-1]
    make_product(shop, name=base)
    assert make_product(shop, name=base).slug == f"{base}-10"


def test_a_product_slug_from_before_that_looks_like_an_id_is_found(api_client, shop):
    product = make_product(shop, name="Lamp")
    Product.objects.filter(pk=product.pk).update(slug=UUID_HEX)

    response = api_client.get(f"/api/v1/products/{UUID_HEX}")

    assert response.status_code == 200
    assert response.json()["id"] == str(product.pk)
    assert response.json()["slug"] == UUID_HEX
    # its seller can write to it by that slug too
    seller = auth_client(shop.owner)
    patched = seller.patch(f"/api/v1/products/{UUID_HEX}", {"name": "Desk lamp"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["id"] == str(product.pk)


def test_a_draft_with_an_id_looking_slug_stays_hidden(api_client, shop):
    draft = make_product(shop, name="Lamp", publish=False)
    Product.objects.filter(pk=draft.pk).update(slug=UUID_HEX)

    response = api_client.get(f"/api/v1/products/{UUID_HEX}")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "catalog.product_not_found"
    assert auth_client(shop.owner).get(f"/api/v1/products/{UUID_HEX}").status_code == 200


def test_a_product_id_wins_over_a_slug_that_looks_like_it(api_client, shop, other_shop):
    owner = make_product(shop, name="Owner")
    lookalike = make_product(other_shop, name="Lookalike")
    Product.objects.filter(pk=lookalike.pk).update(slug=owner.pk.hex)

    for ident in (owner.pk.hex, str(owner.pk)):
        response = api_client.get(f"/api/v1/products/{ident}")
        assert response.status_code == 200
        assert response.json()["id"] == str(owner.pk)


def test_a_category_slug_from_before_that_looks_like_an_id_filters_products(api_client, shop):
    legacy = category("Lamps", slug=UUID_HEX)
    filed = make_product(shop, name="Lamp", category=legacy)
    make_product(shop, name="Chair")

    response = api_client.get("/api/v1/products", {"category": UUID_HEX})

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [str(filed.pk)]


def test_a_product_may_be_filed_under_a_category_by_an_id_looking_slug(seller_client):
    legacy = category("Lamps", slug=UUID_HEX)
    response = seller_client.post(
        "/api/v1/products",
        {
            "type": "electronics",
            "name": "Lamp",
            "price": "10.00",
            "category": UUID_HEX,
            "attributes": VALID_ATTRIBUTES["electronics"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Product.objects.get(pk=response.json()["id"]).category == legacy


@pytest.mark.parametrize("model", [Category, Product])
def test_the_models_refuse_an_id_looking_slug(model):
    with pytest.raises(ValidationError) as caught:
        model._meta.get_field("slug").clean(UUID_HEX, None)
    assert [error.code for error in caught.value.error_list] == ["slug_is_uuid"]
    model._meta.get_field("slug").clean(f"{UUID_HEX}-2", None)
