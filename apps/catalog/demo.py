"""Demo catalog for `manage.py seed_demo` and bulk data for the benchmark.

`seed(stdout)` is idempotent: categories are found by slug and products by (shop, slug), so a
second run creates nothing. Products go through the services (validation, default variants,
initial stock through the inventory ledger, `product.published` events).

`seed_bulk_catalog(n_products, shop)` writes n products x 3 variants in a handful of bulk INSERTs
(no per-row services, no events): benchmark data, not demo data; `apps.inventory.demo.seed_bulk`
adds their stock."""

import random
import uuid
from decimal import Decimal
from typing import Any, TextIO

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from apps.catalog.models import Category, Product, ProductVariant
from apps.catalog.product_types import REGISTRY
from apps.catalog.search import search_vector_refresh
from apps.catalog.services import product_create, product_publish

# Demo variants have stable ids, so that the API's documented examples (which add them to carts
# and orders) work on every fresh demo database.
DEMO_ID_NAMESPACE = uuid.UUID("6f1f4b0e-2d0c-4c59-9c43-5b7a3e0f6d21")


def demo_variant_id(product_slug: str, position: int) -> uuid.UUID:
    return uuid.uuid5(DEMO_ID_NAMESPACE, f"variant:{product_slug}:{position}")


# The examples' product: a cheap, well-stocked speaker of the first demo shop.
EXAMPLE_PRODUCT_SLUG = "pocket-bluetooth-speaker"
EXAMPLE_VARIANT_ID = demo_variant_id(EXAMPLE_PRODUCT_SLUG, 0)

CATEGORIES: dict[str, list[Any]] = {
    "Electronics": ["Phones", "Laptops", "Audio"],
    "Clothing": ["Shirts", "Jackets", "Dresses"],
    "Home": [{"Furniture": ["Chairs", "Tables", "Sofas"]}],
    "Motorbikes": ["Sport bikes", "Touring bikes"],
}


def _v(options: dict[str, str], price: str, stock: int) -> dict[str, Any]:
    return {"options": options, "price": Decimal(price), "stock": stock}


# (shop index, type, name, description, category slug, attributes, variants, publish)
PRODUCTS: list[tuple[int, str, str, str, str, dict[str, Any], list[dict[str, Any]], bool]] = [
    (
        0,
        "electronics",
        "Pixel Phone 8",
        "A 6.2-inch phone with a great camera and all-day battery.",
        "phones",
        {"manufacturer": "Google", "model": "Pixel 8", "warranty_months": 24},
        [
            _v({"color": "obsidian", "storage": "128 GB"}, "699.00", 12),
            _v({"color": "obsidian", "storage": "256 GB"}, "759.00", 6),
            _v({"color": "hazel", "storage": "128 GB"}, "699.00", 4),
        ],
        True,
    ),
    (
        0,
        "electronics",
        "Galaxy Phone S24",
        "Bright AMOLED display, fast charging, three cameras.",
        "phones",
        {"manufacturer": "Samsung", "model": "S24", "color": "onyx black", "warranty_months": 24},
        [_v({"storage": "128 GB"}, "799.00", 8), _v({"storage": "512 GB"}, "919.00", 3)],
        True,
    ),
    (
        0,
        "electronics",
        "ThinkBook 14 Laptop",
        "14-inch business laptop with a comfortable keyboard.",
        "laptops",
        {"manufacturer": "Lenovo", "model": "ThinkBook 14 G6", "warranty_months": 36},
        [_v({"storage": "512 GB"}, "899.00", 5), _v({"storage": "1 TB"}, "999.00", 2)],
        True,
    ),
    (
        0,
        "electronics",
        "Studio Wireless Headphones",
        "Noise-cancelling over-ear headphones.",
        "audio",
        {"manufacturer": "Beats", "model": "Studio Pro", "color": "black"},
        [_v({"color": "black"}, "349.99", 15), _v({"color": "sandstone"}, "349.99", 7)],
        True,
    ),
    (
        0,
        "electronics",
        "Pocket Bluetooth Speaker",
        "Waterproof speaker with 12 hours of play.",
        "audio",
        {"manufacturer": "JBL", "model": "Go 4", "warranty_months": 12},
        [_v({}, "49.95", 40)],
        True,
    ),
    (
        0,
        "electronics",
        "Smart Watch Prototype",
        "Not ready yet: a draft for the demo.",
        "electronics",
        {"manufacturer": "Northwind"},
        [_v({}, "199.00", 0)],
        False,
    ),
    (
        1,
        "clothing",
        "Oxford Cotton Shirt",
        "Classic button-down oxford in soft cotton.",
        "shirts",
        {"brand": "Contoso", "material": "cotton"},
        [
            _v({"size": s, "color": c}, "49.00", 6)
            for s in ("S", "M", "L")
            for c in ("white", "blue")
        ],
        True,
    ),
    (
        1,
        "clothing",
        "Waxed Field Jacket",
        "Water-resistant waxed cotton jacket with a cord collar.",
        "jackets",
        {"brand": "Contoso", "material": "waxed cotton", "color": "olive"},
        [_v({"size": s}, "189.00", 3) for s in ("M", "L", "XL")],
        True,
    ),
    (
        1,
        "clothing",
        "Linen Summer Dress",
        "Light linen midi dress.",
        "dresses",
        {"brand": "Fabrikam", "material": "linen"},
        [_v({"size": s, "color": "sand"}, "89.00", 4) for s in ("XS", "S", "M")],
        True,
    ),
    (
        1,
        "furniture",
        "Oak Dining Chair",
        "Solid oak chair with a woven seat.",
        "chairs",
        {"brand": "Fabrikam Home", "material": "oak", "dimensions": "45 x 52 x 82 cm"},
        [_v({"color": "natural"}, "129.00", 20), _v({"color": "black"}, "139.00", 10)],
        True,
    ),
    (
        1,
        "furniture",
        "Walnut Dining Table",
        "Extendable walnut table for six to eight.",
        "tables",
        {
            "brand": "Fabrikam Home",
            "material": "walnut",
            "dimensions": "180 x 90 x 75 cm",
            "color": "walnut",
        },
        [_v({}, "1190.00", 2)],
        True,
    ),
    (
        1,
        "furniture",
        "Three-Seat Leather Sofa",
        "Deep three-seat sofa in full-grain leather.",
        "sofas",
        {"brand": "Fabrikam Home", "material": "leather", "dimensions": "220 x 95 x 80 cm"},
        [_v({"color": "cognac"}, "2490.00", 1), _v({"color": "black"}, "2490.00", 0)],
        True,
    ),
    (
        1,
        "motorbike",
        "Street Triple 765",
        "Naked sport bike with a triple engine.",
        "sport-bikes",
        {
            "manufacturer": "Triumph",
            "model": "Street Triple 765 RS",
            "engine_cc": 765,
            "year": 2024,
        },
        [_v({"color": "silver ice"}, "12995.00", 2), _v({"color": "cosmic yellow"}, "12995.00", 1)],
        True,
    ),
    (
        1,
        "motorbike",
        "Tracer 9 GT",
        "Sport-touring bike with panniers and cruise control.",
        "touring-bikes",
        {
            "manufacturer": "Yamaha",
            "model": "Tracer 9 GT",
            "engine_cc": 890,
            "year": 2023,
            "color": "tech black",
        },
        [_v({}, "15499.00", 1)],
        True,
    ),
    (
        1,
        "clothing",
        "Knitted Beanie",
        "Draft: waiting for photos.",
        "clothing",
        {"brand": "Contoso", "material": "wool"},
        [_v({"size": "one-size"}, "19.00", 30)],
        False,
    ),
]


def _category(name: str, parent: Category | None) -> Category:
    slug = slugify(name)
    existing = Category.objects.filter(slug=slug).first()
    if existing is not None:
        return existing
    data = {"name": name, "slug": slug}
    return (
        Category.objects.add_root(data)
        if parent is None
        else Category.objects.add_child(parent, data)
    )


def _seed_categories(tree: dict[str, list[Any]], parent: Category | None = None) -> int:
    created = 0
    for name, children in tree.items():
        before = Category.objects.count()
        node = _category(name, parent)
        created += Category.objects.count() - before
        for child in children:
            if isinstance(child, dict):
                created += _seed_categories(child, node)
            else:
                before = Category.objects.count()
                _category(child, node)
                created += Category.objects.count() - before
    return created


def _demo_shops() -> list[Any]:
    from apps.shops.models import Shop

    by_email = {
        shop.owner.email: shop
        for shop in Shop.objects.select_related("owner").filter(
            owner__email__in=["seller1@example.com", "seller2@example.com"]
        )
    }
    if len(by_email) == 2:
        return [by_email["seller1@example.com"], by_email["seller2@example.com"]]
    return list(Shop.objects.select_related("owner").order_by("created_at")[:2])


def seed(stdout: TextIO) -> None:
    """Categories and about fifteen products of every type for the two demo shops."""
    from apps.catalog.cache import category_cache_bump

    with transaction.atomic():
        categories = _seed_categories(CATEGORIES)
        if categories:
            category_cache_bump()
    shops = _demo_shops()
    if not shops:
        stdout.write("catalog: no shops to fill, skipped")
        return
    created = 0
    for (
        shop_index,
        type_name,
        name,
        description,
        category,
        attributes,
        variants,
        publish,
    ) in PRODUCTS:
        shop = shops[min(shop_index, len(shops) - 1)]
        if Product.objects.filter(shop=shop, slug=slugify(name)).exists():
            continue
        with transaction.atomic():
            product = product_create(
                actor=shop.owner,
                shop=shop,
                type=type_name,
                name=name,
                description=description,
                category=category,
                attributes=attributes,
                variants=[
                    {**variant, "id": demo_variant_id(slugify(name), position)}
                    for position, variant in enumerate(variants)
                ],
            )
            if publish:
                product_publish(actor=shop.owner, product=product)
        created += 1
    stdout.write(f"catalog: {categories} categories and {created} products created")


BULK_WORDS = (
    "Classic",
    "Compact",
    "Deluxe",
    "Eco",
    "Pro",
    "Smart",
    "Urban",
    "Vintage",
    "Wireless",
    "Heavy",
)
BULK_NOUNS = {
    "electronics": ("Phone", "Laptop", "Speaker", "Camera", "Tablet"),
    "clothing": ("Shirt", "Jacket", "Dress", "Hoodie", "Scarf"),
    "furniture": ("Chair", "Table", "Sofa", "Shelf", "Desk"),
    "motorbike": ("Roadster", "Tourer", "Scrambler", "Cruiser", "Enduro"),
}
BULK_OPTIONS = {
    "electronics": [{"color": "black"}, {"color": "silver"}, {"color": "blue"}],
    "clothing": [{"size": "S"}, {"size": "M"}, {"size": "L"}],
    "furniture": [{"color": "oak"}, {"color": "walnut"}, {"color": "white"}],
    "motorbike": [{"color": "red"}, {"color": "black"}, {"color": "grey"}],
}
BULK_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "electronics": {"manufacturer": "Acme", "warranty_months": 24, "color": "black"},
    "clothing": {"brand": "Loom", "material": "cotton"},
    "furniture": {"brand": "Oakly", "material": "oak"},
    "motorbike": {"manufacturer": "Moto", "engine_cc": 650, "year": 2022},
}


def seed_bulk_catalog(n_products: int, shop: Any, *, seed: int = 7) -> list[ProductVariant]:
    """Create up to `n_products` published products x 3 variants for `shop`, in bulk, and return
    the new variants (their stock is the inventory's part: `apps.inventory.demo.seed_bulk`).
    Products are named `bulk-<n>`; existing ones are skipped, so a rerun tops up."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    existing = set(
        Product.objects.filter(shop=shop, slug__startswith="bulk-").values_list("slug", flat=True)
    )
    leaf_categories = list(Category.objects.filter(numchild=0).values_list("pk", flat=True))
    types = list(REGISTRY)
    now = timezone.now()
    products: list[Product] = []
    prices: list[list[Decimal]] = []
    for index in range(n_products):
        slug = f"bulk-{index}"
        if slug in existing:
            continue
        type_name = types[index % len(types)]
        name = f"{rng.choice(BULK_WORDS)} {rng.choice(BULK_NOUNS[type_name])} {index}"
        base = Decimal(rng.randrange(500, 200000)) / 100
        variant_prices = [base, base + Decimal("10.00"), base + Decimal("25.00")]
        prices.append(variant_prices)
        products.append(
            Product(
                shop=shop,
                type=type_name,
                name=name,
                slug=slug,
                description=f"{name}: a sturdy {type_name} item from the benchmark catalog.",
                category_id=rng.choice(leaf_categories) if leaf_categories else None,
                attributes=dict(BULK_ATTRIBUTES[type_name]),
                status=Product.Status.PUBLISHED,
                price=base,
                published_at=now,
            )
        )
    if not products:
        return []
    with transaction.atomic():
        Product.objects.bulk_create(products, batch_size=500)
        variants = ProductVariant.objects.bulk_create(
            [
                ProductVariant(
                    product=product,
                    sku=f"BULK-{product.pk.hex[:12].upper()}-{position}",
                    options=BULK_OPTIONS[product.type][position],
                    price=variant_prices[position],
                    position=position,
                )
                for product, variant_prices in zip(products, prices, strict=True)
                for position in range(3)
            ],
            batch_size=1000,
        )
        search_vector_refresh([product.pk for product in products])
        type(shop).objects.filter(pk=shop.pk).update(
            product_count=F("product_count") + len(products)
        )
    return variants
