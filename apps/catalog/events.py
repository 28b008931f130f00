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


def product_published_payload(product: Product, *, first_publish: bool) -> dict[str, Any]:
    """Version 1: product_payload plus `first_publish`, true only when the product goes live for
    the first time. Followers are told about a shop's new products, and a product published
    again after an unpublish is not new (the event itself still says it is back on sale)."""
    return {**product_payload(product), "first_publish": first_publish}
