"""Regressions found by the schemathesis fuzz (tests/flows/test_api_fuzz.py): out-of-range input is
a 400 problem with a pointer, never a database error (500)."""

import pytest

from apps.catalog.models import ProductVariant
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("payload", [{"position": 6759157873660}, {"position": 2**31}])
def test_variant_position_beyond_the_column_is_400(shop, seller_client, payload):
    product = make_product(shop, stock=1)
    variant = product.variants.get()

    response = seller_client.patch(
        f"/api/v1/products/{product.pk}/variants/{variant.pk}", payload, format="json"
    )

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert [(e["pointer"], e["code"]) for e in response.json()["errors"]] == [
        ("/position", "max_value")
    ]
    assert ProductVariant.objects.get(pk=variant.pk).position == 0


def test_variant_position_in_range_is_kept(shop, seller_client):
    product = make_product(shop, stock=1)
    variant = product.variants.get()

    response = seller_client.patch(
        f"/api/v1/products/{product.pk}/variants/{variant.pk}", {"position": 7}, format="json"
    )

    assert response.status_code == 200, response.content
    assert ProductVariant.objects.get(pk=variant.pk).position == 7
