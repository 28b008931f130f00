"""Demo data for `make run`: idempotent, safe to run on every start.

Creates the staff user, two sellers with shops and a customer, then lets each app add its own
demo data through an optional `apps.<app>.demo.seed(stdout)` (each of those is idempotent too).
"""

import importlib
import importlib.util
from argparse import ArgumentParser
from decimal import Decimal
from typing import Any

from django.apps import apps as django_apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from apps.shops.models import Shop
from apps.shops.services import unique_shop_slug
from apps.users.models import User

DEMO_PASSWORD = "demo-pass-2024"  # noqa: S105 - printed on purpose: demo accounts only

DEMO_USERS: list[dict[str, Any]] = [
    {"email": "admin@example.com", "name": "Ada Admin", "role": "staff", "staff": True},
    {"email": "seller1@example.com", "name": "Sam Seller", "role": "seller"},
    {"email": "seller2@example.com", "name": "Sally Seller", "role": "seller"},
    {"email": "customer@example.com", "name": "Casey Customer", "role": "customer"},
]

DEMO_SHOPS: dict[str, dict[str, Any]] = {
    "seller1@example.com": {
        "name": "Northwind Electronics",
        "slug": "northwind-electronics",
        "description": "Phones, laptops and gadgets, shipped in two days.",
        "shipping_fee": Decimal("4.99"),
        "free_shipping_threshold": Decimal("100.00"),
    },
    "seller2@example.com": {
        "name": "Contoso Outfitters",
        "slug": "contoso-outfitters",
        "description": "Clothing, furniture and motorbike gear.",
        "shipping_fee": Decimal("6.50"),
        "free_shipping_threshold": Decimal("150.00"),
    },
}


def demo_modules() -> list[str]:
    """Each installed app's `demo` module, in INSTALLED_APPS order, which is the dependency
    order the demo data needs (products before stock, stock before orders, orders before
    reviews). Found through the app registry: this lower app names none of the apps above it."""
    return [
        f"{config.name}.demo"
        for config in django_apps.get_app_configs()
        if config.name.startswith("apps.") and importlib.util.find_spec(f"{config.name}.demo")
    ]


@transaction.atomic
def seed_accounts() -> None:
    """Create what is missing; never touch rows that exist (a changed password stays)."""
    for spec in DEMO_USERS:
        user = User.objects.filter(email=spec["email"]).first()
        if user is None:
            staff = spec.get("staff", False)
            user = User.objects.create_user(
                email=spec["email"],
                password=DEMO_PASSWORD,
                name=spec["name"],
                is_staff=staff,
                is_superuser=staff,
                email_verified_at=timezone.now(),
            )
        shop_spec = DEMO_SHOPS.get(spec["email"])
        if shop_spec and not Shop.objects.filter(owner=user).exists():
            slug = shop_spec["slug"]
            if Shop.objects.filter(slug=slug).exists():  # someone took the name via the API
                slug = unique_shop_slug(shop_spec["name"])
            Shop.objects.create(owner=user, **{**shop_spec, "slug": slug})


class Command(BaseCommand):
    help = "Create demo users, shops and (through each app's demo module) catalog and orders."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the API is served."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        seed_accounts()
        for module_name in demo_modules():
            importlib.import_module(module_name).seed(self.stdout)
        self.print_logins(options["base_url"].rstrip("/"))

    def print_logins(self, base_url: str) -> None:
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        self.stdout.write(f"  {'email':<24} {'role':<9} shop")
        slugs = dict(
            Shop.objects.filter(owner__email__in=DEMO_SHOPS).values_list("owner__email", "slug")
        )
        for spec in DEMO_USERS:
            shop = slugs.get(spec["email"], "-")
            self.stdout.write(f"  {spec['email']:<24} {spec['role']:<9} {shop}")
        self.stdout.write(f"API docs: {base_url}/api/docs/   Admin: {base_url}/admin/")
