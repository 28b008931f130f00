"""Demo stock history for `manage.py seed_demo` (runs after the catalog demo, whose products get
their initial stock through `stock_adjust`). Adds what a seller's inventory screen should show:
a damaged batch that takes one variant down to its low-stock threshold (so `stock.low` fires and
the seller is notified) and a stock-count correction on another. Idempotent."""

from typing import TextIO

from django.db import transaction
from django.db.models import F

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
