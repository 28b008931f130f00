"""Concurrent stock_reserve on PostgreSQL: real threads, each with its own connection and
transaction. The database is the only arbiter."""

import random
import threading

import pytest
from django.db import connection, connections, transaction

from apps.inventory.errors import InsufficientStock
from apps.inventory.models import StockItem, StockMovement
from apps.inventory.services import StockLine, stock_fulfil, stock_release, stock_reserve
from tests.inventory.factories import StockItemFactory
from tests.services import need_postgres

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def run_threads(count: int, work) -> list:
    """Start `count` threads at once (barrier) and collect what each returned or raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except Exception as exc:  # collected and asserted on by the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


def check_constraints_hold() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM inventory_stockitem "
            "WHERE reserved < 0 OR on_hand < 0 OR reserved > on_hand"
        )
        assert cursor.fetchone()[0] == 0


def test_hot_variant_is_never_oversold():
    need_postgres()
    item = StockItemFactory(on_hand=20, reserved=0)
    quantities = [random.Random(i).randint(1, 3) for i in range(30)]

    def reserve(index: int) -> int:
        with transaction.atomic(durable=True):
            stock_reserve(lines=[StockLine(item.variant_id, quantities[index])])
        return quantities[index]

    results = run_threads(30, reserve)

    won = [r for r in results if isinstance(r, int)]
    lost = [r for r in results if not isinstance(r, int)]
    assert all(isinstance(r, InsufficientStock) for r in lost), lost
    assert len(won) + len(lost) == 30
    assert lost, "30 threads asking 1..3 units of 20 must see some refusals"
    item.refresh_from_db()
    assert item.on_hand == 20
    assert item.reserved == sum(won) <= 20
    # Each refusal was right when it happened: less was available than it asked for.
    assert all(r.extra["available"] < r.extra["requested"] for r in lost)
    movements = list(
        StockMovement.objects.filter(stock_item=item).values_list("quantity", flat=True)
    )
    assert sorted(movements) == sorted(won)
    check_constraints_hold()


def test_multi_line_reservations_in_random_orders_do_not_deadlock():
    need_postgres()
    items = [StockItemFactory(on_hand=1000) for _ in range(5)]

    def reserve(index: int) -> int:
        rng = random.Random(index)
        order = rng.sample(items, k=len(items))
        total = 0
        for _ in range(5):
            with transaction.atomic(durable=True):
                stock_reserve(lines=[StockLine(item.variant_id, 1) for item in order])
            total += len(order)
        return total

    results = run_threads(12, reserve)

    assert all(isinstance(r, int) for r in results), [r for r in results if not isinstance(r, int)]
    for item in items:
        item.refresh_from_db()
        assert item.reserved == 12 * 5
    assert StockMovement.objects.count() == 12 * 5 * 5
    check_constraints_hold()


def test_reserves_releases_and_fulfils_in_random_line_orders_do_not_deadlock():
    """Every multi-line service locks its rows with one SELECT .. FOR UPDATE in pk order."""
    need_postgres()
    items = [StockItemFactory(on_hand=1000, reserved=300) for _ in range(5)]
    services = (stock_reserve, stock_release, stock_fulfil)

    def work(index: int) -> list[int]:
        rng = random.Random(index)
        done = []
        for step in range(5):
            order = rng.sample(items, k=len(items))
            kind = (index + step) % len(services)
            with transaction.atomic(durable=True):
                services[kind](lines=[StockLine(item.variant_id, 2) for item in order])
            done.append(kind)
        return done

    results = run_threads(12, work)

    assert all(isinstance(r, list) for r in results), [
        r for r in results if isinstance(r, Exception)
    ]
    calls = [kind for done in results for kind in done]
    reserves, releases, fulfils = (calls.count(kind) for kind in range(3))
    for item in items:
        item.refresh_from_db()
        assert item.on_hand == 1000 - 2 * fulfils
        assert item.reserved == 300 + 2 * (reserves - releases - fulfils)
    assert StockMovement.objects.count() == 12 * 5 * 5
    check_constraints_hold()


def test_first_writes_to_a_variant_without_stock_row_share_one_row():
    """stock_adjust creates the row with INSERT .. ON CONFLICT DO NOTHING: no IntegrityError."""
    need_postgres()
    from apps.inventory.services import stock_adjust
    from tests.inventory.factories import VariantFactory

    variant = VariantFactory()

    def restock(index: int) -> int:
        stock_adjust(variant_id=variant.pk, delta=2, reason="restock")
        return 2

    results = run_threads(10, restock)

    assert results == [2] * 10
    assert StockItem.objects.get(variant=variant).on_hand == 20
    assert StockMovement.objects.count() == 10
