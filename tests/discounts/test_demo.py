from io import StringIO

import pytest

from apps.discounts import demo
from apps.discounts.models import Discount
from apps.events.models import OutboxEvent
from tests.shops.factories import ShopFactory

pytestmark = pytest.mark.django_db


def test_demo_seed_is_idempotent():
    out = StringIO()
    demo.seed(out)
    assert "skipped" in out.getvalue()
    for slug in demo.DEMO_SHOP_SLUGS:
        ShopFactory(slug=slug)
    demo.seed(out)
    assert Discount.objects.count() == 4
    assert OutboxEvent.objects.filter(type="shop.new_discount").count() == 4
    demo.seed(out)
    assert Discount.objects.count() == 4
    assert "0 demo code(s) created" in out.getvalue()
