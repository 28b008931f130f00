"""Stock writes. The database is the arbiter (docs/architecture.md): rows are locked in
primary-key order so that concurrent multi-line calls cannot deadlock, every change is a
conditional UPDATE with a row-count check, and every change appends exactly one StockMovement.

A multi-line call (reserve, release, fulfil, return) costs the same few statements whatever the
number of lines: one `SELECT .. FOR UPDATE` of the stock rows ordered by pk (on PostgreSQL the
rows are locked in that order), the all-or-nothing check in Python against the locked rows (they
cannot change until we commit), one `UPDATE .. SET x = x ± CASE pk WHEN .. END` that keeps the
conditional WHERE as a safety net with its row count checked, and one bulk INSERT of movements.

Each service runs in `transaction.atomic()`: a savepoint inside the caller's transaction (checkout
calls `stock_reserve` inside `order_place`), its own transaction otherwise. A failing call leaves
no trace either way, even when the caller catches the error and carries on.
"""

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from uuid import UUID

from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Now

from apps.catalog.cache import product_cache_bump, product_cache_bump_many
from apps.catalog.models import ProductVariant
from apps.core.errors import field_error
from apps.events import emit, emit_many
from apps.inventory.errors import (
    InsufficientReserved,
    InsufficientStock,
    InvalidAdjustment,
    InvalidStockQuantity,
    StockAboveMaximum,
    StockBelowReserved,
    VariantNotFound,
)
from apps.inventory.events import (
    STOCK_ADJUSTED,
    STOCK_LOW,
    stock_adjusted_payload,
    stock_low_payload,
)
from apps.inventory.metrics import STOCK_OUTS, STOCK_REFUSALS
from apps.inventory.models import StockItem, StockMovement

if TYPE_CHECKING:
    from apps.users.models import User


class StockLine(NamedTuple):
    variant_id: UUID
    quantity: int
    # The order this line belongs to, when one call serves the orders of a whole checkout (one
    # order per shop); None: the call's `order_id`. It only goes into the ledger.
    order_id: UUID | None = None


class _Wanted(NamedTuple):
    quantity: int
    order_id: UUID | None


ADJUST_REASONS = ("restock", "correction", "damage", "return")
# The most a seller's adjustments can put on hand: below PostgreSQL's integer maximum
# (2,147,483,647), with room left for returns of goods already sold.
STOCK_MAX = 2_000_000_000
# Reasons whose sign is implied: a restock adds, damage removes. A correction goes either way.
_POSITIVE_REASONS = ("restock", "return")
_NEGATIVE_REASONS = ("damage",)

Kind = StockMovement.Kind


# --- helpers ----------------------------------------------------------------------------------


def _merge_lines(
    lines: Sequence[StockLine] | Iterable[tuple[UUID, int]], order_id: UUID | None = None
) -> dict[UUID, _Wanted]:
    """Sum duplicate variants; every quantity must be a positive int. A line's own order id wins
    over the call's `order_id`; one variant cannot belong to two orders of one call."""
    merged: dict[UUID, _Wanted] = {}
    for index, line in enumerate(lines):
        variant_id, quantity = line[0], line[1]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise InvalidStockQuantity(
                "Quantities must be positive integers.",
                errors=[
                    field_error(
                        f"/lines/{index}/quantity", "min_value", "Must be a positive integer."
                    )
                ],
            )
        # A third item is the line's order id (StockLine.order_id); mypy cannot narrow a union
        # of tuple types by len().
        line_order = cast("UUID | None", line[2] if len(line) > 2 else None) or order_id
        key = variant_id if isinstance(variant_id, UUID) else UUID(str(variant_id))
        if key in merged:
            if merged[key].order_id != line_order:
                raise ValueError(f"variant {key} appears in two orders of one stock call")
            quantity += merged[key].quantity
        merged[key] = _Wanted(quantity, line_order)
    return merged


def _ensure_items(variant_ids: Iterable[UUID]) -> dict[UUID, UUID]:
    """Map variant id → StockItem pk, creating missing stock rows (INSERT .. ON CONFLICT DO
    NOTHING, so two concurrent first writes for a variant both end up on the same row)."""
    wanted = set(variant_ids)
    found = dict(StockItem.objects.filter(variant_id__in=wanted).values_list("variant_id", "pk"))
    missing = wanted - found.keys()
    if missing:
        existing = set(ProductVariant.objects.filter(pk__in=missing).values_list("pk", flat=True))
        unknown = missing - existing
        if unknown:
            first = sorted(map(str, unknown))[0]
            raise VariantNotFound(f"No variant {first}.", variant_id=first)
        StockItem.objects.bulk_create(
            [StockItem(variant_id=variant_id) for variant_id in missing], ignore_conflicts=True
        )
        found.update(
            StockItem.objects.filter(variant_id__in=missing).values_list("variant_id", "pk")
        )
    return found


def _load(pks: Iterable[UUID]) -> list[StockItem]:
    """Current rows with what events and responses need, in pk order. Called after our UPDATEs,
    while this transaction holds the row locks, so the values are exactly the ones we wrote."""
    return list(
        StockItem.objects.filter(pk__in=list(pks))
        .select_related("variant__product__shop")
        .order_by("pk")
    )


def _lock(variant_ids: Iterable[UUID]) -> list[StockItem]:
    """The stock rows of these variants, locked until the end of the transaction, in pk order,
    with the variant's sku and product id (the variant row is not locked: `of=("self",)`).
    PostgreSQL sorts before it locks (LockRows sits above the Sort), so every caller takes the
    locks in the same global order and concurrent multi-line calls cannot deadlock. SQLite has
    no row locks: its IMMEDIATE transactions hold the database's write lock from the first
    statement. Variants without a stock row are absent. Events need the product and the shop
    too; `stock.low` (rare) loads them for the rows that cross (_emit_low_crossings)."""
    return list(
        StockItem.objects.filter(variant_id__in=list(variant_ids))
        .select_related("variant")
        .only(
            "id",
            "variant_id",
            "on_hand",
            "reserved",
            "low_stock_threshold",
            "variant__id",
            "variant__sku",
            "variant__product_id",
        )
        .order_by("pk")
        .select_for_update(of=("self",))
    )


def _without_rows(wanted: Iterable[UUID], items: Iterable[StockItem]) -> list[UUID]:
    """Wanted variants that have no stock row (in id order); VariantNotFound if one of them is
    not a variant at all (one query, only when a row is missing)."""
    missing = set(wanted) - {item.variant_id for item in items}
    if not missing:
        return []
    existing = set(ProductVariant.objects.filter(pk__in=missing).values_list("pk", flat=True))
    unknown = missing - existing
    if unknown:
        first = sorted(map(str, unknown))[0]
        raise VariantNotFound(f"No variant {first}.", variant_id=first)
    return sorted(missing, key=str)


def _per_row(quantities: dict[UUID, int]) -> Case:
    """`CASE id WHEN <pk> THEN <quantity> .. END`: each row's own quantity in one statement."""
    return Case(
        *(When(pk=pk, then=Value(quantity)) for pk, quantity in quantities.items()),
        output_field=IntegerField(),
    )


def _move(quantities: dict[UUID, int], *, guard: Q | None = None, **changes: Any) -> int:
    """One UPDATE of every stock row in `quantities` (pk -> quantity) setting `changes` (column
    -> expression, usually `F(column) ± _per_row(quantities)`), only where `guard` holds (the
    conditional update's WHERE). Returns the number of rows updated: the caller checks it."""
    rows = StockItem.objects.filter(pk__in=list(quantities))
    if guard is not None:
        rows = rows.filter(guard)
    return rows.update(**changes, updated_at=Now())


def insufficient_stock(
    *, variant_id: UUID, sku: str, available: int, requested: int
) -> InsufficientStock:
    """The refusal stock_reserve raises, for callers that refuse from a read they already made
    (order placement refuses from its pricing read before writing anything)."""
    STOCK_REFUSALS.inc()
    available = max(available, 0)
    return InsufficientStock(
        f"Only {available} units of {sku} are available; {requested} requested.",
        sku=sku,
        variant_id=str(variant_id),
        available=available,
        requested=requested,
    )


def _insufficient_reserved(
    variant_id: UUID, sku: str, reserved: int, requested: int, kind: str
) -> InsufficientReserved:
    return InsufficientReserved(
        f"Only {reserved} units of {sku} are reserved; cannot {kind} {requested}.",
        sku=sku,
        variant_id=str(variant_id),
        reserved=reserved,
        requested=requested,
    )


def _fresh(items: Sequence[StockItem]) -> dict[UUID, tuple[int, int]]:
    """pk → (on_hand, reserved) as the database has them now (the safety-net path only)."""
    return {
        pk: (on_hand, reserved)
        for pk, on_hand, reserved in StockItem.objects.filter(
            pk__in=[item.pk for item in items]
        ).values_list("pk", "on_hand", "reserved")
    }


def _emit_low_crossings(items: Iterable[StockItem], available_change: dict[UUID, int]) -> None:
    """`stock.low` when available went from above the threshold to at or below it. The rows that
    cross are loaded again with their product and shop (one query; we hold their locks, so they
    hold exactly what we wrote)."""
    crossing = [
        item.pk
        for item in items
        if item.available - available_change.get(item.pk, 0)
        > item.low_stock_threshold
        >= item.available
    ]
    for item in _load(crossing) if crossing else ():
        emit(STOCK_LOW, item.variant_id, stock_low_payload(item))


def _count_stock_outs(items: Iterable[StockItem], available_change: dict[UUID, int]) -> None:
    """Counts the variants whose available went from above zero to zero, once committed."""
    emptied = sum(
        1
        for item in items
        if item.available <= 0 < item.available - available_change.get(item.pk, 0)
    )
    if emptied:
        transaction.on_commit(lambda: STOCK_OUTS.inc(emptied))


def _bump_product_caches(items: Iterable[StockItem], available_change: dict[UUID, int]) -> None:
    """Product detail shows per-variant availability from a cache; the catalog's bump runs now
    and again after commit, so the next read after commit sees the new figures. Public list
    pages show only whether a product is in stock: they are invalidated only when a variant's
    available crosses zero (every order would otherwise empty the list cache)."""
    crosses: dict[UUID, bool] = {}
    for item in items:
        after = item.available
        before = after - available_change.get(item.pk, 0)
        product_id = item.variant.product_id
        crosses[product_id] = crosses.get(product_id, False) or ((before > 0) != (after > 0))
    for product_id, lists in crosses.items():
        product_cache_bump(product_id, lists=lists)


def _record(
    items: Sequence[StockItem],
    *,
    kind: str,
    quantities: dict[UUID, int],
    note: str = "",
    actor: "User | None" = None,
    order_id: UUID | None = None,
    order_ids: dict[UUID, UUID | None] | None = None,
) -> None:
    """One ledger row per item (one INSERT); `quantities` maps item pk → signed quantity,
    `order_ids` item pk → order id (else `order_id` for all)."""
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                stock_item=item,
                kind=kind,
                quantity=quantities[item.pk],
                on_hand_after=item.on_hand,
                reserved_after=item.reserved,
                note=note,
                actor=actor,
                order_id=order_ids.get(item.pk) if order_ids is not None else order_id,
            )
            for item in items
        ]
    )


def _sku(variant_id: UUID) -> str:
    return ProductVariant.objects.filter(pk=variant_id).values_list("sku", flat=True).first() or ""


# --- services ---------------------------------------------------------------------------------


def stock_adjust(
    *,
    variant_id: UUID,
    delta: int,
    reason: str,
    note: str = "",
    actor: "User | None" = None,
) -> StockItem:
    """Change on_hand by `delta` for a seller's reason; creates the stock row if missing.

    `restock` and `return` must add, `damage` must remove, `correction` goes either way. A delta
    of 0 only makes sure the stock row exists (no movement, no event). Going below what is
    reserved (or below zero) raises StockBelowReserved, above STOCK_MAX StockAboveMaximum, and
    changes nothing. Emits
    `stock.adjusted`, and `stock.low` when available crosses the threshold downwards.
    Raises InvalidAdjustment, StockAboveMaximum, StockBelowReserved, VariantNotFound.
    """
    if reason not in ADJUST_REASONS:
        raise InvalidAdjustment(
            f"reason must be one of {', '.join(ADJUST_REASONS)}.",
            errors=[field_error("/reason", "invalid_choice", "Unknown reason.")],
        )
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise InvalidAdjustment(
            "delta must be an integer.",
            errors=[field_error("/delta", "invalid", "Must be an integer.")],
        )
    if (reason in _POSITIVE_REASONS and delta < 0) or (reason in _NEGATIVE_REASONS and delta > 0):
        sign = "positive" if reason in _POSITIVE_REASONS else "negative"
        raise InvalidAdjustment(
            f"A {reason} must have a {sign} delta.",
            errors=[field_error("/delta", "invalid_sign", f"Must be {sign}.")],
        )
    variant_id = variant_id if isinstance(variant_id, UUID) else UUID(str(variant_id))

    with transaction.atomic():
        pk = _ensure_items([variant_id])[variant_id]
        if delta:
            rows = StockItem.objects.filter(pk=pk)
            if delta < 0:
                rows = rows.filter(on_hand__gte=F("reserved") - delta)
            else:
                rows = rows.filter(on_hand__lte=STOCK_MAX - delta)
            if not rows.update(on_hand=F("on_hand") + delta, updated_at=Now()):
                current = StockItem.objects.get(pk=pk)
                if delta > 0:
                    raise StockAboveMaximum(
                        f"Adding {delta} would make {current.on_hand + delta} on hand, above "
                        f"the maximum of {STOCK_MAX}.",
                        variant_id=str(variant_id),
                        sku=_sku(variant_id),
                        on_hand=current.on_hand,
                        maximum=STOCK_MAX,
                        delta=delta,
                    )
                raise StockBelowReserved(
                    f"Removing {-delta} would leave {current.on_hand + delta} on hand, "
                    f"below the {current.reserved} reserved.",
                    variant_id=str(variant_id),
                    sku=_sku(variant_id),
                    on_hand=current.on_hand,
                    reserved=current.reserved,
                    delta=delta,
                )
        (item,) = _load([pk])
        if delta:
            _record([item], kind=reason, quantities={pk: delta}, note=note, actor=actor)
            emit(
                STOCK_ADJUSTED,
                variant_id,
                stock_adjusted_payload(item, delta=delta, reason=reason),
            )
            _emit_low_crossings([item], {pk: delta})
            _count_stock_outs([item], {pk: delta})
            _bump_product_caches([item], {pk: delta})
    return item


def stock_count_set(
    *, variant_id: UUID, on_hand: int, note: str = "", actor: "User | None" = None
) -> StockItem:
    """Set on_hand to a counted figure (a stock take, a stock-level import): a `correction` of
    the difference, through `stock_adjust`, computed while holding the row's lock so that a
    sale in between is never undone. Nothing is recorded when the count already matches.
    Raises StockBelowReserved (a count below what is reserved), StockAboveMaximum,
    VariantNotFound."""
    if isinstance(on_hand, bool) or not isinstance(on_hand, int) or on_hand < 0:
        raise InvalidAdjustment(
            "on_hand must be a whole number of 0 or more.",
            errors=[field_error("/on_hand", "min_value", "Must be 0 or more.")],
        )
    variant_id = variant_id if isinstance(variant_id, UUID) else UUID(str(variant_id))
    with transaction.atomic():
        pk = _ensure_items([variant_id])[variant_id]
        counted = StockItem.objects.select_for_update().values_list("on_hand", flat=True)
        delta = on_hand - counted.get(pk=pk)
        return stock_adjust(
            variant_id=variant_id, delta=delta, reason="correction", note=note, actor=actor
        )


def stock_reserve(
    *,
    lines: Sequence[StockLine],
    order_id: UUID | None = None,
    actor: "User | None" = None,
    savepoint: bool = True,
) -> None:
    """Reserve every line or none (duplicate variants are merged).

    Locks the stock rows in pk order, checks every line against the locked rows (the first short
    one in pk order raises InsufficientStock with sku, variant_id, available, requested; a
    variant without a stock row has 0 available) and then reserves them all in one
    `UPDATE .. SET reserved = reserved + CASE .. WHERE on_hand >= reserved + CASE ..` whose row
    count must be the number of lines. Five statements (savepoint, lock, update, ledger insert,
    release) for any number of lines. Movements carry each line's `order_id` (else the call's).
    Emits `stock.low` for variants whose available crosses the threshold downwards.

    `savepoint=False`, for a caller whose transaction is rolled back whole on any error (order
    placement): no savepoint of its own, three statements; a failure then dooms the caller's
    transaction instead of undoing only this call.
    """
    wanted = _merge_lines(lines, order_id)
    if not wanted:
        return
    with transaction.atomic(savepoint=savepoint):
        items = _lock(wanted)
        for item in items:
            quantity = wanted[item.variant_id].quantity
            if item.available < quantity:
                raise insufficient_stock(
                    variant_id=item.variant_id,
                    sku=item.variant.sku,
                    available=item.available,
                    requested=quantity,
                )
        if missing := _without_rows(wanted, items):
            raise insufficient_stock(
                variant_id=missing[0],
                sku=_sku(missing[0]),
                available=0,
                requested=wanted[missing[0]].quantity,
            )
        quantities = {item.pk: wanted[item.variant_id].quantity for item in items}
        per_row = _per_row(quantities)
        updated = _move(
            quantities,
            reserved=F("reserved") + per_row,
            guard=Q(on_hand__gte=F("reserved") + per_row),
        )
        if updated != len(quantities):
            # Not reachable while the rows are locked; the conditional UPDATE is the arbiter all
            # the same. Name a line that is short now; the savepoint undoes the partial update.
            fresh = _fresh(items)
            short = next(
                (i for i in items if fresh[i.pk][0] - fresh[i.pk][1] < quantities[i.pk]), items[0]
            )
            raise insufficient_stock(
                variant_id=short.variant_id,
                sku=short.variant.sku,
                available=fresh[short.pk][0] - fresh[short.pk][1],
                requested=quantities[short.pk],
            )
        for item in items:
            item.reserved += quantities[item.pk]
        _record(
            items,
            kind=Kind.RESERVE,
            quantities=quantities,
            actor=actor,
            order_ids={item.pk: wanted[item.variant_id].order_id for item in items},
        )
        taken = {pk: -quantity for pk, quantity in quantities.items()}
        _emit_low_crossings(items, taken)
        _count_stock_outs(items, taken)
        _bump_product_caches(items, taken)


def _decrease_reserved(
    *,
    lines: Sequence[StockLine],
    kind: str,
    order_id: UUID | None,
    actor: "User | None",
) -> None:
    """Release (reserved down) or fulfil (on_hand and reserved down) every line or none, in the
    same five statements as stock_reserve."""
    wanted = _merge_lines(lines, order_id)
    if not wanted:
        return
    with transaction.atomic():
        items = _lock(wanted)
        for item in items:
            quantity = wanted[item.variant_id].quantity
            if item.reserved < quantity:
                raise _insufficient_reserved(
                    item.variant_id, item.variant.sku, item.reserved, quantity, kind
                )
        if missing := _without_rows(wanted, items):
            raise _insufficient_reserved(
                missing[0], _sku(missing[0]), 0, wanted[missing[0]].quantity, kind
            )
        quantities = {item.pk: wanted[item.variant_id].quantity for item in items}
        per_row = _per_row(quantities)
        changes = {"reserved": F("reserved") - per_row}
        if kind == Kind.FULFIL:
            changes["on_hand"] = F("on_hand") - per_row
        updated = _move(quantities, guard=Q(reserved__gte=per_row), **changes)
        if updated != len(quantities):
            # As in stock_reserve: not reachable while the rows are locked.
            fresh = _fresh(items)
            short = next((i for i in items if fresh[i.pk][1] < quantities[i.pk]), items[0])
            raise _insufficient_reserved(
                short.variant_id, short.variant.sku, fresh[short.pk][1], quantities[short.pk], kind
            )
        for item in items:
            item.reserved -= quantities[item.pk]
            if kind == Kind.FULFIL:
                item.on_hand -= quantities[item.pk]
        # No stock.low here: a release raises available, a fulfil leaves it unchanged.
        _record(
            items,
            kind=kind,
            quantities={pk: -quantity for pk, quantity in quantities.items()},
            actor=actor,
            order_ids={item.pk: wanted[item.variant_id].order_id for item in items},
        )
        # A release gives the units back to available; a fulfil leaves available as it was.
        freed = quantities if kind == Kind.RELEASE else {}
        _bump_product_caches(items, freed)


def stock_release(
    *,
    lines: Sequence[StockLine],
    order_id: UUID | None = None,
    actor: "User | None" = None,
) -> None:
    """Give reserved units back to available (order cancelled or expired), all lines or none.
    Raises InsufficientReserved if a line releases more than is reserved."""
    _decrease_reserved(lines=lines, kind=Kind.RELEASE, order_id=order_id, actor=actor)


def stock_fulfil(
    *,
    lines: Sequence[StockLine],
    order_id: UUID | None = None,
    actor: "User | None" = None,
) -> None:
    """Reserved units leave the warehouse (order shipped): on_hand and reserved both go down by
    the quantity, available is unchanged. All lines or none; raises InsufficientReserved."""
    _decrease_reserved(lines=lines, kind=Kind.FULFIL, order_id=order_id, actor=actor)


def stock_return(
    *,
    lines: Sequence[StockLine],
    order_id: UUID | None = None,
    actor: "User | None" = None,
) -> None:
    """Units of a fulfilled order come back to the shelf (refund): on_hand up, kind `return`.
    Creates missing stock rows. One UPDATE for all lines, as in stock_reserve."""
    wanted = _merge_lines(lines, order_id)
    if not wanted:
        return
    with transaction.atomic():
        items = _lock(wanted)
        if _without_rows(wanted, items):
            # A row deleted since the order was placed (rare): create it, then lock them all.
            _ensure_items(wanted)
            items = _lock(wanted)
        quantities = {item.pk: wanted[item.variant_id].quantity for item in items}
        _move(quantities, on_hand=F("on_hand") + _per_row(quantities))
        for item in items:
            item.on_hand += quantities[item.pk]
        _record(
            items,
            kind=Kind.RETURN,
            quantities=quantities,
            actor=actor,
            order_ids={item.pk: wanted[item.variant_id].order_id for item in items},
        )
        _bump_product_caches(items, quantities)


def stock_threshold_set(*, variant_id: UUID, low_stock_threshold: int) -> StockItem:
    """Set the low-stock threshold (creates the stock row if missing). No movement: the ledger
    records quantities only."""
    if isinstance(low_stock_threshold, bool) or not isinstance(low_stock_threshold, int):
        raise InvalidAdjustment("low_stock_threshold must be an integer.")
    if low_stock_threshold < 0:
        raise InvalidAdjustment(
            "low_stock_threshold must not be negative.",
            errors=[field_error("/low_stock_threshold", "min_value", "Must be 0 or more.")],
        )
    variant_id = variant_id if isinstance(variant_id, UUID) else UUID(str(variant_id))
    with transaction.atomic():
        pk = _ensure_items([variant_id])[variant_id]
        StockItem.objects.filter(pk=pk).update(
            low_stock_threshold=low_stock_threshold, updated_at=Now()
        )
        (item,) = _load([pk])
    return item


def stock_initial_record(
    *, lines: Sequence[tuple[UUID, int]], actor: "User | None" = None, note: str = "initial stock"
) -> list[StockItem]:
    """Put the first units of new variants on hand (product creation, product imports): for each
    line what `stock_adjust(reason="restock")` records (the stock row, a conditional UPDATE, a
    `restock` movement, `stock.adjusted`, `stock.low` on a crossing, the product caches), for any
    number of lines in a fixed handful of statements: the stock rows (one INSERT .. ON CONFLICT
    DO NOTHING), their lock in pk order, one conditional UPDATE whose row count is checked, one
    INSERT of movements and one of events. Quantities must be positive integers (duplicate
    variants are summed); the rows come back, and the ledger and events are written, in the
    order given. Raises VariantNotFound, StockAboveMaximum; nothing changes then.
    Registered with the catalog (apps.inventory.apps) as its initial-stock recorder."""
    wanted = {variant_id: line.quantity for variant_id, line in _merge_lines(lines).items()}
    if not wanted:
        return []
    with transaction.atomic():
        StockItem.objects.bulk_create(
            [StockItem(variant_id=variant_id) for variant_id in wanted], ignore_conflicts=True
        )
        # Joined with the variant (an inner join): a stock row of no variant is not found.
        items = list(
            StockItem.objects.filter(variant_id__in=list(wanted))
            .select_related("variant__product")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        if len(items) != len(wanted):
            missing = sorted(map(str, set(wanted) - {item.variant_id for item in items}))[0]
            raise VariantNotFound(f"No variant {missing}.", variant_id=missing)
        quantities = {item.pk: wanted[item.variant_id] for item in items}
        quantity = _per_row(quantities)
        updated = _move(
            quantities, guard=Q(on_hand__lte=STOCK_MAX - quantity), on_hand=F("on_hand") + quantity
        )
        if updated != len(quantities):
            over = next(i for i in items if i.on_hand + quantities[i.pk] > STOCK_MAX)
            raise StockAboveMaximum(
                f"Adding {quantities[over.pk]} would make {over.on_hand + quantities[over.pk]} "
                f"on hand, above the maximum of {STOCK_MAX}.",
                variant_id=str(over.variant_id),
                sku=over.variant.sku,
                on_hand=over.on_hand,
                maximum=STOCK_MAX,
                delta=quantities[over.pk],
            )
        for item in items:
            item.on_hand += quantities[item.pk]
        # The ledger and the events in the callers' order (the variants'), not the locks'.
        position = {variant_id: index for index, variant_id in enumerate(wanted)}
        items.sort(key=lambda item: position[item.variant_id])
        StockMovement.objects.bulk_create(
            [
                StockMovement(
                    stock_item=item,
                    kind=Kind.RESTOCK,
                    quantity=quantities[item.pk],
                    on_hand_after=item.on_hand,
                    reserved_after=item.reserved,
                    note=note,
                    actor=actor,
                )
                for item in items
            ]
        )
        emit_many(
            STOCK_ADJUSTED,
            [
                (
                    item.variant_id,
                    stock_adjusted_payload(item, delta=quantities[item.pk], reason=Kind.RESTOCK),
                )
                for item in items
            ],
        )
        _emit_low_crossings(items, quantities)
        product_cache_bump_many({item.variant.product_id for item in items})
    return items
