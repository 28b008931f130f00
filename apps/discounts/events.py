"""Versioned payloads of the events this app emits."""

from typing import Any

from apps.core.money import quantize
from apps.discounts.models import Discount

SHOP_NEW_DISCOUNT = "shop.new_discount"


def shop_new_discount(discount: Discount) -> dict[str, Any]:
    """`shop.new_discount` v1: a code became public and active for the first time, when
    created or by an update (followers are notified)."""
    return {
        "discount_id": str(discount.pk),
        "shop_id": str(discount.shop_id),
        "code": discount.code,
        "name": discount.name,
        "description": discount.description,
        "type": discount.type,
        "value": str(quantize(discount.value)),
        "ends_at": discount.ends_at.isoformat() if discount.ends_at else None,
    }
