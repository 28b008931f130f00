import uuid

import pytest
from django.db import connection, transaction

from apps.events.models import OutboxEvent
from apps.inventory.errors import (
    InsufficientReserved,
    InsufficientStock,
    InvalidAdjustment,
    InvalidStockQuantity,
    StockAboveMaximum,
    StockBelowReserved,
    VariantNotFound,
)
from apps.inventory.models import StockItem, StockMovement
from apps.inventory.selectors import stock_available
from apps.inventory.services import (
    StockLine,
    stock_adjust,
    stock_fulfil,
    stock_initial_record,
    stock_release,
    stock_reserve,
    stock_return,
    stock_threshold_set,
)
from tests.inventory.factories import StockItemFactory, VariantFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def ledger(item: StockItem) -> list[tuple]:
    """Movements oldest first as (kind, quantity, on_hand_after, reserved_after, order_id)."""
    return list(
        StockMovement.objects.filter(stock_item=item)
        .order_by("created_at", "id")
        .values_list("kind", "quantity", "on_hand_after", "reserved_after", "order_id")
    )


def state(item: StockItem) -> tuple[int, int]:
    item.refresh_from_db()
    return item.on_hand, item.reserved


def events(type_: str) -> list[dict]:
    return list(
        OutboxEvent.objects.filter(type=type_).order_by("seq").values_list("payload", flat=True)
    )


# --- stock_adjust ---------------------------------------------------------------------------


def test_adjust_creates_the_stock_row_writes_the_ledger_and_emits_stock_adjusted():
    variant = VariantFactory()
    seller = variant.product.shop.owner

    item = stock_adjust(
        variant_id=variant.pk, delta=12, reason="restock", note="PO 7", actor=seller
    )

    assert (item.on_hand, item.reserved, item.available) == (12, 0, 12)
    assert StockItem.objects.filter(variant=variant).count() == 1
    movement = StockMovement.objects.get(stock_item=item)
    assert (movement.kind, movement.quantity, movement.on_hand_after, movement.reserved_after) == (
        "restock",
        12,
        12,
        0,
    )
    assert (movement.note, movement.actor_id, movement.order_id) == ("PO 7", seller.pk, None)
    event = OutboxEvent.objects.get(type="stock.adjusted")
    assert (event.topic, event.key) == ("inventory", str(variant.pk))
    assert event.payload == {
        "variant_id": str(variant.pk),
        "sku": variant.sku,
        "product_id": str(variant.product_id),
        "product_name": variant.product.name,
        "shop_id": str(variant.product.shop_id),
        "on_hand": 12,
        "reserved": 0,
        "available": 12,
        "delta": 12,
        "reason": "restock",
    }


def test_adjust_down_to_exactly_reserved_is_allowed():
    item = StockItemFactory(on_hand=10, reserved=4)

    stock_adjust(variant_id=item.variant_id, delta=-6, reason="damage")

    assert state(item) == (4, 4)
    assert ledger(item) == [("damage", -6, 4, 4, None)]


def test_adjust_below_reserved_is_refused_and_changes_nothing():
    item = StockItemFactory(on_hand=10, reserved=4)

    with pytest.raises(StockBelowReserved) as caught:
        stock_adjust(variant_id=item.variant_id, delta=-7, reason="correction")

    assert caught.value.code == "inventory.below_reserved"
    assert caught.value.extra == {
        "variant_id": str(item.variant_id),
        "sku": item.variant.sku,
        "on_hand": 10,
        "reserved": 4,
        "delta": -7,
    }
    assert state(item) == (10, 4)
    assert ledger(item) == []
    assert not OutboxEvent.objects.exists()


def test_adjust_below_zero_is_refused():
    item = StockItemFactory(on_hand=3, reserved=0)

    with pytest.raises(StockBelowReserved):
        stock_adjust(variant_id=item.variant_id, delta=-4, reason="damage")

    assert state(item) == (3, 0)
    assert ledger(item) == []


@pytest.mark.parametrize(
    ("delta", "reason", "pointer"),
    [
        (-1, "restock", "/delta"),
        (-1, "return", "/delta"),
        (1, "damage", "/delta"),
        (1, "stolen", "/reason"),
    ],
)
def test_adjust_rejects_a_wrong_sign_or_reason(delta, reason, pointer):
    item = StockItemFactory(on_hand=5)

    with pytest.raises(InvalidAdjustment) as caught:
        stock_adjust(variant_id=item.variant_id, delta=delta, reason=reason)

    assert caught.value.errors[0]["pointer"] == pointer
    assert state(item) == (5, 0)
    assert ledger(item) == []


def test_correction_goes_either_way():
    item = StockItemFactory(on_hand=5)

    stock_adjust(variant_id=item.variant_id, delta=2, reason="correction")
    stock_adjust(variant_id=item.variant_id, delta=-3, reason="correction")

    assert state(item) == (4, 0)
    assert [row[:3] for row in ledger(item)] == [("correction", 2, 7), ("correction", -3, 4)]


def test_adjust_zero_only_creates_the_row():
    variant = VariantFactory()

    item = stock_adjust(variant_id=variant.pk, delta=0, reason="restock")

    assert (item.on_hand, item.reserved, item.low_stock_threshold) == (0, 0, 5)
    assert ledger(item) == []
    assert not OutboxEvent.objects.exists()


def test_adjust_unknown_variant_is_not_found():
    with pytest.raises(VariantNotFound):
        stock_adjust(variant_id=uuid.uuid4(), delta=1, reason="restock")
    assert not StockItem.objects.exists()


# --- stock_reserve --------------------------------------------------------------------------


def test_reserve_writes_one_movement_per_variant_and_merges_duplicates():
    first = StockItemFactory(on_hand=10)
    second = StockItemFactory(on_hand=4)
    order_id = uuid.uuid4()
    buyer = UserFactory()

    stock_reserve(
        lines=[
            StockLine(first.variant_id, 2),
            StockLine(second.variant_id, 4),
            StockLine(first.variant_id, 3),
        ],
        order_id=order_id,
        actor=buyer,
    )

    assert state(first) == (10, 5)
    assert state(second) == (4, 4)
    assert ledger(first) == [("reserve", 5, 10, 5, order_id)]
    assert ledger(second) == [("reserve", 4, 4, 4, order_id)]
    assert set(StockMovement.objects.values_list("actor_id", flat=True)) == {buyer.pk}


def test_reserve_is_all_or_nothing_and_names_the_short_line():
    plenty = StockItemFactory(on_hand=10)
    short = StockItemFactory(on_hand=5, reserved=3)

    with pytest.raises(InsufficientStock) as caught:
        stock_reserve(
            lines=[StockLine(plenty.variant_id, 4), StockLine(short.variant_id, 3)],
        )

    error = caught.value
    assert error.code == "inventory.insufficient_stock"
    assert error.extra == {
        "sku": short.variant.sku,
        "variant_id": str(short.variant_id),
        "available": 2,
        "requested": 3,
    }
    assert error.detail == f"Only 2 units of {short.variant.sku} are available; 3 requested."
    assert state(plenty) == (10, 0)
    assert state(short) == (5, 3)
    assert not StockMovement.objects.exists()


def test_a_failed_reserve_inside_a_caller_transaction_undoes_its_own_lines_only():
    """The caller catches the error and carries on: the savepoint already undid the first line."""
    plenty = StockItemFactory(on_hand=10)
    short = StockItemFactory(on_hand=1)
    other = StockItemFactory(on_hand=10)

    with transaction.atomic():
        stock_reserve(lines=[StockLine(other.variant_id, 1)])
        with pytest.raises(InsufficientStock):
            stock_reserve(lines=[StockLine(plenty.variant_id, 4), StockLine(short.variant_id, 2)])

    assert state(plenty) == (10, 0)
    assert state(short) == (1, 0)
    assert state(other) == (10, 1)
    assert StockMovement.objects.count() == 1


def test_reserve_without_a_stock_row_is_insufficient():
    variant = VariantFactory()

    with pytest.raises(InsufficientStock) as caught:
        stock_reserve(lines=[StockLine(variant.pk, 1)])

    assert caught.value.extra["available"] == 0
    assert not StockItem.objects.exists()


@pytest.mark.parametrize("quantity", [0, -1, True, 1.5])
def test_reserve_rejects_non_positive_quantities(quantity):
    item = StockItemFactory(on_hand=10)

    with pytest.raises(InvalidStockQuantity):
        stock_reserve(lines=[StockLine(item.variant_id, quantity)])

    assert state(item) == (10, 0)


@pytest.mark.parametrize(
    ("service", "reserved"),
    [(stock_reserve, 0), (stock_release, 5), (stock_fulfil, 5), (stock_return, 0)],
)
def test_multi_line_calls_run_five_statements_whatever_the_number_of_lines(
    service, reserved, django_assert_num_queries
):
    """savepoint, SELECT .. FOR UPDATE (pk order), one UPDATE, one ledger INSERT, release."""
    one = [StockItemFactory(on_hand=10, reserved=reserved)]
    ten = [StockItemFactory(on_hand=10, reserved=reserved) for _ in range(10)]

    for items in (one, ten):
        with django_assert_num_queries(5) as captured:
            service(lines=[StockLine(item.variant_id, 1) for item in items])
        locking = captured.captured_queries[1]["sql"]
        table = connection.ops.quote_name(StockItem._meta.db_table)
        lock = f" FOR UPDATE OF {table}" if connection.vendor == "postgresql" else ""
        assert locking.endswith(f'ORDER BY {table}."id" ASC{lock}')
        assert sum(q["sql"].startswith("UPDATE") for q in captured.captured_queries) == 1

    assert StockMovement.objects.count() == 11


def test_stock_low_crossings_add_one_load_and_their_outbox_rows(django_assert_num_queries):
    """Rows that cross are loaded again with product and shop in one query: no lazy loads."""
    crossing = [StockItemFactory(on_hand=6, low_stock_threshold=5) for _ in range(3)]
    calm = [StockItemFactory(on_hand=60, low_stock_threshold=5) for _ in range(3)]

    with django_assert_num_queries(5 + 1 + 3):
        stock_reserve(lines=[StockLine(item.variant_id, 1) for item in crossing + calm])

    assert sorted(payload["variant_id"] for payload in events("stock.low")) == sorted(
        str(item.variant_id) for item in crossing
    )
    with django_assert_num_queries(5):
        stock_reserve(lines=[StockLine(item.variant_id, 1) for item in calm])


def test_one_call_can_serve_several_orders():
    """A checkout reserves the lines of all its orders at once; each movement names its order."""
    first, second = StockItemFactory(on_hand=10), StockItemFactory(on_hand=10)
    order_a, order_b = uuid.uuid4(), uuid.uuid4()

    stock_reserve(
        lines=[StockLine(first.variant_id, 2, order_a), StockLine(second.variant_id, 3, order_b)]
    )
    stock_release(lines=[StockLine(first.variant_id, 1)], order_id=order_a)

    assert ledger(first) == [("reserve", 2, 10, 2, order_a), ("release", -1, 10, 1, order_a)]
    assert ledger(second) == [("reserve", 3, 10, 3, order_b)]


def test_one_variant_in_two_orders_of_one_call_is_a_programming_error():
    item = StockItemFactory(on_hand=10)

    with pytest.raises(ValueError, match="two orders"):
        stock_reserve(
            lines=[
                StockLine(item.variant_id, 1, uuid.uuid4()),
                StockLine(item.variant_id, 1, uuid.uuid4()),
            ]
        )

    assert state(item) == (10, 0)
    assert not StockMovement.objects.exists()


def test_the_conditional_update_still_refuses_when_a_row_changed_after_the_check(monkeypatch):
    """Safety net: should a row change between the check and the UPDATE (it cannot while it is
    locked), the UPDATE's own WHERE refuses, the row count gives it away, nothing is kept."""
    from apps.inventory import services

    plenty = StockItemFactory(on_hand=10)
    short = StockItemFactory(on_hand=5)
    real_lock = services._lock

    def lock_then_someone_else_reserves(variant_ids):
        items = real_lock(variant_ids)
        StockItem.objects.filter(pk=short.pk).update(reserved=4)  # behind the check's back
        return items

    monkeypatch.setattr(services, "_lock", lock_then_someone_else_reserves)
    with pytest.raises(InsufficientStock) as caught:
        stock_reserve(lines=[StockLine(plenty.variant_id, 3), StockLine(short.variant_id, 3)])

    assert caught.value.extra == {
        "sku": short.variant.sku,
        "variant_id": str(short.variant_id),
        "available": 1,
        "requested": 3,
    }
    # The savepoint undid the partial UPDATE (and the simulated write inside it).
    assert state(plenty) == (10, 0)
    assert state(short) == (5, 0)
    assert not StockMovement.objects.exists()


def test_release_without_a_stock_row_is_refused_and_creates_none():
    variant = VariantFactory()

    with pytest.raises(InsufficientReserved) as caught:
        stock_release(lines=[StockLine(variant.pk, 1)])

    assert caught.value.extra["reserved"] == 0
    assert not StockItem.objects.exists()


def test_unknown_variant_is_not_found_for_every_multi_line_service():
    for service in (stock_reserve, stock_release, stock_fulfil, stock_return):
        with pytest.raises(VariantNotFound):
            service(lines=[StockLine(uuid.uuid4(), 1)])
    assert not StockItem.objects.exists()


def test_return_creates_a_missing_stock_row():
    variant = VariantFactory()
    order_id = uuid.uuid4()

    stock_return(lines=[StockLine(variant.pk, 2)], order_id=order_id)

    item = StockItem.objects.get(variant=variant)
    assert ledger(item) == [("return", 2, 2, 0, order_id)]


# --- release, fulfil, return ----------------------------------------------------------------


def test_release_gives_reserved_units_back():
    item = StockItemFactory(on_hand=10, reserved=6)
    order_id = uuid.uuid4()

    stock_release(lines=[StockLine(item.variant_id, 4)], order_id=order_id)

    assert state(item) == (10, 2)
    assert ledger(item) == [("release", -4, 10, 2, order_id)]


def test_release_more_than_reserved_is_refused_and_changes_nothing():
    first = StockItemFactory(on_hand=10, reserved=5)
    second = StockItemFactory(on_hand=10, reserved=1)

    with pytest.raises(InsufficientReserved) as caught:
        stock_release(lines=[StockLine(first.variant_id, 5), StockLine(second.variant_id, 2)])

    assert caught.value.code == "inventory.insufficient_reserved"
    assert caught.value.extra["reserved"] == 1
    assert state(first) == (10, 5)
    assert state(second) == (10, 1)
    assert not StockMovement.objects.exists()


def test_fulfil_takes_units_out_of_on_hand_and_reserved():
    item = StockItemFactory(on_hand=10, reserved=6)
    order_id = uuid.uuid4()

    stock_fulfil(lines=[StockLine(item.variant_id, 6)], order_id=order_id)

    assert state(item) == (4, 0)
    assert ledger(item) == [("fulfil", -6, 4, 0, order_id)]


def test_fulfil_more_than_reserved_is_refused():
    item = StockItemFactory(on_hand=10, reserved=2)

    with pytest.raises(InsufficientReserved):
        stock_fulfil(lines=[StockLine(item.variant_id, 3)])

    assert state(item) == (10, 2)
    assert ledger(item) == []


def test_return_puts_units_back_on_hand():
    item = StockItemFactory(on_hand=4, reserved=1)
    order_id = uuid.uuid4()

    stock_return(lines=[StockLine(item.variant_id, 2)], order_id=order_id)

    assert state(item) == (6, 1)
    assert ledger(item) == [("return", 2, 6, 1, order_id)]


def test_full_order_lifecycle_ledger():
    item = StockItemFactory(on_hand=0)
    order_id = uuid.uuid4()

    stock_adjust(variant_id=item.variant_id, delta=10, reason="restock")
    stock_reserve(lines=[StockLine(item.variant_id, 3)], order_id=order_id)
    stock_fulfil(lines=[StockLine(item.variant_id, 3)], order_id=order_id)
    stock_return(lines=[StockLine(item.variant_id, 1)], order_id=order_id)
    stock_reserve(lines=[StockLine(item.variant_id, 2)])
    stock_release(lines=[StockLine(item.variant_id, 2)])

    assert state(item) == (8, 0)
    assert ledger(item) == [
        ("restock", 10, 10, 0, None),
        ("reserve", 3, 10, 3, order_id),
        ("fulfil", -3, 7, 0, order_id),
        ("return", 1, 8, 0, order_id),
        ("reserve", 2, 8, 2, None),
        ("release", -2, 8, 0, None),
    ]


# --- stock.low ------------------------------------------------------------------------------


def test_stock_low_fires_once_when_available_crosses_the_threshold():
    item = StockItemFactory(on_hand=10, low_stock_threshold=5)
    line = item.variant_id

    stock_reserve(lines=[StockLine(line, 3)])  # 7 available: above
    assert events("stock.low") == []
    stock_reserve(lines=[StockLine(line, 2)])  # 5: crosses
    stock_reserve(lines=[StockLine(line, 1)])  # 4: already below, no second event
    stock_fulfil(lines=[StockLine(line, 6)])  # available unchanged
    assert len(events("stock.low")) == 1

    stock_adjust(variant_id=line, delta=6, reason="restock")  # 10: above again
    stock_adjust(variant_id=line, delta=-5, reason="damage")  # 5: crosses again

    payloads = events("stock.low")
    assert len(payloads) == 2
    shop = item.variant.product.shop
    assert payloads[0] == {
        "variant_id": str(item.variant_id),
        "sku": item.variant.sku,
        "product_id": str(item.variant.product_id),
        "product_name": item.variant.product.name,
        "shop_id": str(shop.pk),
        "seller_id": str(shop.owner_id),
        "on_hand": 10,
        "reserved": 5,
        "available": 5,
        "threshold": 5,
    }
    assert (payloads[1]["on_hand"], payloads[1]["available"]) == (5, 5)
    assert OutboxEvent.objects.filter(type="stock.low").first().key == str(item.variant_id)


def test_stock_low_does_not_fire_when_starting_below():
    item = StockItemFactory(on_hand=3, low_stock_threshold=5)

    stock_reserve(lines=[StockLine(item.variant_id, 1)])
    stock_adjust(variant_id=item.variant_id, delta=1, reason="restock")

    assert events("stock.low") == []


# --- threshold and selector -----------------------------------------------------------------


def test_threshold_set_creates_the_row_and_writes_no_movement():
    variant = VariantFactory()

    item = stock_threshold_set(variant_id=variant.pk, low_stock_threshold=2)

    assert (item.on_hand, item.low_stock_threshold) == (0, 2)
    assert ledger(item) == []


def test_stock_available_reports_zero_for_variants_without_stock():
    item = StockItemFactory(on_hand=9, reserved=4)
    bare = VariantFactory()

    assert stock_available([item.variant_id, bare.pk]) == {item.variant_id: 5, bare.pk: 0}


# --- product detail cache -------------------------------------------------------------------


def test_stock_changes_invalidate_the_cached_product_detail(django_capture_on_commit_callbacks):
    from apps.catalog.cache import product_detail_cached

    item = StockItemFactory(on_hand=5)
    product_id = item.variant.product_id
    builds: list[int] = []

    def build() -> dict:
        builds.append(1)
        return {"build": len(builds)}

    assert product_detail_cached(product_id, build) == {"build": 1}
    assert product_detail_cached(product_id, build) == {"build": 1}  # cached

    with django_capture_on_commit_callbacks(execute=True):
        stock_reserve(lines=[StockLine(item.variant_id, 1)])
    assert product_detail_cached(product_id, build) == {"build": 2}

    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant_id=item.variant_id, delta=1, reason="restock")
    assert product_detail_cached(product_id, build) == {"build": 3}
    assert product_detail_cached(product_id, build) == {"build": 3}


def test_list_pages_are_invalidated_only_when_available_crosses_zero():
    """Public list pages show only whether a product is in stock: an order that leaves units
    available keeps them, one that sells out (or a release that brings stock back) bumps them."""
    from apps.catalog.cache import product_list_page_cached

    item = StockItemFactory(on_hand=3)
    builds: list[int] = []

    def page() -> dict:
        return product_list_page_cached("/api/v1/products", lambda: {"build": len(builds)})

    def rebuilt_after(change) -> bool:
        before = page()
        builds.append(1)
        change()
        return page() != before

    line = [StockLine(item.variant_id, 1)]
    assert not rebuilt_after(lambda: stock_reserve(lines=line))  # 3 -> 2 available
    assert not rebuilt_after(lambda: stock_reserve(lines=line))  # 2 -> 1
    assert rebuilt_after(lambda: stock_reserve(lines=line))  # 1 -> 0: sold out
    assert not rebuilt_after(lambda: stock_fulfil(lines=line))  # available stays 0
    assert rebuilt_after(lambda: stock_release(lines=line))  # 0 -> 1: back in stock
    assert not rebuilt_after(
        lambda: stock_adjust(variant_id=item.variant_id, delta=2, reason="restock")
    )
    assert not rebuilt_after(lambda: stock_return(lines=line))  # 3 -> 4


# --- stock_initial_record ---------------------------------------------------------------------


def test_initial_stock_is_recorded_as_stock_adjust_records_a_restock():
    """Given two new variants, when their first units are recorded in one call, then each has
    what `stock_adjust(reason="restock")` would have written: the row, one `restock` movement
    with the actor and the note, one `stock.adjusted` with the same payload."""
    first, second = VariantFactory(), VariantFactory()
    seller = first.product.shop.owner
    twin = VariantFactory()

    stock_initial_record(lines=[(first.pk, 7), (second.pk, 3)], actor=seller)
    stock_adjust(variant_id=twin.pk, delta=7, reason="restock", note="initial stock", actor=seller)

    one, two = StockItem.objects.get(variant=first), StockItem.objects.get(variant=second)
    assert (state(one), state(two)) == ((7, 0), (3, 0))
    assert ledger(one) == [("restock", 7, 7, 0, None)]
    assert ledger(two) == [("restock", 3, 3, 0, None)]
    assert set(StockMovement.objects.values_list("note", "actor")) == {("initial stock", seller.pk)}
    payloads = {payload["variant_id"]: payload for payload in events("stock.adjusted")}
    by_stock_adjust = payloads.pop(str(twin.pk))
    assert payloads[str(first.pk)] == {
        **by_stock_adjust,
        "variant_id": str(first.pk),
        "sku": first.sku,
        "product_id": str(first.product_id),
        "product_name": first.product.name,
        "shop_id": str(first.product.shop_id),
    }
    assert (payloads[str(second.pk)]["on_hand"], payloads[str(second.pk)]["delta"]) == (3, 3)
    # In the order the variants were given.
    assert [p["variant_id"] for p in events("stock.adjusted")] == [
        str(first.pk),
        str(second.pk),
        str(twin.pk),
    ]


def test_initial_stock_of_many_variants_costs_the_same_statements_as_of_one(
    django_assert_num_queries,
):
    one = [VariantFactory()]
    many = [VariantFactory() for _ in range(30)]
    stock_initial_record(lines=[(v.pk, 2) for v in one])  # warm: the content types, the relay

    # savepoint, stock rows, lock, conditional update, ledger, events, release
    with django_assert_num_queries(7):
        stock_initial_record(lines=[(v.pk, 2) for v in many])

    assert StockMovement.objects.filter(stock_item__variant__in=many).count() == 30


def test_initial_stock_above_the_maximum_is_refused_and_changes_nothing():
    fine, full = VariantFactory(), VariantFactory()
    StockItemFactory(variant=full, on_hand=2_000_000_000)

    with pytest.raises(StockAboveMaximum):
        stock_initial_record(lines=[(fine.pk, 5), (full.pk, 1)])

    assert not StockItem.objects.filter(variant=fine).exists()
    assert StockItem.objects.get(variant=full).on_hand == 2_000_000_000
    assert StockMovement.objects.count() == 0
    assert events("stock.adjusted") == []


def test_initial_stock_of_an_unknown_variant_is_refused_and_changes_nothing():
    variant = VariantFactory()

    with pytest.raises(VariantNotFound):
        stock_initial_record(lines=[(variant.pk, 5), (uuid.uuid4(), 1)])

    assert StockItem.objects.count() == 0
    assert StockMovement.objects.count() == 0
    assert events("stock.adjusted") == []
