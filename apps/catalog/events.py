"""Versioned payloads of the events the catalog emits (topic `catalog`, key = product id)."""

from typing import Any

from apps.catalog.models import Product
from apps.core.money import money_str

PRODUCT_PUBLISHED = "product.published"
PRODUCT_UNPUBLISHED = "product.unpublished"


def product_payload(product: Product) -> dict[str, Any]:
    """Version 1: {product_id, shop_id, name, slug, price}."""
    return {
        "product_id": str(product.pk),
        "shop_id": str(product.shop_id),
        "name": product.name,
        "slug": product.slug,
        "price": money_str(product.price),
    }
