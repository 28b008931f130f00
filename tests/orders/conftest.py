from decimal import Decimal

import pytest

from apps.events.models import OutboxEvent
from apps.inventory.models import StockItem
from tests.conftest import auth_client
from tests.orders.factories import ShopFactory, UserFactory, stocked_variant


@pytest.fixture
def buyer(db):
    return UserFactory()


@pytest.fixture
def buyer_client(buyer):
    return auth_client(buyer)


@pytest.fixture
def shop(db):
    return ShopFactory(name="Alpha", slug="alpha", shipping_fee=Decimal("5.00"))


@pytest.fixture
def seller(shop):
    return shop.owner


@pytest.fixture
def variant(shop):
    return stocked_variant(price="12.50", on_hand=10, shop=shop)


def stock_of(variant) -> tuple[int, int]:
    item = StockItem.objects.get(variant=variant)
    return item.on_hand, item.reserved


def events_of(type_: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=type_).order_by("seq"))
