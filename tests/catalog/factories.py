"""Catalog test data. Products that must be searchable or stocked are made through the services
(`make_product`), so they carry exactly what the API would have written."""

from decimal import Decimal
from typing import Any

from apps.catalog.models import Category, Product
from apps.catalog.services import product_create, product_publish

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
