"""Regression (found by the cross-app seller flow): a shop's public `product_count` follows its
published products through publish, unpublish, archive and the bulk seed."""

import pytest

from apps.inventory.demo import seed_bulk
from apps.shops.models import Shop
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


def _count(shop) -> int:
    return Shop.objects.get(pk=shop.pk).product_count


def test_product_count_follows_publish_unpublish_and_archive(shop, seller_client, api_client):
    draft = make_product(shop, name="Draft", publish=False)
    live = make_product(shop, name="Live")
    assert _count(shop) == 1
    assert api_client.get(f"/api/v1/shops/{shop.slug}").json()["product_count"] == 1

    assert seller_client.post(f"/api/v1/products/{draft.pk}/publish").status_code == 200
    assert seller_client.post(f"/api/v1/products/{draft.pk}/publish").status_code == 200  # no-op
    assert _count(shop) == 2

    assert seller_client.post(f"/api/v1/products/{live.pk}/unpublish").status_code == 200
    assert seller_client.post(f"/api/v1/products/{live.pk}/unpublish").status_code == 200  # no-op
    assert _count(shop) == 1

    assert seller_client.delete(f"/api/v1/products/{live.pk}").status_code == 204  # a draft
    assert _count(shop) == 1
    assert seller_client.delete(f"/api/v1/products/{draft.pk}").status_code == 204  # published
    assert seller_client.delete(f"/api/v1/products/{draft.pk}").status_code == 204  # idempotent
    assert _count(shop) == 0
    assert api_client.get(f"/api/v1/shops/{shop.slug}").json()["product_count"] == 0


def test_other_shops_are_untouched(shop, other_shop):
    make_product(shop, name="Mine")
    assert (_count(shop), _count(other_shop)) == (1, 0)


def test_bulk_seed_counts_its_products(shop):
    make_product(shop, name="Hand made")
    assert seed_bulk(5, shop) == 5
    assert seed_bulk(5, shop) == 0  # nothing new, nothing counted twice
    assert _count(shop) == 6
