"""Commerce test data written straight through the ORM (independent of the catalog services)."""

from decimal import Decimal
from typing import Any

import factory

from apps.catalog.models import Category, Product, ProductVariant
from apps.inventory.models import StockItem
from tests.users.factories import ShopFactory


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    shop = factory.SubFactory(ShopFactory)
    type = "electronics"
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    status = Product.Status.PUBLISHED
    price = Decimal("10.00")


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductVariant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    options = factory.LazyFunction(dict)
    price = Decimal("10.00")


def stocked_variant(
    *, price: str = "10.00", on_hand: int = 50, reserved: int = 0, **product_fields: Any
) -> ProductVariant:
    """A purchasable variant of a new published product, with stock."""
    product = ProductFactory(price=Decimal(price), **product_fields)
    variant = VariantFactory(product=product, price=Decimal(price))
    StockItem.objects.create(variant=variant, on_hand=on_hand, reserved=reserved)
    return variant


def category(name: str, parent: Category | None = None, **fields: Any) -> Category:
    slug = fields.pop("slug", name.lower().replace(" ", "-"))
    if parent is None:
        return Category.objects.add_root({"name": name, "slug": slug, **fields})
    return Category.objects.add_child(parent, {"name": name, "slug": slug, **fields})
