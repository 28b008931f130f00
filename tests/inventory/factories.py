"""Catalog rows for inventory tests (made directly with the catalog models) and stock rows."""

from decimal import Decimal

import factory

from apps.catalog.models import Product, ProductVariant
from apps.inventory.models import StockItem
from tests.users.factories import ShopFactory


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    shop = factory.SubFactory(ShopFactory)
    type = "electronics"
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    attributes = factory.LazyFunction(lambda: {"manufacturer": "Acme"})
    status = Product.Status.PUBLISHED
    price = Decimal("10.00")


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductVariant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    price = Decimal("10.00")


class StockItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockItem

    variant = factory.SubFactory(VariantFactory)
    on_hand = 10
    reserved = 0
    low_stock_threshold = 5
