"""Seed the benchmark database: N published products x 3 variants with stock, spread over a few
shops, with the bulk seeder (`apps.inventory.demo.seed_bulk`: bulk INSERTs, a `restock`
movement per stock row, search vectors).

Run by bench/run.py as `python -m bench.seed --products N` with DJANGO_SETTINGS_MODULE set to
config.settings.bench. Idempotent: a rerun only tops up what is missing.
"""

import argparse
import os
import sys

SHOPS = 5
# Nouns the bulk seeder puts in product names (one per product): every term has hits.
SEARCH_TERMS = (
    "laptop",
    "jacket",
    "dress",
    "desk",
    "cruiser",
    "shirt",
    "camera",
    "tablet",
    "hoodie",
    "scarf",
)


def seed(n_products: int) -> int:
    from apps.catalog.models import Product
    from apps.inventory.demo import seed_bulk
    from apps.shops.models import Shop
    from apps.users.models import User

    per_shop = -(-n_products // SHOPS)
    for index in range(SHOPS):
        owner, _ = User.objects.get_or_create(
            email=f"bench-seller-{index}@example.com", defaults={"name": f"Seller {index}"}
        )
        shop, _ = Shop.objects.get_or_create(
            owner=owner, defaults={"name": f"Bench Shop {index}", "slug": f"bench-shop-{index}"}
        )
        seed_bulk(per_shop, shop)
        Shop.objects.filter(pk=shop.pk).update(
            product_count=Product.objects.filter(shop=shop).count()
        )
    return Product.objects.filter(status=Product.Status.PUBLISHED).count()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=3000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    import django

    django.setup()
    sys.stdout.write(f"{seed(args.products)} published products\n")


if __name__ == "__main__":
    main()
