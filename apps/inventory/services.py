"""Stock writes. Every change is one conditional UPDATE with a row-count check (the database is the
arbiter, ARCHITECTURE.md §6), rows are touched in primary-key order so that concurrent multi-line
calls cannot deadlock, and every change appends exactly one StockMovement.

Each service runs in `transaction.atomic()`: a savepoint inside the caller's transaction (checkout
calls `stock_reserve` inside `order_place`), its own transaction otherwise. A failing call leaves
no trace either way, even when the caller catches the error and carries on.
"""

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple
from uuid import UUID

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now

from apps.catalog.cache import product_cache_bump
from apps.catalog.models import ProductVariant
from apps.events import emit
from apps.inventory.errors import (
    InsufficientReserved,
    InsufficientStock,
    InvalidAdjustment,
    InvalidStockQuantity,
    StockBelowReserved,
    VariantNotFound,
)
from apps.inventory.events import (
    STOCK_ADJUSTED,
    STOCK_LOW,
    stock_adjusted_payload,
    stock_low_payload,
)
from apps.inventory.models import StockItem, StockMovement

if TYPE_CHECKING:
    from apps.users.models import User


class StockLine(NamedTuple):
    variant_id: UUID
    quantity: int


ADJUST_REASONS = ("restock", "correction", "damage", "return")
# Reasons whose sign is implied: a restock adds, damage removes. A correction goes either way.
_POSITIVE_REASONS = ("restock", "return")
_NEGATIVE_REASONS = ("damage",)

Kind = StockMovement.Kind


# --- helpers ----------------------------------------------------------------------------------


def _merge_lines(lines: Sequence[StockLine] | Iterable[tuple[UUID, int]]) -> dict[UUID, int]:
    """Sum duplicate variants; every quantity must be a positive int."""
    merged: dict[UUID, int] = {}
    for index, (variant_id, quantity) in enumerate(lines):
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise InvalidStockQuantity(
                "Quantities must be positive integers.",
                errors=[
                    {
                        "pointer": f"/lines/{index}/quantity",
                        "code": "min_value",
                        "detail": "Must be a positive integer.",
                    }
                ],
            )
        key = variant_id if isinstance(variant_id, UUID) else UUID(str(variant_id))
        merged[key] = merged.get(key, 0) + quantity
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


def _emit_low_crossings(items: Iterable[StockItem], available_change: dict[UUID, int]) -> None:
    """`stock.low` when available went from above the threshold to at or below it."""
    for item in items:
        after = item.available
        before = after - available_change.get(item.pk, 0)
        if before > item.low_stock_threshold >= after:
            emit(STOCK_LOW, item.variant_id, stock_low_payload(item))


def _bump_product_caches(items: Iterable[StockItem]) -> None:
    """Product detail shows per-variant availability from a cache; the catalog's bump runs now
    and again after commit, so the next read after commit sees the new figures."""
    for product_id in {item.variant.product_id for item in items}:
        product_cache_bump(product_id)


def _record(
    items: Sequence[StockItem],
    *,
    kind: str,
    quantities: dict[UUID, int],
    note: str = "",
    actor: "User | None" = None,
    order_id: UUID | None = None,
) -> None:
    """One ledger row per item; `quantities` maps item pk → signed quantity."""
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
                order_id=order_id,
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
    reserved (or below zero) raises StockBelowReserved and changes nothing. Emits
    `stock.adjusted`, and `stock.low` when available crosses the threshold downwards.
    Raises InvalidAdjustment, StockBelowReserved, VariantNotFound.
    """
    if reason not in ADJUST_REASONS:
        raise InvalidAdjustment(
            f"reason must be one of {', '.join(ADJUST_REASONS)}.",
            errors=[{"pointer": "/reason", "code": "invalid_choice", "detail": "Unknown reason."}],
        )
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise InvalidAdjustment(
            "delta must be an integer.",
            errors=[{"pointer": "/delta", "code": "invalid", "detail": "Must be an integer."}],
        )
    if (reason in _POSITIVE_REASONS and delta < 0) or (reason in _NEGATIVE_REASONS and delta > 0):
        sign = "positive" if reason in _POSITIVE_REASONS else "negative"
        raise InvalidAdjustment(
            f"A {reason} must have a {sign} delta.",
            errors=[{"pointer": "/delta", "code": "invalid_sign", "detail": f"Must be {sign}."}],
        )
    variant_id = variant_id if isinstance(variant_id, UUID) else UUID(str(variant_id))

    with transaction.atomic():
        pk = _ensure_items([variant_id])[variant_id]
        if delta:
            rows = StockItem.objects.filter(pk=pk)
            if delta < 0:
                rows = rows.filter(on_hand__gte=F("reserved") - delta)
            if not rows.update(on_hand=F("on_hand") + delta, updated_at=Now()):
                current = StockItem.objects.get(pk=pk)
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
            _bump_product_caches([item])
    return item


def stock_reserve(
    *,
    lines: Sequence[StockLine],
    order_id: UUID | None = None,
    actor: "User | None" = None,
) -> None:
    """Reserve every line or none (duplicate variants are merged).

    One `UPDATE .. SET reserved = reserved + q WHERE on_hand - reserved >= q` per variant in
    StockItem pk order; the first that matches no row raises InsufficientStock (extra fields
    sku, variant_id, available, requested) and the savepoint undoes the earlier lines.
    Emits `stock.low` for variants whose available crosses the threshold downwards.
    """
    wanted = _merge_lines(lines)
    if not wanted:
        return
    with transaction.atomic():
        pks = _ensure_items(wanted)
        by_pk = {pks[variant_id]: (variant_id, qty) for variant_id, qty in wanted.items()}
        for pk in sorted(by_pk):
            variant_id, qty = by_pk[pk]
            updated = StockItem.objects.filter(pk=pk, on_hand__gte=F("reserved") + qty).update(
                reserved=F("reserved") + qty, updated_at=Now()
            )
            if not updated:
                available = (
                    StockItem.objects.filter(pk=pk).values_list("on_hand", "reserved").first()
                )
                left = available[0] - available[1] if available else 0
                sku = _sku(variant_id)
                raise InsufficientStock(
                    f"Only {left} units of {sku} are available; {qty} requested.",
                    sku=sku,
                    variant_id=str(variant_id),
                    available=left,
                    requested=qty,
                )
        items = _load(by_pk)
        quantities = {pk: qty for pk, (_, qty) in by_pk.items()}
        _record(items, kind=Kind.RESERVE, quantities=quantities, actor=actor, order_id=order_id)
        _emit_low_crossings(items, {pk: -qty for pk, qty in quantities.items()})
        _bump_product_caches(items)


def _decrease_reserved(
    *,
    lines: Sequence[StockLine],
    kind: str,
    order_id: UUID | None,
    actor: "User | None",
) -> None:
    """Release (reserved down) or fulfil (on_hand and reserved down) every line or none."""
    wanted = _merge_lines(lines)
    if not wanted:
        return
    with transaction.atomic():
        pks = _ensure_items(wanted)
        by_pk = {pks[variant_id]: (variant_id, qty) for variant_id, qty in wanted.items()}
        for pk in sorted(by_pk):
            variant_id, qty = by_pk[pk]
            changes = {"reserved": F("reserved") - qty, "updated_at": Now()}
            if kind == Kind.FULFIL:
                changes["on_hand"] = F("on_hand") - qty
            if not StockItem.objects.filter(pk=pk, reserved__gte=qty).update(**changes):
                reserved = StockItem.objects.filter(pk=pk).values_list("reserved", flat=True)[0]
                sku = _sku(variant_id)
                raise InsufficientReserved(
                    f"Only {reserved} units of {sku} are reserved; cannot {kind} {qty}.",
                    sku=sku,
                    variant_id=str(variant_id),
                    reserved=reserved,
                    requested=qty,
                )
        items = _load(by_pk)
        quantities = {pk: -qty for pk, (_, qty) in by_pk.items()}
        # No stock.low here: a release raises available, a fulfil leaves it unchanged.
        _record(items, kind=kind, quantities=quantities, actor=actor, order_id=order_id)
        _bump_product_caches(items)


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
    """Units of a fulfilled order come back to the shelf (refund): on_hand up, kind `return`."""
    wanted = _merge_lines(lines)
    if not wanted:
        return
    with transaction.atomic():
        pks = _ensure_items(wanted)
        by_pk = {pks[variant_id]: qty for variant_id, qty in wanted.items()}
        for pk in sorted(by_pk):
            StockItem.objects.filter(pk=pk).update(
                on_hand=F("on_hand") + by_pk[pk], updated_at=Now()
            )
        items = _load(by_pk)
        _record(items, kind=Kind.RETURN, quantities=by_pk, actor=actor, order_id=order_id)
        _bump_product_caches(items)


def stock_threshold_set(*, variant_id: UUID, low_stock_threshold: int) -> StockItem:
    """Set the low-stock threshold (creates the stock row if missing). No movement: the ledger
    records quantities only."""
    if isinstance(low_stock_threshold, bool) or not isinstance(low_stock_threshold, int):
        raise InvalidAdjustment("low_stock_threshold must be an integer.")
    if low_stock_threshold < 0:
        raise InvalidAdjustment(
            "low_stock_threshold must not be negative.",
            errors=[
                {
                    "pointer": "/low_stock_threshold",
                    "code": "min_value",
                    "detail": "Must be 0 or more.",
                }
            ],
        )
    variant_id = variant_id if isinstance(variant_id, UUID) else UUID(str(variant_id))
    with transaction.atomic():
        pk = _ensure_items([variant_id])[variant_id]
        StockItem.objects.filter(pk=pk).update(
            low_stock_threshold=low_stock_threshold, updated_at=Now()
        )
        (item,) = _load([pk])
    return item
