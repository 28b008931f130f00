"""Stock rows for tests; products and variants come from the catalog's factories."""

from decimal import Decimal
from typing import Any

import factory

from apps.catalog.models import ProductVariant
from apps.inventory.models import StockItem
from tests.catalog.factories import ProductFactory, VariantFactory

__all__ = ["ProductFactory", "StockItemFactory", "VariantFactory", "stocked_variant"]


class StockItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockItem

    variant = factory.SubFactory(VariantFactory)
    on_hand = 10
    reserved = 0
    low_stock_threshold = 5


def stocked_variant(
    *, price: str = "10.00", on_hand: int = 50, reserved: int = 0, **product_fields: Any
) -> ProductVariant:
    """A purchasable variant of a new published product, with stock."""
    product = ProductFactory(price=Decimal(price), **product_fields)
    variant = VariantFactory(product=product, price=Decimal(price))
    StockItemFactory(variant=variant, on_hand=on_hand, reserved=reserved)
    return variant
