"""Pure discount evaluation: eligibility, eligible subtotal, amount and per-line allocation.

No database access and no clock of its own: callers load the rules and lines beforehand (see
`DiscountRule.from_model`) and pass `now`. The validate endpoint, checkout review and order
placement all call these functions, so a code is judged the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from apps.core.money import CENT, ZERO, quantize
from apps.discounts import errors

if TYPE_CHECKING:
    from apps.discounts.models import Discount

PERCENTAGE = "percentage"
FIXED_AMOUNT = "fixed_amount"


@dataclass(frozen=True)
class DiscountRule:
    """The data of a Discount that evaluation needs, detached from the ORM."""

    id: UUID
    shop_id: UUID
    code: str
    type: str
    value: Decimal
    max_discount_amount: Decimal | None = None
    min_order_value: Decimal = ZERO
    max_uses: int | None = None
    max_uses_per_user: int | None = None
    uses_count: int = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    is_active: bool = True
    applies_to: str = "all"
    product_ids: frozenset[UUID] = frozenset()
    category_paths: tuple[str, ...] = ()
    combinable: bool = False

    @classmethod
    def from_model(cls, discount: Discount) -> DiscountRule:
        """Build from a Discount whose `products` and `categories` are prefetched."""
        return cls(
            id=discount.id,
            shop_id=discount.shop_id,
            code=discount.code,
            type=discount.type,
            value=discount.value,
            max_discount_amount=discount.max_discount_amount,
            min_order_value=discount.min_order_value,
            max_uses=discount.max_uses,
            max_uses_per_user=discount.max_uses_per_user,
            uses_count=discount.uses_count,
            starts_at=discount.starts_at,
            ends_at=discount.ends_at,
            is_active=discount.is_active,
            applies_to=discount.applies_to,
            product_ids=frozenset(p.pk for p in discount.products.all()),
            category_paths=tuple(c.path for c in discount.categories.all()),
            combinable=discount.combinable,
        )


@dataclass(frozen=True)
class DiscountableLine:
    """A purchasable line of one shop: `amount` is unit price x quantity."""

    key: Hashable
    product_id: UUID
    category_path: str | None
    amount: Decimal


@dataclass(frozen=True)
class DiscountEvaluation:
    discount_id: UUID
    code: str
    eligible_subtotal: Decimal
    amount: Decimal
    eligible_keys: tuple[Hashable, ...]


@dataclass(frozen=True)
class AppliedDiscount:
    discount_id: UUID
    code: str
    eligible_subtotal: Decimal
    amount: Decimal
    # line key -> the part of `amount` carried by that line; sums exactly to `amount`.
    allocations: Mapping[Hashable, Decimal] = field(default_factory=dict)


def line_is_eligible(rule: DiscountRule, line: DiscountableLine) -> bool:
    if rule.applies_to == "products":
        return line.product_id in rule.product_ids
    if rule.applies_to == "categories":
        # Materialised paths: a descendant's path starts with its ancestor's path.
        return line.category_path is not None and any(
            line.category_path.startswith(path) for path in rule.category_paths
        )
    return True


def _refusal(cls: type[errors.DiscountRefused], rule: DiscountRule, detail: str, **extra: object):
    return cls(detail, discount_code=rule.code, **extra)


def discount_unavailable(rule: DiscountRule, now: datetime) -> errors.DiscountRefused | None:
    """Why no cart could use the code right now (inactive, not started, expired, used up), or
    None when it is available."""
    if not rule.is_active:
        return _refusal(errors.DiscountInactive, rule, f"The code {rule.code} is not active.")
    if rule.starts_at is not None and now < rule.starts_at:
        return _refusal(
            errors.DiscountNotStarted,
            rule,
            f"The code {rule.code} is valid from {rule.starts_at.isoformat()}.",
            starts_at=rule.starts_at.isoformat(),
        )
    if rule.ends_at is not None and now >= rule.ends_at:
        return _refusal(
            errors.DiscountExpired,
            rule,
            f"The code {rule.code} expired at {rule.ends_at.isoformat()}.",
            ends_at=rule.ends_at.isoformat(),
        )
    if rule.max_uses is not None and rule.uses_count >= rule.max_uses:
        return _refusal(errors.DiscountUsageLimit, rule, f"The code {rule.code} is used up.")
    return None


def discount_evaluate(
    *,
    rule: DiscountRule,
    lines: Sequence[DiscountableLine],
    now: datetime,
    user_uses: int = 0,
    shop_subtotal: Decimal | None = None,
) -> DiscountEvaluation:
    """Judge one code against the purchasable lines of its shop.

    `user_uses` is how many unreleased redemptions the buyer already has for the code;
    `shop_subtotal` defaults to the sum of `lines`. Raises a DiscountRefused subclass
    (discount.inactive, not_started, expired, usage_limit, user_usage_limit, not_applicable,
    min_order_value). The amount is rounded half-up to cents, a percentage is capped by
    `max_discount_amount`, and no amount exceeds the eligible subtotal.
    """
    unavailable = discount_unavailable(rule, now)
    if unavailable is not None:
        raise unavailable
    if rule.max_uses_per_user is not None and user_uses >= rule.max_uses_per_user:
        raise _refusal(
            errors.DiscountUserUsageLimit,
            rule,
            f"You have used the code {rule.code} {user_uses} time(s); "
            f"it allows {rule.max_uses_per_user} per customer.",
            max_uses_per_user=rule.max_uses_per_user,
        )
    eligible = [line for line in lines if line_is_eligible(rule, line)]
    eligible_subtotal = quantize(sum((line.amount for line in eligible), ZERO))
    if eligible_subtotal <= ZERO:
        raise _refusal(
            errors.DiscountNotApplicable,
            rule,
            f"The code {rule.code} does not apply to any of these items.",
        )
    if shop_subtotal is None:
        shop_subtotal = quantize(sum((line.amount for line in lines), ZERO))
    if shop_subtotal < rule.min_order_value:
        raise _refusal(
            errors.DiscountMinOrderValue,
            rule,
            f"The code {rule.code} needs an order of at least {quantize(rule.min_order_value)}.",
            min_order_value=str(quantize(rule.min_order_value)),
        )
    if rule.type == PERCENTAGE:
        amount = (eligible_subtotal * rule.value / Decimal(100)).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        if rule.max_discount_amount is not None:
            amount = min(amount, quantize(rule.max_discount_amount))
    else:
        amount = quantize(rule.value)
    amount = max(min(amount, eligible_subtotal), ZERO)
    return DiscountEvaluation(
        discount_id=rule.id,
        code=rule.code,
        eligible_subtotal=eligible_subtotal,
        amount=amount,
        eligible_keys=tuple(line.key for line in eligible),
    )


def allocate_cents(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `amount` over `weights` proportionally, largest remainder first, in whole cents.

    The parts always sum exactly to `amount`, and no part exceeds its weight when
    `amount <= sum(weights)`. Ties go to the earlier weight, so the split is deterministic.
    """
    total_cents = int(quantize(amount) / CENT)
    weight_cents = [int(quantize(w) / CENT) for w in weights]
    denominator = sum(weight_cents)
    if total_cents == 0 or not weights:
        return [ZERO for _ in weights]
    if denominator <= 0:
        raise ValueError("cannot allocate a non-zero amount over zero weights")
    shares = [total_cents * w // denominator for w in weight_cents]
    remainders = [total_cents * w % denominator for w in weight_cents]
    left = total_cents - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        shares[i] += 1
    return [Decimal(s) * CENT for s in shares]


def discounts_apply(
    *,
    rules: Sequence[DiscountRule],
    lines: Sequence[DiscountableLine],
    now: datetime,
    user_usage: Mapping[UUID, int] | None = None,
) -> list[AppliedDiscount]:
    """Evaluate the codes of ONE shop together and allocate them over its lines.

    Several codes combine only when every one of them is combinable (else
    discount.not_combinable). Codes apply in the given order; each takes at most what its
    eligible lines still carry after the earlier codes, so no line goes below zero and the sum
    never exceeds the shop subtotal.
    """
    user_usage = user_usage or {}
    unique: dict[UUID, DiscountRule] = {}
    for rule in rules:
        unique.setdefault(rule.id, rule)
    ordered = list(unique.values())
    shop_subtotal = quantize(sum((line.amount for line in lines), ZERO))
    evaluations = [
        discount_evaluate(
            rule=rule,
            lines=lines,
            now=now,
            user_uses=user_usage.get(rule.id, 0),
            shop_subtotal=shop_subtotal,
        )
        for rule in ordered
    ]
    if len(ordered) > 1:
        for rule in ordered:
            if not rule.combinable:
                others = ", ".join(r.code for r in ordered if r.id != rule.id)
                raise _refusal(
                    errors.DiscountNotCombinable,
                    rule,
                    f"The code {rule.code} cannot be combined with {others}.",
                )
    remaining: dict[Hashable, Decimal] = {line.key: quantize(line.amount) for line in lines}
    applied: list[AppliedDiscount] = []
    for evaluation in evaluations:
        keys = [key for key in evaluation.eligible_keys if remaining[key] > ZERO]
        capacity = sum((remaining[key] for key in keys), ZERO)
        amount = min(evaluation.amount, capacity)
        parts = allocate_cents(amount, [remaining[key] for key in keys])
        allocations: dict[Hashable, Decimal] = {}
        for key, part in zip(keys, parts, strict=True):
            remaining[key] -= part
            allocations[key] = part
        applied.append(
            AppliedDiscount(
                discount_id=evaluation.discount_id,
                code=evaluation.code,
                eligible_subtotal=evaluation.eligible_subtotal,
                amount=amount,
                allocations=allocations,
            )
        )
    return applied
