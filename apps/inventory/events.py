"""Versioned payloads of the events inventory emits (topic `inventory`, key = variant id)."""

from typing import Any

from apps.inventory.models import StockItem

STOCK_ADJUSTED = "stock.adjusted"
STOCK_LOW = "stock.low"


def _base(item: StockItem) -> dict[str, Any]:
    """`item` must come with variant__product__shop selected."""
    variant = item.variant
    product = variant.product
    return {
        "variant_id": str(variant.pk),
        "sku": variant.sku,
        "product_id": str(product.pk),
        "product_name": product.name,
        "shop_id": str(product.shop_id),
        "on_hand": item.on_hand,
        "reserved": item.reserved,
        "available": item.available,
    }


def stock_adjusted_payload(item: StockItem, *, delta: int, reason: str) -> dict[str, Any]:
    return {**_base(item), "delta": delta, "reason": reason}


def stock_low_payload(item: StockItem) -> dict[str, Any]:
    return {
        **_base(item),
        "seller_id": str(item.variant.product.shop.owner_id),
        "threshold": item.low_stock_threshold,
    }
