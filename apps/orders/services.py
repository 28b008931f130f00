"""Order writes: placement (`order_place`), the status machine (`order_transition`,
`order_cancel`) and the expiry sweep (`orders_expire`).

Every service owns one durable transaction. Stock and discount counters change only through the
inventory and discounts services (conditional UPDATEs, rows in primary-key order), so the
database is the arbiter under any concurrency and a failure anywhere rolls everything back.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Now
from django.utils import timezone

from apps import events
from apps.cart.errors import CartVariantNotFound
from apps.cart.models import Cart
from apps.cart.services import cart_lines_remove
from apps.core.db import insert_rows
from apps.discounts.services import RedemptionInput, discount_release, discounts_redeem
from apps.inventory.services import (
    StockLine,
    insufficient_stock,
    stock_fulfil,
    stock_release,
    stock_reserve,
    stock_return,
)
from apps.orders import errors
from apps.orders import events as order_events
from apps.orders import status as machine
from apps.orders.models import Checkout, Order, OrderLine, OrderStatusChange
from apps.orders.pricing import CheckoutQuote, CodeInput, ItemInput, load_checkout, price_checkout
from apps.users.models import Address, Shop, User

ADDRESS_FIELDS = ("name", "line1", "line2", "city", "state", "postal_code", "country", "phone")
REQUIRED_ADDRESS_FIELDS = ("name", "line1", "city", "postal_code", "country", "phone")
# Unambiguous upper-case letters and digits (no 0/O, 1/I/L): 32 symbols, 6 of them ≈ 1e9 numbers
# a day, so a collision is rare; when one happens the placement is retried with a new number.
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
NUMBER_ATTEMPTS = 3


def checkout_number_new(now: datetime | None = None) -> str:
    """`CK-YYMMDD-XXXXXX`; the orders of a checkout are `<checkout number>-1`, `-2`, ..."""
    day = (now or timezone.now()).strftime("%y%m%d")
    return f"CK-{day}-{''.join(secrets.choice(NUMBER_ALPHABET) for _ in range(6))}"


def _address_snapshot(
    *, buyer: User, shipping_address: Mapping[str, Any] | None, address_id: UUID | None
) -> dict[str, str]:
    if shipping_address is not None:
        missing = [
            f for f in REQUIRED_ADDRESS_FIELDS if not str(shipping_address.get(f, "")).strip()
        ]
        if missing:
            raise errors.AddressInvalid(
                "The shipping address is incomplete.",
                errors=[
                    {
                        "pointer": f"/shipping_address/{name}",
                        "code": "required",
                        "detail": "This field is required.",
                    }
                    for name in missing
                ],
            )
        return {f: str(shipping_address.get(f, "") or "") for f in ADDRESS_FIELDS}
    if address_id is not None:
        address = Address.objects.filter(pk=address_id, user=buyer).first()
        if address is None:
            raise errors.AddressInvalid(
                "No such address in your address book.",
                errors=[
                    {
                        "pointer": "/address_id",
                        "code": "does_not_exist",
                        "detail": "No such address in your address book.",
                    }
                ],
            )
        return {f: getattr(address, f) for f in ADDRESS_FIELDS}
    raise errors.AddressInvalid(
        "A shipping_address or an address_id is required.",
        errors=[
            {
                "pointer": "/shipping_address",
                "code": "required",
                "detail": "Send shipping_address or address_id.",
            }
        ],
    )


def _checkout_for_key(buyer: User, key: str) -> Checkout | None:
    return Checkout.objects.filter(buyer=buyer, idempotency_key=key).first()


def order_place(
    *,
    buyer: User,
    items: Sequence[ItemInput] | None = None,
    discounts: Sequence[CodeInput] = (),
    shipping_address: Mapping[str, Any] | None = None,
    address_id: UUID | None = None,
    payment_method: str = Order.PaymentMethod.CASH_ON_DELIVERY,
    idempotency_key: str | None = None,
) -> Checkout:
    """Place the buyer's cart (or explicit `items`) as one checkout with one order per shop.

    One durable transaction: price with the checkout-review pricing, redeem the discount codes,
    reserve stock for every line, write the checkout, orders, line snapshots and first history
    rows, remove the bought lines from the cart and emit `order.placed` per order. Any failure
    leaves nothing behind. With `idempotency_key`, a second call of the same buyer returns the
    checkout of the first (the key is unique per buyer in the database).

    Raises OrderEmpty (422), CartVariantNotFound (404: an item not for sale), InsufficientStock
    (409 with sku and available: from the pricing read, before any write, when it already shows
    too little; else from the reservation against the locked rows), the discount refusals
    (DiscountNotFound 404, DiscountRefused subclasses 422), AddressInvalid (400 with pointers),
    CartLineQuantityLimit (422).
    """
    if payment_method not in Order.PaymentMethod.values:
        raise errors.OrderInvalid(
            "Unknown payment method.",
            errors=[
                {
                    "pointer": "/payment_method",
                    "code": "invalid_choice",
                    "detail": f"One of: {', '.join(Order.PaymentMethod.values)}.",
                }
            ],
        )
    key = (idempotency_key or "").strip()
    if key and (existing := _checkout_for_key(buyer, key)) is not None:
        return existing
    address = _address_snapshot(
        buyer=buyer, shipping_address=shipping_address, address_id=address_id
    )
    for attempt in range(NUMBER_ATTEMPTS):
        try:
            return _place(
                buyer=buyer,
                items=items,
                codes=discounts,
                address=address,
                payment_method=payment_method,
                key=key,
            )
        except IntegrityError as exc:
            if key and "idempotency_key" in str(exc):
                # A concurrent call with the same key committed first: answer with its result.
                existing = _checkout_for_key(buyer, key)
                if existing is not None:
                    return existing
            if "number" in str(exc) and attempt + 1 < NUMBER_ATTEMPTS:
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _place(
    *,
    buyer: User,
    items: Sequence[ItemInput] | None,
    codes: Sequence[CodeInput],
    address: dict[str, str],
    payment_method: str,
    key: str,
) -> Checkout:
    with transaction.atomic(durable=True):
        if items is None:
            # Two placements of one cart (a double click without a key) run one after the other;
            # the second finds the bought lines gone. The UPDATE takes the cart row's lock and
            # moves its updated_at (its lines are about to go) in one statement.
            Cart.objects.filter(user=buyer).update(updated_at=timezone.now())
        data = load_checkout(user=buyer, items=items, codes=codes)
        unavailable = [line for line in data.lines if not line.for_sale]
        if unavailable:
            raise CartVariantNotFound(
                f"{unavailable[0].product_name} ({unavailable[0].sku}) is no longer for sale.",
                variant_id=str(unavailable[0].variant_id),
                variant_ids=[str(line.variant_id) for line in unavailable],
                sku=unavailable[0].sku,
            )
        if not data.lines:
            raise errors.OrderEmpty(
                "Your cart is empty." if items is None else "No items to order."
            )
        now = timezone.now()
        quote = price_checkout(
            lines=data.lines,
            shops=data.shops,
            discounts_by_shop=data.discounts_by_shop,
            user_usage=data.user_usage,
            now=now,
        )
        short = next((line for line in data.lines if line.quantity > line.stock_available), None)
        if short is not None:
            # Refused from the pricing read, before anything is written: a sold-out variant
            # costs its buyers one read, not the whole write path and a wait for the row lock.
            # Lines that pass are checked again against the locked rows by stock_reserve.
            raise insufficient_stock(
                variant_id=short.variant_id,
                sku=short.sku,
                available=short.stock_available,
                requested=short.quantity,
            )
        return _write(
            buyer=buyer,
            quote=quote,
            address=address,
            payment_method=payment_method,
            key=key,
            from_cart=items is None,
            cart_item_ids=[line.cart_item_id for line in data.lines if line.cart_item_id],
            now=now,
        )


def _write(
    *,
    buyer: User,
    quote: CheckoutQuote,
    address: dict[str, str],
    payment_method: str,
    key: str,
    from_cart: bool,
    cart_item_ids: list[UUID],
    now: datetime,
) -> Checkout:
    checkout = Checkout(
        number=checkout_number_new(now),
        buyer=buyer,
        currency=quote.currency,
        subtotal=quote.subtotal,
        discount_total=quote.discount_total,
        shipping_total=quote.shipping_total,
        total=quote.total,
        idempotency_key=key,
    )
    insert_rows([checkout])
    orders: list[Order] = []
    lines: list[OrderLine] = []
    redemptions: list[RedemptionInput] = []
    for position, shop_quote in enumerate(quote.shops, start=1):
        order = Order(
            id=uuid.uuid4(),
            checkout=checkout,
            number=f"{checkout.number}-{position}",
            buyer=buyer,
            shop_id=shop_quote.shop.id,
            status=Order.Status.PENDING,
            payment_method=payment_method,
            payment_status=Order.PaymentStatus.UNPAID,
            currency=quote.currency,
            subtotal=shop_quote.subtotal,
            discount_total=shop_quote.discount_total,
            shipping_fee=shop_quote.shipping_fee,
            total=shop_quote.total,
            shipping_address=address,
        )
        orders.append(order)
        lines.extend(
            OrderLine(
                order=order,
                product_id=quoted.line.product_id,
                variant_id=quoted.line.variant_id,
                product_name=quoted.line.product_name,
                sku=quoted.line.sku,
                options=dict(quoted.line.options),
                unit_price=quoted.line.unit_price,
                quantity=quoted.line.quantity,
                discount=quoted.discount,
                line_total=quoted.total,
            )
            for quoted in shop_quote.lines
        )
        redemptions.extend(
            RedemptionInput(
                discount_id=applied.discount_id, order_id=order.pk, amount=applied.amount
            )
            for applied in shop_quote.discounts
        )
    history = [
        OrderStatusChange(
            order=order,
            from_status="",
            to_status=Order.Status.PENDING,
            actor=buyer,
            actor_role=machine.ROLE_BUYER,
            note="placed",
        )
        for order in orders
    ]
    # Lean INSERTs (apps.core.db): the same rows bulk_create would write, at a fraction of the
    # CPU; placement is the hottest write path.
    insert_rows(orders)
    insert_rows(lines)
    insert_rows(history)
    # Every line was just built from the quote, so it has a variant (OrderLine.variant is nullable
    # only for a variant deleted after the order was placed).
    variant_ids = [cast(UUID, line.variant_id) for line in lines]
    cart_lines_remove(
        user=buyer,
        item_ids=cart_item_ids if from_cart else None,
        variant_ids=variant_ids,
        touch=not from_cart,  # a placement from the cart moved updated_at when it locked it
    )
    shops = {q.shop.id: q.shop for q in quote.shops}
    for order in orders:
        # What the response shows, from memory: the rows just written are exactly these.
        info = shops[order.shop_id]
        # The placement's pricing read always sets owner_id (None only in hand-made quotes).
        owner_id = cast(UUID, info.owner_id)
        order.shop = Shop(id=info.id, slug=info.slug, name=info.name, owner_id=owner_id)
        order_lines = [line for line in lines if line.order is order]
        # Django's own prefetch cache (private, so not in the stubs): the response reads these.
        order._prefetched_objects_cache = {  # type: ignore[attr-defined]
            "lines": order_lines,
            "history": [change for change in history if change.order is order],
        }
        events.emit(
            order_events.ORDER_PLACED,
            order.pk,
            order_events.order_placed_payload(
                order,
                checkout_number=checkout.number,
                seller_id=order.shop.owner_id,
                line_count=len(order_lines),
            ),
        )
    if redemptions:
        discounts_redeem(user=buyer, redemptions=redemptions, now=now)
    # Stock last: the hot rows stay locked for the shortest time. One call for every order of the
    # checkout (each line's movement names its order): it locks all the stock rows in one global
    # pk order, so two placements cannot deadlock, and costs the same statements for any number
    # of lines and shops.
    stock_reserve(
        lines=[
            StockLine(variant_id, line.quantity, line.order_id)
            for variant_id, line in zip(variant_ids, lines, strict=True)
        ],
        actor=buyer,
        savepoint=False,  # any error rolls the whole placement back
    )
    checkout.placed_orders = orders  # type: ignore[attr-defined]  # for the response
    return checkout


# --- the status machine -----------------------------------------------------------------------


def _stock_lines(order_id: UUID) -> list[StockLine]:
    """The order's lines whose variant still exists (a deleted variant has no stock to move)."""
    return [
        StockLine(variant_id, quantity)
        for variant_id, quantity in OrderLine.objects.filter(
            order_id=order_id, variant_id__isnull=False
        ).values_list("variant_id", "quantity")
    ]


def order_transition(
    *,
    order_id: UUID,
    to: str,
    actor: User | None,
    actor_role: str,
    note: str = "",
    tracking_number: str = "",
    restock: bool = False,
    reason: str = "",
) -> Order:
    """Move an order to `to` if the status machine allows it from its current status.

    The move is one `UPDATE .. WHERE id = .. AND status = <current>`: of two concurrent moves
    only one matches a row, the other is InvalidTransition (409). Then, in the same transaction:
    cancel releases the stock reservation and the discount uses; ship fulfils the reservation
    (on_hand and reserved down) and records the tracking number, if any (a seller delivering
    with its own courier has none); deliver marks cash on delivery
    paid; refund marks the payment refunded and, with `restock`, returns the units to stock
    (`return` movements). One OrderStatusChange row and one `order.<status>` event per move.

    `actor_role` is what the caller acts as (buyer, seller, staff, system): the buyer and the
    system may only cancel (TransitionForbidden, 403). Raises OrderNotFound, InvalidTransition,
    TransitionForbidden.
    """
    if to not in Order.Status.values:
        raise errors.OrderInvalid(
            f"Unknown status {to!r}.",
            errors=[
                {
                    "pointer": "/to",
                    "code": "invalid_choice",
                    "detail": f"One of: {', '.join(Order.Status.values)}.",
                }
            ],
        )
    if actor_role not in machine.ROLES:
        raise ValueError(f"unknown actor role {actor_role!r}")
    tracking_number = (tracking_number or "").strip()
    with transaction.atomic(durable=True):
        current = (
            Order.objects.filter(pk=order_id)
            .values_list("status", "payment_method", "shop__owner_id")
            .first()
        )
        if current is None:
            raise errors.OrderNotFound("No such order.")
        from_status, payment_method, seller_id = current
        _check_move(from_status, to, actor_role)
        changes: dict[str, Any] = {"status": to, "updated_at": Now()}
        if to == Order.Status.SHIPPED:
            changes["tracking_number"] = tracking_number
        elif to == Order.Status.DELIVERED:
            if payment_method == Order.PaymentMethod.CASH_ON_DELIVERY:
                changes["payment_status"] = Order.PaymentStatus.PAID
        elif to == Order.Status.REFUNDED:
            changes["payment_status"] = Order.PaymentStatus.REFUNDED
        elif to == Order.Status.CANCELLED:
            changes["cancel_reason"] = reason[:255]
            changes["cancelled_by"] = actor_role
        if not Order.objects.filter(pk=order_id, status=from_status).update(**changes):
            # Another move committed between our read and our UPDATE.
            now_status = Order.objects.filter(pk=order_id).values_list("status", flat=True)[0]
            raise _invalid(now_status, to)

        if to == Order.Status.CANCELLED and from_status in machine.RESERVED_STATUSES:
            # Discounts before stock, the order placement locks them in: a cancel and a
            # placement sharing a code and a variant cannot deadlock.
            discount_release(order_id=order_id)
            stock_release(lines=_stock_lines(order_id), order_id=order_id, actor=actor)
        elif to == Order.Status.SHIPPED:
            stock_fulfil(lines=_stock_lines(order_id), order_id=order_id, actor=actor)
        elif to == Order.Status.REFUNDED and restock:
            stock_return(lines=_stock_lines(order_id), order_id=order_id, actor=actor)

        history_note = note or (reason if to == Order.Status.CANCELLED else "")
        if to == Order.Status.REFUNDED and restock:
            history_note = (history_note + " (restocked)").strip()
        OrderStatusChange.objects.create(
            order_id=order_id,
            from_status=from_status,
            to_status=to,
            actor=actor,
            actor_role=actor_role,
            note=history_note[:500],
        )
        order = Order.objects.get(pk=order_id)
        events.emit(
            order_events.TRANSITION_EVENTS[to],
            order.pk,
            order_events.order_transition_payload(
                order,
                seller_id=seller_id,
                from_status=from_status,
                cancelled_by=actor_role,
                reason=reason,
            ),
        )
    return order


def _invalid(from_status: str, to: str) -> errors.InvalidTransition:
    return errors.InvalidTransition(
        f"An order that is {from_status} cannot become {to}.",
        current_status=from_status,
        to=to,
        allowed=machine.allowed_from(from_status),
    )


def _check_move(from_status: str, to: str, actor_role: str) -> None:
    if not machine.is_allowed(from_status, to):
        raise _invalid(from_status, to)
    if not machine.role_may(actor_role, to):
        raise errors.TransitionForbidden(
            f"As the {actor_role} you may not mark an order {to}.", to=to
        )


def order_cancel(*, order_id: UUID, actor: User | None, actor_role: str, reason: str = "") -> Order:
    """Cancel a pending or confirmed order (see order_transition)."""
    return order_transition(
        order_id=order_id,
        to=Order.Status.CANCELLED,
        actor=actor,
        actor_role=actor_role,
        reason=reason,
    )


EXPIRED_REASON = "expired"


def orders_expire(*, now: datetime | None = None, limit: int = 500) -> int:
    """Cancel pending orders older than ORDER_PENDING_TTL (reason `expired`, cancelled by the
    system), each in its own transaction through order_transition. An order confirmed or
    cancelled meanwhile is skipped (its conditional UPDATE matches nothing). Returns how many
    were cancelled; safe to run concurrently and repeatedly."""
    cutoff = (now or timezone.now()) - settings.ORDER_PENDING_TTL
    ids = list(
        Order.objects.filter(status=Order.Status.PENDING, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    cancelled = 0
    for order_id in ids:
        try:
            order_transition(
                order_id=order_id,
                to=Order.Status.CANCELLED,
                actor=None,
                actor_role=machine.ROLE_SYSTEM,
                reason=EXPIRED_REASON,
            )
        except errors.InvalidTransition:
            continue
        cancelled += 1
    return cancelled
