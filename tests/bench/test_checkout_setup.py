"""The checkout benchmark's data setup (bench/checkout.py) on the test database: the tokens and
variants it writes place an order with the body its wrk script sends (bench/lua/checkout.lua).
Tokens minted without a session were once refused there, and the benchmark measured 0 orders/s
without a failing test."""

from pathlib import Path

import pytest

from apps.inventory.models import StockItem
from apps.orders.models import Order
from bench import checkout
from tests.cart.factories import stocked_variant

pytestmark = pytest.mark.django_db

# The body bench/lua/checkout.lua sends, with one of the variants the setup wrote.
ADDRESS = {
    "name": "Bench Buyer",
    "line1": "1 Load Street",
    "line2": "",
    "city": "Testville",
    "state": "",
    "postal_code": "12345",
    "country": "US",
    "phone": "+1 555 0100",
}


def _lines(path: Path) -> list[str]:
    return path.read_text().split()


def test_the_setup_writes_tokens_and_variants_that_place_an_order(
    api_client, tmp_path, monkeypatch
):
    monkeypatch.setattr(checkout, "BUYERS", 2)
    monkeypatch.setattr(checkout, "VARIANTS", 2)
    variants = sorted(
        (stocked_variant(on_hand=5, reserved=1) for _ in range(3)), key=lambda v: v.sku
    )

    checkout.setup(tmp_path)

    tokens = _lines(tmp_path / "tokens")
    ample = _lines(tmp_path / "variants")
    assert len(tokens) == 2
    assert ample == [str(v.pk) for v in variants[:2]]
    assert _lines(tmp_path / "hot") == [str(variants[2].pk)]
    assert StockItem.objects.get(variant=variants[0]).on_hand == 1 + checkout.AMPLE_STOCK
    assert StockItem.objects.get(variant=variants[2]).on_hand == 1 + checkout.HOT_STOCK

    for token in tokens:
        response = api_client.post(
            "/api/v1/orders",
            {
                "items": [{"variant_id": ample[0], "quantity": 1}],
                "shipping_address": ADDRESS,
                "payment_method": "cash_on_delivery",
            },
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 201, response.content
    assert Order.objects.count() == 2
