import importlib.abc
import importlib.util
import sys
import types
from io import StringIO

import pytest
from django.core.management import call_command

from apps.shops.management.commands import seed_demo
from apps.shops.models import Shop
from apps.users.models import User

pytestmark = pytest.mark.django_db


def run_seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def logins_table(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Demo logins"))
    return lines[start:]


def snapshot() -> tuple:
    users = list(
        User.objects.order_by("email").values_list(
            "id", "email", "password", "is_staff", "is_superuser"
        )
    )
    shops = list(Shop.objects.order_by("slug").values_list("id", "slug", "owner__email"))
    return users, shops


def test_seed_demo_creates_accounts_and_prints_logins():
    output = run_seed()
    staff = User.objects.get(email="admin@example.com")
    assert staff.is_staff
    assert staff.is_superuser
    assert staff.check_password(seed_demo.DEMO_PASSWORD)
    customer = User.objects.get(email="customer@example.com")
    assert not customer.is_staff
    assert not Shop.objects.filter(owner=customer).exists()
    assert set(Shop.objects.values_list("owner__email", flat=True)) == {
        "seller1@example.com",
        "seller2@example.com",
    }
    table = "\n".join(logins_table(output))
    for email in ("admin@example.com", "seller1@example.com", "customer@example.com"):
        assert email in table
    assert seed_demo.DEMO_PASSWORD in table
    assert "northwind-electronics" in table
    assert "http://127.0.0.1:8000/api/docs/" in table


def test_seed_demo_is_idempotent():
    first = run_seed()
    before = snapshot()
    second = run_seed()
    assert snapshot() == before
    assert logins_table(second) == logins_table(first)


def test_seed_demo_keeps_existing_rows():
    User.objects.create_user(email="customer@example.com", password="mine-and-only-mine")
    run_seed()
    customer = User.objects.get(email="customer@example.com")
    assert customer.check_password("mine-and-only-mine")


def test_seed_demo_demo_slug_taken_by_someone_else():
    from tests.shops.factories import ShopFactory

    ShopFactory(slug="northwind-electronics", name="Northwind Electronics")
    run_seed()
    seller_shop = Shop.objects.get(owner__email="seller1@example.com")
    assert seller_shop.slug == "northwind-electronics-2"


def test_seed_demo_calls_app_demo_modules_in_order(monkeypatch):
    calls = []
    for name in ("first", "second"):
        module = types.ModuleType(f"apps.fake_{name}.demo")
        module.seed = lambda stdout, name=name: calls.append((name, User.objects.count()))
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(
        seed_demo, "demo_modules", lambda: ["apps.fake_first.demo", "apps.fake_second.demo"]
    )
    run_seed()
    # users exist before any app's seed runs
    assert calls == [("first", 4), ("second", 4)]


def test_demo_modules_are_found_in_dependency_order():
    assert seed_demo.demo_modules() == [
        "apps.catalog.demo",
        "apps.inventory.demo",
        "apps.discounts.demo",
        "apps.orders.demo",
        "apps.payments.demo",
        "apps.reviews.demo",
    ]


class _BrokenDemoFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes `apps.users.fake_broken_demo` a module that exists but imports a missing one."""

    name = "apps.users.fake_broken_demo"

    def find_spec(self, fullname, path, target=None):
        return importlib.util.spec_from_loader(fullname, self) if fullname == self.name else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        importlib.import_module("definitely_missing_dependency_of_a_demo")


def test_seed_demo_does_not_hide_broken_demo_imports(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", [_BrokenDemoFinder(), *sys.meta_path])
    monkeypatch.setattr(seed_demo, "demo_modules", lambda: [_BrokenDemoFinder.name])
    with pytest.raises(ModuleNotFoundError, match="definitely_missing_dependency_of_a_demo"):
        run_seed()
