"""Checkout pricing: one pure function over data loaded beforehand in a constant number of queries.

`load_checkout()` reads the lines (the buyer's cart or explicit items), their shops, the
requested discount codes and the buyer's past uses of them; `price_checkout()` turns that into a
`CheckoutQuote` without touching the database or the clock. POST /checkout/review shows the quote;
order placement prices the order with the very same two calls inside its transaction.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.cart.errors import CartLineQuantityLimit, CartVariantNotFound
from apps.cart.models import CartItem
from apps.catalog.models import Product, ProductVariant
from apps.core.money import ZERO, quantize
from apps.core.slugs import as_uuid, id_or_slug
from apps.discounts.errors import DiscountNotFound
from apps.discounts.evaluation import (
    AppliedDiscount,
    DiscountableLine,
    DiscountRule,
    discount_unavailable,
    discounts_apply,
)
from apps.discounts.models import Discount
from apps.discounts.selectors import (
    discount_disclosed_to,
    discounts_with_targets,
    user_discount_usage,
)
from apps.shops.models import Shop
from apps.users.models import User

WARNING_UNAVAILABLE = "cart.line_unavailable"
WARNING_SHORT_STOCK = "inventory.insufficient_stock"


@dataclass(frozen=True)
class ItemInput:
    variant_id: UUID
    quantity: int


@dataclass(frozen=True)
class CodeInput:
    shop: str  # slug or id
    code: str


@dataclass(frozen=True)
class ShopInfo:
    id: UUID
    slug: str
    name: str
    shipping_fee: Decimal
    free_shipping_threshold: Decimal | None
    owner_id: UUID | None = None  # the seller (order placement names them in its events)


@dataclass(frozen=True)
class PricingLine:
    """One line as the database says now. `for_sale` is false for an inactive variant, a
    product that is not published or a suspended shop; such lines are left out with a warning."""

    variant_id: UUID
    product_id: UUID
    product_name: str
    product_slug: str
    sku: str
    options: Mapping[str, Any]
    unit_price: Decimal
    quantity: int
    shop_id: UUID
    category_path: str | None
    for_sale: bool
    stock_available: int
    cart_item_id: UUID | None = None


@dataclass(frozen=True)
class CheckoutData:
    lines: Sequence[PricingLine]
    shops: Mapping[UUID, ShopInfo]
    discounts_by_shop: Mapping[UUID, Sequence[DiscountRule]]
    user_usage: Mapping[UUID, int]


@dataclass(frozen=True)
class QuotedLine:
    line: PricingLine
    line_total: Decimal  # unit_price x quantity
    discount: Decimal  # this line's share of the shop's discounts
    total: Decimal  # line_total - discount


@dataclass(frozen=True)
class ShopQuote:
    shop: ShopInfo
    lines: Sequence[QuotedLine]
    subtotal: Decimal
    discounts: Sequence[AppliedDiscount]
    discount_total: Decimal
    shipping_fee: Decimal
    total: Decimal


@dataclass(frozen=True)
class CheckoutQuote:
    shops: Sequence[ShopQuote]
    subtotal: Decimal
    discount_total: Decimal
    shipping_total: Decimal
    total: Decimal
    currency: str
    warnings: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def shipping_fee_for(shop: ShopInfo, amount_after_discounts: Decimal) -> Decimal:
    """The shop's flat fee, free at or above its threshold measured after discounts."""
    threshold = shop.free_shipping_threshold
    if threshold is not None and amount_after_discounts >= threshold:
        return ZERO
    return quantize(shop.shipping_fee)


def price_checkout(
    *,
    lines: Sequence[PricingLine],
    shops: Mapping[UUID, ShopInfo],
    discounts_by_shop: Mapping[UUID, Sequence[DiscountRule]],
    user_usage: Mapping[UUID, int],
    now: datetime,
    currency: str | None = None,
) -> CheckoutQuote:
    """Price a checkout. Pure: no queries, no clock.

    Per shop: subtotal of the lines for sale, its codes applied together
    (discounts_apply: DiscountRefused subclasses propagate), each code's amount allocated to
    lines to the cent, shipping fee, total. Lines not for sale are left out with a
    `cart.line_unavailable` warning; lines asking for more than is in stock stay priced with an
    `inventory.insufficient_stock` warning (placing the order would refuse them).
    Invariants: every total is the sum of its parts; nothing is negative.
    """
    warnings: list[dict[str, Any]] = []
    by_shop: dict[UUID, list[PricingLine]] = {}
    for line in lines:
        if not line.for_sale:
            warnings.append(
                {
                    "code": WARNING_UNAVAILABLE,
                    "detail": f"{line.product_name} ({line.sku}) is no longer for sale.",
                    "variant_id": line.variant_id,
                    "sku": line.sku,
                }
            )
            continue
        if line.quantity > line.stock_available:
            warnings.append(
                {
                    "code": WARNING_SHORT_STOCK,
                    "detail": f"Only {line.stock_available} units of {line.sku} are available.",
                    "variant_id": line.variant_id,
                    "sku": line.sku,
                    "available": line.stock_available,
                    "requested": line.quantity,
                }
            )
        by_shop.setdefault(line.shop_id, []).append(line)

    for shop_id, rules in discounts_by_shop.items():
        if rules and shop_id not in by_shop:
            # A code for a shop with nothing to buy: let the evaluator refuse it uniformly.
            discounts_apply(rules=rules, lines=[], now=now, user_usage=user_usage)

    quotes: list[ShopQuote] = []
    for shop_id, shop_lines in by_shop.items():
        shop = shops[shop_id]
        totals = {line.variant_id: quantize(line.unit_price * line.quantity) for line in shop_lines}
        subtotal = quantize(sum(totals.values(), ZERO))
        applied = discounts_apply(
            rules=discounts_by_shop.get(shop_id, ()),
            lines=[
                DiscountableLine(
                    key=line.variant_id,
                    product_id=line.product_id,
                    category_path=line.category_path,
                    amount=totals[line.variant_id],
                )
                for line in shop_lines
            ],
            now=now,
            user_usage=user_usage,
        )
        # Keyed like the discountable lines (`key`, here the variant id) that allocations name.
        line_discount: dict[Hashable, Decimal] = {line.variant_id: ZERO for line in shop_lines}
        for discount in applied:
            for key, part in discount.allocations.items():
                line_discount[key] += part
        discount_total = quantize(sum((d.amount for d in applied), ZERO))
        shipping_fee = shipping_fee_for(shop, subtotal - discount_total)
        quotes.append(
            ShopQuote(
                shop=shop,
                lines=[
                    QuotedLine(
                        line=line,
                        line_total=totals[line.variant_id],
                        discount=line_discount[line.variant_id],
                        total=totals[line.variant_id] - line_discount[line.variant_id],
                    )
                    for line in shop_lines
                ],
                subtotal=subtotal,
                discounts=applied,
                discount_total=discount_total,
                shipping_fee=shipping_fee,
                total=subtotal - discount_total + shipping_fee,
            )
        )
    quotes.sort(key=lambda q: (q.shop.name, str(q.shop.id)))
    subtotal = quantize(sum((q.subtotal for q in quotes), ZERO))
    discount_total = quantize(sum((q.discount_total for q in quotes), ZERO))
    shipping_total = quantize(sum((q.shipping_fee for q in quotes), ZERO))
    return CheckoutQuote(
        shops=quotes,
        subtotal=subtotal,
        discount_total=discount_total,
        shipping_total=shipping_total,
        total=quantize(sum((q.total for q in quotes), ZERO)),
        currency=currency or settings.STORE_CURRENCY,
        warnings=warnings,
    )


# One row per line, read as plain values (`values_list`, no model instances: placement is a hot
# path). The stock row and the category may be missing (LEFT JOINs: None). Each column: its name
# here and its lookup from the variant.
_LINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("variant_id", "id"),
    ("product_id", "product_id"),
    ("sku", "sku"),
    ("options", "options"),
    ("price", "price"),
    ("is_active", "is_active"),
    ("product_name", "product__name"),
    ("product_slug", "product__slug"),
    ("product_status", "product__status"),
    ("category_path", "product__category__path"),
    ("shop_id", "product__shop_id"),
    ("shop_slug", "product__shop__slug"),
    ("shop_name", "product__shop__name"),
    ("shop_status", "product__shop__status"),
    ("shop_owner_id", "product__shop__owner_id"),
    ("shipping_fee", "product__shop__shipping_fee"),
    ("free_shipping_threshold", "product__shop__free_shipping_threshold"),
    ("on_hand", "stock__on_hand"),
    ("reserved", "stock__reserved"),
)
_LINE_NAMES = tuple(name for name, _ in _LINE_COLUMNS)
_LINE_LOOKUPS = tuple(lookup for _, lookup in _LINE_COLUMNS)


def _pricing_line(row: Mapping[str, Any], quantity: int, cart_item_id: UUID | None) -> PricingLine:
    on_hand = row["on_hand"]
    return PricingLine(
        variant_id=row["variant_id"],
        product_id=row["product_id"],
        product_name=row["product_name"],
        product_slug=row["product_slug"],
        sku=row["sku"],
        options=row["options"],
        unit_price=quantize(row["price"]),
        quantity=quantity,
        shop_id=row["shop_id"],
        category_path=row["category_path"],
        for_sale=(
            row["is_active"]
            and row["product_status"] == Product.Status.PUBLISHED
            and row["shop_status"] == Shop.Status.ACTIVE
        ),
        stock_available=max(on_hand - row["reserved"], 0) if on_hand is not None else 0,
        cart_item_id=cart_item_id,
    )


def _shop_info(row: Mapping[str, Any]) -> ShopInfo:
    return ShopInfo(
        id=row["shop_id"],
        slug=row["shop_slug"],
        name=row["shop_name"],
        shipping_fee=quantize(row["shipping_fee"]),
        free_shipping_threshold=row["free_shipping_threshold"],
        owner_id=row["shop_owner_id"],
    )


def _load_lines(
    user: User, items: Sequence[ItemInput] | None
) -> list[tuple[dict[str, Any], int, UUID | None]]:
    """(line row, quantity, cart item id) in cart order, or in the order of `items`."""
    if items is None:
        cart_items = (
            CartItem.objects.filter(cart__user=user)
            .order_by("created_at", "id")
            .values_list("id", "quantity", *(f"variant__{lookup}" for lookup in _LINE_LOOKUPS))
        )
        return [
            (dict(zip(_LINE_NAMES, values, strict=True)), quantity, item_id)
            for item_id, quantity, *values in cart_items
        ]
    quantities: dict[UUID, int] = {}
    for item in items:
        quantities[item.variant_id] = quantities.get(item.variant_id, 0) + item.quantity
    limit = settings.CART_MAX_LINE_QUANTITY
    for variant_id, quantity in quantities.items():
        if quantity > limit:
            raise CartLineQuantityLimit(
                f"At most {limit} units of one item per order.",
                max_quantity=limit,
                requested=quantity,
                variant_id=str(variant_id),
            )
    if not quantities:
        return []
    for_sale = ProductVariant.objects.filter(
        pk__in=list(quantities),
        is_active=True,
        product__status=Product.Status.PUBLISHED,
        product__shop__status=Shop.Status.ACTIVE,
    )
    rows = {
        values[0]: dict(zip(_LINE_NAMES, values, strict=True))
        for values in for_sale.values_list(*_LINE_LOOKUPS)
    }
    missing = [str(v) for v in quantities if v not in rows]
    if missing:
        raise CartVariantNotFound(
            "No such product variant for sale.", variant_id=missing[0], variant_ids=missing
        )
    return [(rows[v], q, None) for v, q in quantities.items()]


def _load_discounts(
    codes: Sequence[CodeInput], user: User, now: datetime
) -> tuple[dict[UUID, list[Discount]], Mapping[UUID, int]]:
    """The requested codes by shop, in the client's order, and the user's uses of them.

    A private code that the user may not know of (`discount_disclosed_to`) and that no cart
    could use now (inactive, not started, expired, used up) is DiscountNotFound exactly as an
    unknown code is: those refusals would confirm that a guessed code exists."""
    if not codes:
        return {}, {}
    condition = Q(pk__in=[])
    for code in codes:
        condition |= id_or_slug(code.shop, prefix="shop__") & Q(code__iexact=code.code.strip())
    found = list(
        discounts_with_targets(Discount.objects.filter(condition, shop__status=Shop.Status.ACTIVE))
    )
    usage = user_discount_usage(user=user, discount_ids=[d.pk for d in found])
    shown = [
        d
        for d in found
        if discount_disclosed_to(d, user, uses=usage.get(d.pk, 0))
        or discount_unavailable(DiscountRule.from_model(d), now) is None
    ]
    by_shop: dict[UUID, list[Discount]] = {}
    for code in codes:  # keep the client's order: codes apply in it
        match = next(
            (
                d
                for d in shown
                if d.code.lower() == code.code.strip().lower()
                and (d.shop_id == as_uuid(code.shop) or d.shop.slug == code.shop)
            ),
            None,
        )
        if match is None:
            raise DiscountNotFound(
                f"The shop {code.shop} has no discount code {code.code}.",
                discount_code=code.code,
                shop=code.shop,
            )
        shop_discounts = by_shop.setdefault(match.shop_id, [])
        if match not in shop_discounts:
            shop_discounts.append(match)
    return by_shop, usage


def load_checkout(
    *,
    user: User,
    items: Sequence[ItemInput] | None = None,
    codes: Sequence[CodeInput] = (),
    now: datetime | None = None,
) -> CheckoutData:
    """Load everything price_checkout needs in at most five queries, whatever the number of
    lines, shops and codes: lines (the user's cart when `items` is None), discounts with their
    products and categories, and the user's unreleased uses of those codes.

    Raises CartVariantNotFound (explicit item unknown or not for sale), CartLineQuantityLimit
    and DiscountNotFound (unknown code for that shop, or a private code the user may not know of
    that is unusable at `now`, default the current time).
    """
    loaded = _load_lines(user, items)
    lines = [_pricing_line(row, quantity, item_id) for row, quantity, item_id in loaded]
    shops = {row["shop_id"]: _shop_info(row) for row, _, _ in loaded}
    discounts, usage = _load_discounts(codes, user, now or timezone.now())
    return CheckoutData(
        lines=lines,
        shops=shops,
        discounts_by_shop={
            shop_id: [DiscountRule.from_model(d) for d in ds] for shop_id, ds in discounts.items()
        },
        user_usage=usage,
    )
