"""Stock hoarding: a buyer's open unpaid orders (pending or confirmed, cash not yet collected)
reserve stock until they expire, so their number and the units of one variant across them are
capped (ORDER_MAX_OPEN_UNPAID, ORDER_MAX_UNITS_PER_VARIANT)."""

import pytest

from apps.inventory.models import StockMovement
from apps.orders import errors
from apps.orders.models import Checkout, Order
from apps.orders.services import order_transition
from tests.orders.conftest import stock_of
from tests.orders.factories import ShopFactory, UserFactory, address_payload, place, stocked_variant

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"


@pytest.fixture(autouse=True)
def _caps(settings):
    settings.ORDER_MAX_OPEN_UNPAID = 3
    settings.ORDER_MAX_UNITS_PER_VARIANT = 5


def _move(order, *steps):
    for to, extra in steps:
        order_transition(
            order_id=order.pk, to=to, actor=order.shop.owner, actor_role="seller", **extra
        )


def test_the_order_that_would_exceed_the_open_unpaid_count_is_refused(buyer):
    variants = [stocked_variant(on_hand=10) for _ in range(4)]
    for variant in variants[:3]:
        place(buyer, (variant, 1))

    with pytest.raises(errors.TooManyOpenOrders) as caught:
        place(buyer, (variants[3], 1))

    assert caught.value.code == "order.too_many_open_orders"
    assert caught.value.extra == {"limit": 3, "open_orders": 3, "new_orders": 1}
    assert Order.objects.filter(buyer=buyer).count() == 3
    assert stock_of(variants[3]) == (10, 0)
    assert not StockMovement.objects.filter(
        stock_item__variant=variants[3], kind="reserve"
    ).exists()


def test_one_checkout_of_several_shops_counts_one_order_per_shop(buyer):
    first = stocked_variant(on_hand=10)
    place(buyer, (first, 1))
    three_shops = [stocked_variant(on_hand=10, shop=ShopFactory()) for _ in range(3)]

    with pytest.raises(errors.TooManyOpenOrders) as caught:
        place(buyer, *[(variant, 1) for variant in three_shops])

    assert caught.value.extra["new_orders"] == 3
    assert Checkout.objects.filter(buyer=buyer).count() == 1


def test_only_pending_and_confirmed_unpaid_orders_count(buyer):
    variant = stocked_variant(on_hand=50)
    orders = [place(buyer, (variant, 1)).orders.get() for _ in range(3)]
    _move(orders[0], ("confirmed", {}), ("shipped", {"tracking_number": "T1"}))  # no reservation
    _move(orders[1], ("cancelled", {"reason": "changed my mind"}))
    # orders[2] stays pending: 1 open, so two more fit
    place(buyer, (variant, 1))
    place(buyer, (variant, 1))

    with pytest.raises(errors.TooManyOpenOrders):
        place(buyer, (variant, 1))
    _move(orders[2], ("confirmed", {}))  # confirmed and unpaid still counts
    with pytest.raises(errors.TooManyOpenOrders):
        place(buyer, (variant, 1))
    # another buyer has a budget of their own
    place(UserFactory(), (variant, 1))


def test_units_of_one_variant_across_open_unpaid_orders_are_capped(buyer):
    variant = stocked_variant(on_hand=50)
    other = stocked_variant(on_hand=50)
    place(buyer, (variant, 3))

    with pytest.raises(errors.VariantQuantityLimit) as caught:
        place(buyer, (other, 1), (variant, 3))

    assert caught.value.code == "order.variant_quantity_limit"
    assert caught.value.extra == {
        "sku": variant.sku,
        "variant_id": str(variant.pk),
        "limit": 5,
        "held": 3,
        "requested": 3,
    }
    assert stock_of(variant) == (50, 3)
    assert stock_of(other) == (50, 0)
    place(buyer, (variant, 2))  # exactly the cap
    assert stock_of(variant) == (50, 5)


def test_a_zero_setting_lifts_the_cap(buyer, settings):
    settings.ORDER_MAX_OPEN_UNPAID = 0
    settings.ORDER_MAX_UNITS_PER_VARIANT = 0
    variant = stocked_variant(on_hand=100)
    for _ in range(5):
        place(buyer, (variant, 6))
    assert stock_of(variant) == (100, 30)


def test_the_api_answers_a_422_problem_with_the_limit(buyer_client, buyer):
    variant = stocked_variant(on_hand=50)
    body = {
        "items": [{"variant_id": str(variant.pk), "quantity": 6}],
        "shipping_address": address_payload(),
    }

    too_many_units = buyer_client.post(ORDERS, body, format="json")
    for _ in range(3):
        place(buyer, (stocked_variant(on_hand=5), 1))
    body["items"][0]["quantity"] = 1
    too_many_orders = buyer_client.post(ORDERS, body, format="json")

    assert too_many_units.status_code == too_many_orders.status_code == 422
    assert too_many_units["Content-Type"] == "application/problem+json"
    problem = too_many_units.json()
    assert (problem["code"], problem["limit"], problem["held"], problem["requested"]) == (
        "order.variant_quantity_limit",
        5,
        0,
        6,
    )
    problem = too_many_orders.json()
    assert (problem["code"], problem["limit"], problem["open_orders"]) == (
        "order.too_many_open_orders",
        3,
        3,
    )
    assert stock_of(variant) == (50, 0)
