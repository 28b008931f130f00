"""Discount writes: seller CRUD and the redemption counters.

`discount_redeem`/`discount_release` run inside the caller's (order) transaction; the counter
changes by conditional UPDATEs, never read-compare-write, so `max_uses` and `max_uses_per_user`
hold under any concurrency.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps import events
from apps.catalog.models import Category, Product
from apps.core.errors import field_error
from apps.core.integrity import violated_constraint
from apps.core.money import quantize
from apps.discounts import errors
from apps.discounts import events as discount_events
from apps.discounts.models import Discount, DiscountRedemption
from apps.shops.models import Shop
from apps.users.models import User

WRITABLE_FIELDS = (
    "code",
    "name",
    "description",
    "type",
    "value",
    "max_discount_amount",
    "min_order_value",
    "max_uses",
    "max_uses_per_user",
    "starts_at",
    "ends_at",
    "is_active",
    "is_public",
    "applies_to",
    "combinable",
)


def _invalid(pointer: str, code: str, detail: str) -> errors.DiscountInvalid:
    return errors.DiscountInvalid(detail, errors=[field_error(pointer, code, detail)])


def _validate(discount: Discount) -> None:
    if discount.value is None or discount.value <= 0:
        raise _invalid("/value", "min_value", "value must be greater than 0.")
    if discount.type == Discount.Type.PERCENTAGE and discount.value > 100:
        raise _invalid("/value", "max_value", "A percentage must be in (0, 100].")
    if discount.starts_at and discount.ends_at and discount.ends_at <= discount.starts_at:
        raise _invalid("/ends_at", "invalid", "ends_at must be after starts_at.")
    if discount.max_uses is not None and discount.max_uses < discount.uses_count:
        raise _invalid(
            "/max_uses",
            "min_value",
            f"max_uses cannot be below the {discount.uses_count} uses already made.",
        )


def _resolve_targets(
    *, shop: Shop, product_ids: Sequence[UUID] | None, category_ids: Sequence[UUID] | None
) -> tuple[list[Product] | None, list[Category] | None]:
    products = categories = None
    if product_ids is not None:
        wanted = set(product_ids)
        products = list(Product.objects.filter(pk__in=wanted, shop=shop))
        missing = wanted - {p.pk for p in products}
        if missing:
            raise _invalid(
                "/product_ids",
                "does_not_exist",
                f"Products not in your shop: {', '.join(sorted(map(str, missing)))}.",
            )
    if category_ids is not None:
        wanted = set(category_ids)
        categories = list(
            Category.objects.filter(Q(shop__isnull=True) | Q(shop=shop), pk__in=wanted)
        )
        missing = wanted - {c.pk for c in categories}
        if missing:
            raise _invalid(
                "/category_ids",
                "does_not_exist",
                "Categories neither global nor of your shop: "
                f"{', '.join(sorted(map(str, missing)))}.",
            )
    return products, categories


def _check_targets(discount: Discount, *, has_products: bool, has_categories: bool) -> None:
    if discount.applies_to == Discount.AppliesTo.PRODUCTS and not has_products:
        raise _invalid("/product_ids", "required", "applies_to=products needs product_ids.")
    if discount.applies_to == Discount.AppliesTo.CATEGORIES and not has_categories:
        raise _invalid("/category_ids", "required", "applies_to=categories needs category_ids.")


def _current(discount: Discount, now: datetime) -> bool:
    """Within its window: started (or no start) and not ended."""
    return (discount.starts_at is None or discount.starts_at <= now) and (
        discount.ends_at is None or discount.ends_at > now
    )


def _announce_if_new(discount: Discount, *, was_live: bool) -> bool:
    """Mark `discount` announced (before it is saved) when it has just become public, active
    and current and its shop's followers were never told about it; the caller then emits
    `shop.new_discount`. A code is announced once: switching it off and on again is not news. A
    code that starts later is announced when it starts (`discounts_announce_started`)."""
    now = timezone.now()
    is_live = discount.is_public and discount.is_active and _current(discount, now)
    if not is_live or was_live or discount.announced_at is not None:
        return False
    discount.announced_at = now
    return True


def discounts_announce_started(*, now: datetime | None = None, limit: int = 500) -> int:
    """Announce the public, active codes whose window has opened since they became so (created
    or made public with a later `starts_at`), each once: `announced_at` is set by a conditional
    UPDATE, so two sweeps never announce one code twice. Codes of suspended shops and ended codes
    are not announced. Run by beat (`discounts.announce_started`). Returns how many."""
    now = now or timezone.now()
    due = (
        Discount.objects.filter(
            is_public=True,
            is_active=True,
            announced_at__isnull=True,
            shop__status=Shop.Status.ACTIVE,
        )
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .order_by("starts_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    announced = 0
    for pk in list(due):
        with transaction.atomic():
            if Discount.objects.filter(pk=pk, announced_at__isnull=True).update(announced_at=now):
                _emit_new_discount(Discount.objects.get(pk=pk))
                announced += 1
    return announced


def _emit_new_discount(discount: Discount) -> None:
    events.emit(
        discount_events.SHOP_NEW_DISCOUNT,
        discount.shop_id,
        discount_events.shop_new_discount(discount),
    )


CODE_CONSTRAINT = "discount_code_ci_unique_per_shop"


def _code_taken(discount: Discount) -> bool:
    """Whether another discount of the shop has this code (case-insensitive): the check for a
    database that does not name the violated constraint (SQLite; apps.core.integrity)."""
    others = Discount.objects.filter(shop_id=discount.shop_id, code__iexact=discount.code)
    return others.exclude(pk=discount.pk).exists()


def _save(discount: Discount) -> None:
    try:
        with transaction.atomic():
            discount.save()
    except IntegrityError as exc:
        constraint = violated_constraint(exc)
        if constraint == CODE_CONSTRAINT or (constraint is None and _code_taken(discount)):
            raise errors.DiscountCodeTaken(
                f"Your shop already has a discount with the code {discount.code}.",
                discount_code=discount.code,
            ) from exc
        raise


@transaction.atomic
def discount_create(
    *,
    shop: Shop,
    product_ids: Sequence[UUID] | None = None,
    category_ids: Sequence[UUID] | None = None,
    **fields: Any,
) -> Discount:
    """Create a shop's code. Emits `shop.new_discount` when it is public and active (an
    inactive or private code is announced by the update that makes it public and active).

    Raises DiscountInvalid (400 with pointers) and DiscountCodeTaken (409).
    """
    unknown = set(fields) - set(WRITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not writable: {sorted(unknown)}")
    discount = Discount(shop=shop, **fields)
    _validate(discount)
    products, categories = _resolve_targets(
        shop=shop, product_ids=product_ids, category_ids=category_ids
    )
    _check_targets(discount, has_products=bool(products), has_categories=bool(categories))
    announce = _announce_if_new(discount, was_live=False)
    _save(discount)
    if products:
        discount.products.set(products)
    if categories:
        discount.categories.set(categories)
    if announce:
        _emit_new_discount(discount)
    return discount


@transaction.atomic
def discount_update(
    *,
    discount: Discount,
    product_ids: Sequence[UUID] | None = None,
    category_ids: Sequence[UUID] | None = None,
    **fields: Any,
) -> Discount:
    """Partial update; `shop` and `uses_count` are never writable here. Emits
    `shop.new_discount` when the update makes a never announced code public and active (turns
    `is_public` on while active, or `is_active` on while public).

    Raises DiscountInvalid (400 with pointers) and DiscountCodeTaken (409).
    """
    unknown = set(fields) - set(WRITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not writable: {sorted(unknown)}")
    locked = Discount.objects.select_for_update().get(pk=discount.pk)
    was_live = locked.is_public and locked.is_active
    for name, value in fields.items():
        setattr(locked, name, value)
    _validate(locked)
    products, categories = _resolve_targets(
        shop=locked.shop, product_ids=product_ids, category_ids=category_ids
    )
    has_products = bool(products) if products is not None else locked.products.exists()
    has_categories = bool(categories) if categories is not None else locked.categories.exists()
    _check_targets(locked, has_products=has_products, has_categories=has_categories)
    announce = _announce_if_new(locked, was_live=was_live)
    _save(locked)
    if products is not None:
        locked.products.set(products)
    if categories is not None:
        locked.categories.set(categories)
    if announce:
        _emit_new_discount(locked)
    return locked


@transaction.atomic
def discount_delete(*, discount: Discount) -> bool:
    """Delete an unused code; a code that was ever redeemed is deactivated instead so its
    redemption history stays. Returns True when the row was deleted."""
    if DiscountRedemption.objects.filter(discount_id=discount.pk).exists():
        Discount.objects.filter(pk=discount.pk).update(is_active=False, updated_at=timezone.now())
        return False
    discount.delete()
    return True


def _refusal_for(discount: Discount, now: datetime) -> errors.DiscountRefused:
    if not discount.is_active:
        return errors.DiscountInactive(
            f"The code {discount.code} is not active.", discount_code=discount.code
        )
    if discount.starts_at is not None and now < discount.starts_at:
        return errors.DiscountNotStarted(
            f"The code {discount.code} is not valid yet.", discount_code=discount.code
        )
    if discount.ends_at is not None and now >= discount.ends_at:
        return errors.DiscountExpired(
            f"The code {discount.code} has expired.", discount_code=discount.code
        )
    return errors.DiscountUsageLimit(
        f"The code {discount.code} is used up.", discount_code=discount.code
    )


def discount_redeem(
    *,
    discount_id: UUID,
    user: User,
    order_id: UUID,
    amount: Decimal,
    now: datetime | None = None,
) -> DiscountRedemption:
    """Record one use of a code by `order_id`, inside the caller's transaction.

    The use is counted by one conditional UPDATE (active, within its window and
    `uses_count < max_uses`), which also row-locks the discount until the caller commits, so
    the per-user count that follows is serialised with every other redemption of the code.
    Raises DiscountNotFound, DiscountInactive/NotStarted/Expired, DiscountUsageLimit or
    DiscountUserUsageLimit; on any of them nothing of this call remains.
    """
    now = now or timezone.now()
    with transaction.atomic():
        window = (Q(starts_at__isnull=True) | Q(starts_at__lte=now)) & (
            Q(ends_at__isnull=True) | Q(ends_at__gt=now)
        )
        updated = (
            Discount.objects.filter(pk=discount_id, is_active=True)
            .filter(window)
            .filter(Q(max_uses__isnull=True) | Q(uses_count__lt=F("max_uses")))
            .update(uses_count=F("uses_count") + 1)
        )
        if not updated:
            discount = Discount.objects.filter(pk=discount_id).first()
            if discount is None:
                raise errors.DiscountNotFound("No such discount code.")
            raise _refusal_for(discount, now)
        discount = Discount.objects.only("code", "max_uses_per_user").get(pk=discount_id)
        if discount.max_uses_per_user is not None:
            used = DiscountRedemption.objects.filter(
                discount_id=discount_id, user=user, released_at__isnull=True
            ).count()
            if used >= discount.max_uses_per_user:
                raise errors.DiscountUserUsageLimit(
                    f"You have already used the code {discount.code} "
                    f"{discount.max_uses_per_user} time(s).",
                    discount_code=discount.code,
                    max_uses_per_user=discount.max_uses_per_user,
                )
        return DiscountRedemption.objects.create(
            discount_id=discount_id, user=user, order_id=order_id, amount=quantize(amount)
        )


@dataclass(frozen=True)
class RedemptionInput:
    discount_id: UUID
    order_id: UUID
    amount: Decimal


def discounts_redeem(
    *, user: User, redemptions: Iterable[RedemptionInput], now: datetime | None = None
) -> list[DiscountRedemption]:
    """Redeem several codes in discount-id order (a fixed lock order: no deadlocks between
    two checkouts using the same codes). All or nothing within the caller's transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        return [
            discount_redeem(
                discount_id=r.discount_id, user=user, order_id=r.order_id, amount=r.amount, now=now
            )
            for r in sorted(redemptions, key=lambda r: str(r.discount_id))
        ]


def discount_release(*, order_id: UUID) -> int:
    """Give back the uses redeemed by `order_id` (its cancellation). Idempotent: a second call
    releases nothing. Returns how many redemptions were released."""
    released = 0
    now = timezone.now()
    with transaction.atomic():
        redemptions = list(
            DiscountRedemption.objects.filter(order_id=order_id, released_at__isnull=True)
            .order_by("discount_id")
            .values_list("pk", "discount_id")
        )
        for redemption_id, discount_id in redemptions:
            if DiscountRedemption.objects.filter(pk=redemption_id, released_at__isnull=True).update(
                released_at=now
            ):
                Discount.objects.filter(pk=discount_id, uses_count__gt=0).update(
                    uses_count=F("uses_count") - 1
                )
                released += 1
    return released
