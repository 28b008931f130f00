import io

import pytest

from apps.events.models import OutboxEvent
from apps.inventory import demo
from apps.inventory.models import StockMovement
from tests.inventory.factories import StockItemFactory

pytestmark = pytest.mark.django_db


def test_demo_adds_a_low_stock_damage_and_a_correction_once():
    first = StockItemFactory(on_hand=12, low_stock_threshold=5, variant__sku="A-1")
    second = StockItemFactory(on_hand=9, variant__sku="B-1")
    StockItemFactory(on_hand=40, variant__sku="BULK-X-0")
    out = io.StringIO()

    demo.seed(out)
    demo.seed(out)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.on_hand, second.on_hand) == (5, 11)
    assert list(StockMovement.objects.order_by("created_at").values_list("kind", "quantity")) == [
        ("damage", -7),
        ("correction", 2),
    ]
    low = OutboxEvent.objects.get(type="stock.low")
    assert low.payload["sku"] == "A-1"
    assert low.payload["seller_id"] == str(first.variant.product.shop.owner_id)
    assert out.getvalue() == "Inventory: demo adjustments on A-1, B-1"


def test_demo_without_stock_does_nothing():
    demo.seed(io.StringIO())

    assert not StockMovement.objects.exists()
