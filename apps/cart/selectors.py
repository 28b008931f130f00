"""Cart reads: the cart grouped by shop at current prices, in two queries whatever its size."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from apps.cart.models import Cart, CartItem
from apps.cart.services import variant_available
from apps.catalog.models import Product
from apps.core.money import ZERO, quantize
from apps.shops.models import Shop


def cart_items(*, cart: Cart) -> list[CartItem]:
    return list(
        CartItem.objects.filter(cart=cart)
        .select_related("variant__product__shop", "variant__stock")
        .order_by("created_at", "id")
    )


def cart_summary_empty() -> dict[str, Any]:
    """A guest's cart before its first line: nothing stored yet, so no id and no token."""
    return {
        "id": None,
        "currency": settings.STORE_CURRENCY,
        "shops": [],
        "item_count": 0,
        "subtotal": quantize(ZERO),
    }


def cart_summary(*, cart: Cart, include_token: bool = False) -> dict[str, Any]:
    """The API shape of a cart: lines grouped by shop with current prices.

    A line whose product is no longer for sale has `available: false` and counts in neither
    subtotal; `item_count` counts units on all lines.
    """
    shops: dict[Any, dict[str, Any]] = {}
    item_count = 0
    for item in cart_items(cart=cart):
        variant = item.variant
        product = variant.product
        shop = product.shop
        for_sale = (
            variant.is_active
            and product.status == Product.Status.PUBLISHED
            and shop.status == Shop.Status.ACTIVE
        )
        stock = variant_available(variant) if for_sale else 0
        unit_price = quantize(variant.price)
        line_total = quantize(unit_price * item.quantity)
        group = shops.setdefault(
            shop.pk,
            {
                "shop": {"id": shop.pk, "slug": shop.slug, "name": shop.name},
                "items": [],
                "subtotal": ZERO,
            },
        )
        group["items"].append(
            {
                "id": item.pk,
                "variant_id": variant.pk,
                "sku": variant.sku,
                "product": {"id": product.pk, "name": product.name, "slug": product.slug},
                "options": variant.options,
                "unit_price": unit_price,
                "quantity": item.quantity,
                "line_total": line_total,
                "available": for_sale,
                "available_quantity": stock,
            }
        )
        if for_sale:
            group["subtotal"] += line_total
        item_count += item.quantity
    groups = sorted(shops.values(), key=lambda g: (g["shop"]["name"], str(g["shop"]["id"])))
    subtotal: Decimal = sum((g["subtotal"] for g in groups), ZERO)
    summary: dict[str, Any] = {
        "id": cart.pk,
        "currency": settings.STORE_CURRENCY,
        "shops": groups,
        "item_count": item_count,
        "subtotal": quantize(subtotal),
    }
    if include_token:
        summary["token"] = cart.token
    return summary
