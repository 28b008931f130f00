"""Demo stock history for `manage.py seed_demo` (runs after the catalog demo, whose products get
their initial stock through `stock_adjust`). Adds what a seller's inventory screen should show:
a damaged batch that takes one variant down to its low-stock threshold (so `stock.low` fires and
the seller is notified) and a stock-count correction on another. Idempotent.

`seed_bulk(n_products, shop)` is the benchmark's catalog with stock: the catalog's bulk products
and variants, then one stock row with `stock` on hand and its `restock` movement per variant."""

from typing import Any, TextIO

from django.db import transaction
from django.db.models import F

from apps.catalog.demo import seed_bulk_catalog
from apps.inventory.models import StockItem, StockMovement
from apps.inventory.services import stock_adjust

DEMO_NOTE = "demo: "


@transaction.atomic
def seed(stdout: TextIO) -> None:
    if StockMovement.objects.filter(note__startswith=DEMO_NOTE).exists():
        return
    items = list(
        StockItem.objects.select_related("variant__product__shop")
        .exclude(variant__sku__startswith="BULK-")
        .filter(reserved=0, on_hand__gt=F("low_stock_threshold") + 1)
        .order_by("variant__sku")[:2]
    )
    if not items:
        return
    damaged = items[0]
    owner = damaged.variant.product.shop.owner
    stock_adjust(
        variant_id=damaged.variant_id,
        delta=-(damaged.available - damaged.low_stock_threshold),
        reason="damage",
        note=DEMO_NOTE + "water damage in the stock room",
        actor=owner,
    )
    changed = [damaged.variant.sku]
    if len(items) > 1:
        counted = items[1]
        stock_adjust(
            variant_id=counted.variant_id,
            delta=2,
            reason="correction",
            note=DEMO_NOTE + "found in the yearly count",
            actor=counted.variant.product.shop.owner,
        )
        changed.append(counted.variant.sku)
    stdout.write(f"Inventory: demo adjustments on {', '.join(changed)}")


def seed_bulk(n_products: int, shop: Any, *, stock: int = 50, seed: int = 7) -> int:
    """Up to `n_products` published products x 3 variants for `shop` (named `bulk-<n>`; a rerun
    tops up), each variant with `stock` on hand and a matching restock movement, in bulk INSERTs
    (no per-row services, no events). Returns the number of products created."""
    with transaction.atomic():
        variants = seed_bulk_catalog(n_products, shop, seed=seed)
        items = StockItem.objects.bulk_create(
            [StockItem(variant=variant, on_hand=stock) for variant in variants], batch_size=1000
        )
        StockMovement.objects.bulk_create(
            [
                StockMovement(
                    stock_item=item,
                    kind=StockMovement.Kind.RESTOCK,
                    quantity=stock,
                    on_hand_after=stock,
                    reserved_after=0,
                    note="bulk seed",
                )
                for item in items
            ],
            batch_size=1000,
        )
    return len({variant.product_id for variant in variants})
