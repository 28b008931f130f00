"""Catalog test data, the one source for every test directory.

- `make_product` goes through the services, so the product carries exactly what the API would
  have written (search vector, derived price, initial stock movement).
- `ProductFactory` / `VariantFactory` write rows straight through the ORM (fast, independent of
  the catalog services) for tests of other apps; `tests.inventory.factories` adds stock.
"""

from decimal import Decimal
from typing import Any

import factory

from apps.catalog.models import Category, Product, ProductVariant
from apps.catalog.services import product_create, product_publish
from tests.shops.factories import ShopFactory

VALID_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "electronics": {"manufacturer": "Acme", "model": "X1", "color": "black", "warranty_months": 24},
    "clothing": {"brand": "Loom", "size": "M", "material": "cotton", "color": "navy"},
    "furniture": {
        "brand": "Oakly",
        "material": "oak",
        "dimensions": "120x60x75 cm",
        "color": "natural",
    },
    "motorbike": {
        "manufacturer": "Moto",
        "model": "R6",
        "engine_cc": 600,
        "year": 2022,
        "color": "red",
    },
}


def category(name: str, parent: Category | None = None, **fields: Any) -> Category:
    slug = fields.pop("slug", name.lower().replace(" ", "-"))
    data = {"name": name, "slug": slug, **fields}
    if parent is None:
        return Category.objects.add_root(data)
    return Category.objects.add_child(parent, data)


def make_product(
    shop: Any,
    *,
    type: str = "electronics",
    name: str = "Widget",
    description: str = "",
    price: str | Decimal = "10.00",
    attributes: dict[str, Any] | None = None,
    variants: list[dict[str, Any]] | None = None,
    stock: int | None = None,
    category: Any = None,
    publish: bool = True,
) -> Product:
    product = product_create(
        actor=shop.owner,
        shop=shop,
        type=type,
        name=name,
        description=description,
        price=Decimal(price) if variants is None else None,
        attributes=attributes if attributes is not None else dict(VALID_ATTRIBUTES[type]),
        variants=variants,
        stock=stock,
        category=category.pk if category is not None else None,
    )
    if publish:
        product = product_publish(actor=shop.owner, product=product)
    return product


class ProductFactory(factory.django.DjangoModelFactory):
    """A published product row (no variants unless made with VariantFactory)."""

    class Meta:
        model = Product

    shop = factory.SubFactory(ShopFactory)
    type = "electronics"
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    attributes = factory.LazyFunction(lambda: dict(VALID_ATTRIBUTES["electronics"]))
    status = Product.Status.PUBLISHED
    price = Decimal("10.00")


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductVariant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    options = factory.LazyFunction(dict)
    price = Decimal("10.00")
