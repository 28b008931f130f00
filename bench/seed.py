"""Seed the benchmark database: N published products x 3 variants with stock, across the four
product types and a few shops, plus their search vectors.

Run by bench/run.py as `python -m bench.seed --products N` with DJANGO_SETTINGS_MODULE set to
config.settings.bench. Uses the catalog's `apps.catalog.demo.seed_bulk` when that exists;
otherwise bulk inserts (the ledger gets one `restock` movement per stock row, as stock_adjust
would have written). Idempotent: does nothing when the database already holds N products.
"""

import argparse
import os
import random
import sys
from decimal import Decimal

SHOPS = 5
WORDS = {
    "electronics": (
        ("Aurora", "Nimbus", "Vertex", "Quantum", "Helix", "Orbit", "Pulse", "Zenith"),
        (
            "Wireless Headphones",
            "Smartphone",
            "Laptop",
            "Bluetooth Speaker",
            "Smartwatch",
            "Tablet",
            "Camera",
            "Monitor",
        ),
    ),
    "clothing": (
        ("Linen", "Merino", "Denim", "Organic Cotton", "Silk", "Flannel", "Cashmere", "Twill"),
        ("Shirt", "Sweater", "Jacket", "Trousers", "Dress", "Hoodie", "Scarf", "Coat"),
    ),
    "furniture": (
        ("Oak", "Walnut", "Birch", "Teak", "Rattan", "Velvet", "Leather", "Pine"),
        ("Dining Table", "Armchair", "Bookshelf", "Sofa", "Desk", "Bed Frame", "Stool", "Cabinet"),
    ),
    "motorbike": (
        ("Street", "Trail", "Cafe Racer", "Touring", "Scrambler", "Sport", "Cruiser", "Enduro"),
        ("Roadster", "Classic", "Adventure", "Bobber", "Naked", "Tracker", "Custom", "Rally"),
    ),
}
BRANDS = ("Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell")
COLORS = ("black", "white", "red", "blue", "green", "grey")
SEARCH_TERMS = (
    "wireless",
    "linen shirt",
    "oak table",
    "leather",
    "cafe racer",
    "merino",
    "smartwatch",
    "walnut desk",
    "silk dress",
    "touring",
)


def _attributes(kind: str, rng: random.Random) -> dict:
    brand = rng.choice(BRANDS)
    color = rng.choice(COLORS)
    if kind == "electronics":
        return {"manufacturer": brand, "color": color, "warranty_months": rng.choice((12, 24))}
    if kind == "clothing":
        return {"brand": brand, "material": "cotton", "color": color}
    if kind == "furniture":
        return {"brand": brand, "material": "wood", "dimensions": "120 x 60 x 75", "color": color}
    return {"manufacturer": brand, "engine_cc": rng.choice((125, 390, 900)), "year": 2023}


def _options(kind: str, index: int) -> dict:
    if kind == "clothing":
        return {"size": ("S", "M", "L")[index], "color": "black"}
    if kind == "electronics":
        return {"storage": ("128 GB", "256 GB", "512 GB")[index]}
    return {"color": COLORS[index]}


def seed(n_products: int) -> int:
    from django.db import transaction
    from django.utils import timezone
    from django.utils.text import slugify

    from apps.catalog.models import Product, ProductVariant
    from apps.inventory.models import StockItem, StockMovement
    from apps.users.models import Shop, User

    existing = Product.objects.filter(status=Product.Status.PUBLISHED).count()
    if existing >= n_products:
        return existing

    shops = []
    for index in range(SHOPS):
        owner, _ = User.objects.get_or_create(
            email=f"bench-seller-{index}@example.com", defaults={"name": f"Seller {index}"}
        )
        shop, _ = Shop.objects.get_or_create(
            owner=owner, defaults={"name": f"Bench Shop {index}", "slug": f"bench-shop-{index}"}
        )
        shops.append(shop)

    try:
        from apps.catalog.demo import seed_bulk  # the catalog's own bulk seeder, once it exists
    except ImportError:
        seed_bulk = None
    if seed_bulk is not None:
        per_shop = -(-(n_products - existing) // SHOPS)
        for shop in shops:
            seed_bulk(per_shop, shop)
        return Product.objects.filter(status=Product.Status.PUBLISHED).count()

    rng = random.Random(1234)
    now = timezone.now()
    kinds = list(WORDS)
    with transaction.atomic():
        products, variants, stock, movements = [], [], [], []
        for number in range(existing, n_products):
            kind = kinds[number % len(kinds)]
            adjectives, nouns = WORDS[kind]
            name = f"{rng.choice(adjectives)} {rng.choice(nouns)} {number:05d}"
            price = Decimal(rng.randrange(500, 250_000)) / 100
            product = Product(
                shop=shops[number % SHOPS],
                type=kind,
                name=name,
                slug=slugify(name),
                description=(
                    f"A {name.lower()} by {rng.choice(BRANDS)}: sturdy, well made and "
                    f"shipped fast. Goes well with a {rng.choice(nouns).lower()}."
                ),
                attributes=_attributes(kind, rng),
                status=Product.Status.PUBLISHED,
                price=price,
                published_at=now,
                rating_avg=Decimal(rng.randrange(0, 500)) / 100,
                rating_count=rng.randrange(0, 200),
            )
            products.append(product)
            for index in range(3):
                variant = ProductVariant(
                    product=product,
                    sku=f"BENCH-{number:05d}-{index}",
                    options=_options(kind, index),
                    price=price + index,
                    position=index,
                )
                variants.append(variant)
                on_hand = rng.randrange(0, 60)
                item = StockItem(variant=variant, on_hand=on_hand)
                stock.append(item)
                if on_hand:
                    movements.append(
                        StockMovement(
                            stock_item=item,
                            kind=StockMovement.Kind.RESTOCK,
                            quantity=on_hand,
                            on_hand_after=on_hand,
                            reserved_after=0,
                            note="bench seed",
                        )
                    )
        Product.objects.bulk_create(products, batch_size=1000)
        ProductVariant.objects.bulk_create(variants, batch_size=1000)
        StockItem.objects.bulk_create(stock, batch_size=1000)
        StockMovement.objects.bulk_create(movements, batch_size=1000)
        try:
            from apps.catalog.search import search_vector_expression
        except ImportError:
            pass
        else:
            Product.objects.filter(search_vector=None).update(
                search_vector=search_vector_expression()
            )
        for shop in shops:
            shop.product_count = Product.objects.filter(shop=shop).count()
            shop.save(update_fields=["product_count"])
    return Product.objects.filter(status=Product.Status.PUBLISHED).count()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=3000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    import django

    django.setup()
    count = seed(args.products)
    sys.stdout.write(f"{count} published products\n")


if __name__ == "__main__":
    main()
