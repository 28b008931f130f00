"""Placement under real concurrency on PostgreSQL: threads, each with its own connection, racing
through the whole HTTP stack. The database is the arbiter: no oversell, no deadlock, no 500."""

import random
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.db.models import Sum

from apps.discounts.models import Discount, DiscountRedemption
from apps.inventory.models import StockItem, StockMovement
from apps.orders.models import Checkout, Order, OrderLine
from tests.conftest import auth_client
from tests.discounts.factories import DiscountFactory
from tests.orders.factories import ShopFactory, UserFactory, address_payload, stocked_variant
from tests.services import need_postgres, need_redis

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = "/api/v1/orders"


def _race(bodies: list[tuple[object, dict]], headers: dict | None = None) -> list:
    """POST every (client, body) at once from its own thread; returns the responses."""
    barrier = threading.Barrier(len(bodies))
    responses: list = [None] * len(bodies)

    def post(index: int, client, body: dict) -> None:
        try:
            barrier.wait(timeout=30)
            responses[index] = client.post(ORDERS, body, format="json", **(headers or {}))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=post, args=(i, client, body))
        for i, (client, body) in enumerate(bodies)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a placement hung (deadlock?)"
    return responses


def _check_constraints_hold() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM inventory_stockitem WHERE reserved < 0 OR reserved > on_hand"
        )
        assert cursor.fetchone()[0] == 0


def _body(*lines, **extra) -> dict:
    return {
        "items": [{"variant_id": str(v.pk), "quantity": q} for v, q in lines],
        "shipping_address": address_payload(),
        **extra,
    }


def test_fifty_buyers_race_for_twenty_units():
    need_postgres()
    variant = stocked_variant(price="9.99", on_hand=20)
    buyers = [auth_client(UserFactory()) for _ in range(50)]

    responses = _race([(client, _body((variant, 1))) for client in buyers])

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 20, 409: 30}
    for response in responses:
        if response.status_code == 409:
            body = response.json()
            assert body["code"] == "inventory.insufficient_stock"
            assert body["sku"] == variant.sku
            assert body["available"] == 0
    item = StockItem.objects.get(variant=variant)
    assert (item.on_hand, item.reserved) == (20, 20)
    assert Order.objects.count() == 20
    assert Checkout.objects.count() == 20
    assert OrderLine.objects.aggregate(n=Sum("quantity"))["n"] == 20
    assert StockMovement.objects.filter(kind="reserve").count() == 20
    assert StockMovement.objects.filter(kind="reserve").values("order_id").distinct().count() == 20
    _check_constraints_hold()


def test_multi_line_carts_in_random_orders_never_deadlock_and_are_all_or_nothing():
    need_postgres()
    shops = [ShopFactory(), ShopFactory()]
    variants = [stocked_variant(on_hand=12, shop=shops[i % 2]) for i in range(5)]
    rng = random.Random(42)
    bodies, wanted = [], []
    for _ in range(30):
        chosen = rng.sample(variants, rng.randint(2, 5))
        rng.shuffle(chosen)
        lines = [(v, rng.randint(1, 3)) for v in chosen]
        wanted.append(lines)
        bodies.append((auth_client(UserFactory()), _body(*lines)))

    responses = _race(bodies)

    assert {r.status_code for r in responses} <= {201, 409}
    placed = [i for i, r in enumerate(responses) if r.status_code == 201]
    assert placed, "some placements must succeed"
    assert len(placed) < len(responses), "the stock is too small for every cart"
    # All or nothing: every placed checkout holds exactly its cart; refused ones hold nothing.
    for index, response in enumerate(responses):
        if response.status_code != 201:
            continue
        number = response.json()["checkout_number"]
        got = {
            (line.variant_id, line.quantity)
            for line in OrderLine.objects.filter(order__checkout__number=number)
        }
        assert got == {(v.pk, q) for v, q in wanted[index]}
    assert Checkout.objects.count() == len(placed)
    for variant in variants:
        item = StockItem.objects.get(variant=variant)
        sold = OrderLine.objects.filter(variant=variant).aggregate(n=Sum("quantity"))["n"] or 0
        assert item.reserved == sold
        assert item.reserved <= item.on_hand == 12
    _check_constraints_hold()


def test_ten_buyers_race_for_a_code_with_three_uses():
    need_postgres()
    shop = ShopFactory(slug="racy")
    variant = stocked_variant(price="50.00", on_hand=100, shop=shop)
    DiscountFactory(shop=shop, code="THREE", type="fixed_amount", value=Decimal("5"), max_uses=3)
    buyers = [auth_client(UserFactory()) for _ in range(10)]

    responses = _race(
        [
            (client, _body((variant, 1), discounts=[{"shop": "racy", "code": "THREE"}]))
            for client in buyers
        ]
    )

    assert Counter(r.status_code for r in responses) == {201: 3, 422: 7}
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"discount.usage_limit"}
    assert Discount.objects.get().uses_count == 3
    assert DiscountRedemption.objects.count() == 3
    assert Order.objects.count() == 3
    # Refused buyers left no reservation behind.
    assert StockItem.objects.get(variant=variant).reserved == 3


def test_ten_concurrent_posts_with_one_key_make_one_checkout_with_identical_bodies():
    need_postgres()
    need_redis()
    variant = stocked_variant(on_hand=50)
    buyer = UserFactory()
    clients = [auth_client(buyer) for _ in range(10)]

    responses = _race(
        [(client, _body((variant, 2))) for client in clients],
        headers={"HTTP_IDEMPOTENCY_KEY": "checkout-once"},
    )

    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert Checkout.objects.count() == 1
    assert Order.objects.count() == 1
    assert StockItem.objects.get(variant=variant).reserved == 2


def test_cancels_and_placements_sharing_a_code_and_a_variant_do_not_deadlock():
    """A cancel gives back discount uses and stock; a placement takes both. Both lock the
    discount row before the stock row, so racing them cannot deadlock."""
    need_postgres()
    shop = ShopFactory(slug="shared")
    variant = stocked_variant(price="30.00", on_hand=100, shop=shop)
    DiscountFactory(shop=shop, code="SHARED", type="fixed_amount", value=Decimal("3"))
    code = [{"shop": "shared", "code": "SHARED"}]
    holders = [UserFactory() for _ in range(10)]
    placed_before = [
        auth_client(user).post(ORDERS, _body((variant, 2), discounts=code), format="json")
        for user in holders
    ]
    assert {r.status_code for r in placed_before} == {201}
    order_ids = [r.json()["orders"][0]["id"] for r in placed_before]

    barrier = threading.Barrier(20)
    responses: list = []

    def cancel(user, order_id) -> None:
        try:
            barrier.wait(timeout=30)
            responses.append(auth_client(user).post(f"{ORDERS}/{order_id}/cancel", {}))
        finally:
            connections.close_all()

    def buy(client) -> None:
        try:
            barrier.wait(timeout=30)
            responses.append(
                client.post(ORDERS, _body((variant, 1), discounts=code), format="json")
            )
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=cancel, args=(user, order_id))
        for user, order_id in zip(holders, order_ids, strict=True)
    ] + [threading.Thread(target=buy, args=(auth_client(UserFactory()),)) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert Counter(r.status_code for r in responses) == {200: 10, 201: 10}
    assert Discount.objects.get().uses_count == 10
    assert StockItem.objects.get(variant=variant).reserved == 10
    _check_constraints_hold()


def test_concurrent_placements_of_one_buyer_cannot_pass_the_open_unpaid_cap(settings):
    """Each placement counts the buyer's open orders after locking the buyer's row: of eight
    racing placements by one buyer with room for three more orders, exactly three pass."""
    need_postgres()
    settings.ORDER_MAX_OPEN_UNPAID = 4
    settings.ORDER_MAX_UNITS_PER_VARIANT = 0
    buyer = UserFactory()
    client = auth_client(buyer)
    held = stocked_variant(on_hand=10)
    assert client.post(ORDERS, _body((held, 1)), format="json").status_code == 201
    variants = [stocked_variant(on_hand=10, shop=ShopFactory()) for _ in range(8)]

    responses = _race([(auth_client(buyer), _body((variant, 1))) for variant in variants])

    assert Counter(r.status_code for r in responses) == {201: 3, 422: 5}
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {
        "order.too_many_open_orders"
    }
    assert Order.objects.filter(buyer=buyer).count() == 4
    _check_constraints_hold()


def test_concurrent_placements_of_one_buyer_cannot_pass_the_units_cap(settings):
    need_postgres()
    settings.ORDER_MAX_OPEN_UNPAID = 0
    settings.ORDER_MAX_UNITS_PER_VARIANT = 5
    buyer = UserFactory()
    variant = stocked_variant(on_hand=100)

    responses = _race([(auth_client(buyer), _body((variant, 2))) for _ in range(6)])

    assert Counter(r.status_code for r in responses) == {201: 2, 422: 4}
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {
        "order.variant_quantity_limit"
    }
    assert StockItem.objects.get(variant=variant).reserved == 4
    _check_constraints_hold()
