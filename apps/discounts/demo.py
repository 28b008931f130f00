"""Demo discount codes for `manage.py seed_demo`: a couple of public codes per demo shop.

Idempotent: a code that already exists in its shop is left as it is. Codes go through
`discount_create`, so public ones emit `shop.new_discount` like any other.
"""

from decimal import Decimal
from typing import Any

from apps.discounts.models import Discount
from apps.discounts.services import discount_create
from apps.shops.models import Shop

DEMO_SHOP_SLUGS = ("northwind-electronics", "contoso-outfitters")

CODES: list[dict[str, Any]] = [
    {
        "code": "WELCOME10",
        "name": "Welcome: 10% off",
        "description": "10% off your first order, up to 50.00.",
        "type": Discount.Type.PERCENTAGE,
        "value": Decimal("10"),
        "max_discount_amount": Decimal("50.00"),
        "max_uses_per_user": 1,
        "is_public": True,
        "combinable": True,
    },
    {
        "code": "SAVE15",
        "name": "15.00 off orders over 100.00",
        "description": "Take 15.00 off when you spend 100.00 or more.",
        "type": Discount.Type.FIXED_AMOUNT,
        "value": Decimal("15.00"),
        "min_order_value": Decimal("100.00"),
        "max_uses": 500,
        "is_public": True,
        "combinable": True,
    },
]


def seed(stdout: Any) -> None:
    shops = list(Shop.objects.filter(slug__in=DEMO_SHOP_SLUGS).order_by("slug"))
    if not shops:
        stdout.write("discounts: no demo shops yet (run the accounts demo first); skipped")
        return
    created = 0
    for shop in shops:
        for spec in CODES:
            if Discount.objects.filter(shop=shop, code__iexact=spec["code"]).exists():
                continue
            discount_create(shop=shop, **spec)
            created += 1
    stdout.write(f"discounts: {created} demo code(s) created in {len(shops)} shop(s)")
