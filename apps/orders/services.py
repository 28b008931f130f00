"""Order writes: placement (`order_place`), the status machine (`order_transition`,
`order_cancel`) and the expiry sweep (`orders_expire`).

Every service owns one transaction (a savepoint when the request already runs in one: a POST with
an `Idempotency-Key` commits its stored response with the work, `apps.core.idempotency`). Stock
and discount counters change only through the inventory and discounts services (conditional
UPDATEs, rows in primary-key order), so the database is the arbiter under any concurrency and a
failure anywhere rolls everything back.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Now
from django.utils import timezone

from apps import events
from apps.cart.errors import CartVariantNotFound
from apps.cart.models import Cart
from apps.cart.services import cart_lines_remove
from apps.core.errors import Conflict, field_error
from apps.core.integrity import unique_column_name, violated_constraint
from apps.discounts.services import RedemptionInput, discount_release, discounts_redeem
from apps.inventory.services import (
    StockLine,
    insufficient_stock,
    stock_fulfil,
    stock_release,
    stock_reserve,
    stock_return,
)
from apps.orders import errors, payment_methods
from apps.orders import events as order_events
from apps.orders import status as machine
from apps.orders.metrics import ORDERS_PLACED
from apps.orders.models import Checkout, Order, OrderLine, OrderStatusChange
from apps.orders.pricing import (
    CheckoutData,
    CheckoutQuote,
    CodeInput,
    ItemInput,
    load_checkout,
    price_checkout,
)
from apps.shops.models import Shop
from apps.users.models import Address, User

ADDRESS_FIELDS = ("name", "line1", "line2", "city", "state", "postal_code", "country", "phone")
REQUIRED_ADDRESS_FIELDS = ("name", "line1", "city", "postal_code", "country", "phone")
# Unambiguous upper-case letters and digits (no 0/O, 1/I/L): 32 symbols, 6 of them ≈ 1e9 numbers
# a day, so a collision is rare; when one happens the placement is retried with a new number.
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
NUMBER_ATTEMPTS = 3
# The constraints whose violation placement answers (apps.core.integrity): the buyer's key
# (a concurrent call with it committed first) and the numbers (a collision: draw another).
KEY_CONSTRAINT = "checkout_buyer_idempotency_key"
NUMBER_CONSTRAINTS = (
    unique_column_name(Checkout._meta.db_table, "number"),
    unique_column_name(Order._meta.db_table, "number"),
)


class PlacedRows(NamedTuple):
    """The lines and first history rows a placement wrote for one order, handed to the
    response as they are (`order_as_dict(order, lines=..., history=...)`): no re-read."""

    lines: list[OrderLine]
    history: list[OrderStatusChange]


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
                    field_error(f"/shipping_address/{name}", "required", "This field is required.")
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
                    field_error(
                        "/address_id", "does_not_exist", "No such address in your address book."
                    )
                ],
            )
        return {f: getattr(address, f) for f in ADDRESS_FIELDS}
    raise errors.AddressInvalid(
        "A shipping_address or an address_id is required.",
        errors=[
            field_error("/shipping_address", "required", "Send shipping_address or address_id.")
        ],
    )


# Orders that hold reserved stock without being paid: what a hoarder accumulates.
OPEN_UNPAID = Q(
    order__status__in=[Order.Status.PENDING, Order.Status.CONFIRMED],
    order__payment_status=Order.PaymentStatus.UNPAID,
)


def _open_unpaid_limits_check(*, buyer: User, quote: CheckoutQuote, lock: bool = True) -> None:
    """Refuse a placement that would give the buyer more than ORDER_MAX_OPEN_UNPAID open unpaid
    orders, or more than ORDER_MAX_UNITS_PER_VARIANT units of one variant across them (0: no
    limit). Unpaid cash-on-delivery orders reserve stock until confirmed or expired, so without
    a cap one account can hold a variant's whole stock.

    Two statements, in the placement's transaction: the buyer's row is locked (FOR NO KEY UPDATE,
    which does not block inserts referencing the user), so a concurrent placement of the same
    buyer waits here until this one commits or rolls back, and the count that follows sees every
    order committed before. `lock=False`: the same check from a plain read (a card placement's
    early check, before its payment is started). Raises TooManyOpenOrders, VariantQuantityLimit
    (422)."""
    max_orders = settings.ORDER_MAX_OPEN_UNPAID
    max_units = settings.ORDER_MAX_UNITS_PER_VARIANT
    if not max_orders and not max_units:
        return
    if lock:
        User.objects.select_for_update(no_key=True).filter(pk=buyer.pk).values_list("pk").get()
    requested: dict[UUID, int] = {}
    skus: dict[UUID, str] = {}
    for shop_quote in quote.shops:
        for quoted in shop_quote.lines:
            variant_id = quoted.line.variant_id
            requested[variant_id] = requested.get(variant_id, 0) + quoted.line.quantity
            skus[variant_id] = quoted.line.sku
    variants = list(requested) if max_units else []
    held = OrderLine.objects.filter(OPEN_UNPAID, order__buyer=buyer).aggregate(
        open_orders=Count("order_id", distinct=True),
        **{
            f"units_{index}": Sum("quantity", filter=Q(variant_id=variant_id))
            for index, variant_id in enumerate(variants)
        },
    )
    new_orders = len(quote.shops)
    if max_orders and held["open_orders"] + new_orders > max_orders:
        raise errors.TooManyOpenOrders(
            f"You have {held['open_orders']} unpaid orders waiting; at most {max_orders} may be "
            "open at once. Orders count again once they are paid, cancelled or expired.",
            limit=max_orders,
            open_orders=held["open_orders"],
            new_orders=new_orders,
        )
    for index, variant_id in enumerate(variants):
        units = held[f"units_{index}"] or 0
        if units + requested[variant_id] > max_units:
            raise errors.VariantQuantityLimit(
                f"{skus[variant_id]}: you already have {units} units in unpaid orders and ask "
                f"for {requested[variant_id]} more; at most {max_units} may be held at once.",
                sku=skus[variant_id],
                variant_id=str(variant_id),
                limit=max_units,
                held=units,
                requested=requested[variant_id],
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

    One transaction: price with the checkout-review pricing, redeem the discount codes,
    reserve stock for every line, write the checkout, orders, line snapshots and first history
    rows, remove the bought lines from the cart and emit `order.placed` per order. Any failure
    leaves nothing behind. With `idempotency_key`, a second call of the same buyer returns the
    checkout of the first (the key is unique per buyer in the database).

    A payment method that `prepares_checkout` (card) gets the checkout priced, with the ids it
    will be written with, before that transaction and before any lock is taken, and starts the
    payment then (a provider call: never while stock or discount rows are locked); the
    transaction writes exactly that checkout (else 409 CheckoutChanged) and records the payment;
    a placement that fails afterwards is handed back to the method to undo (`checkout_abandoned`).

    Raises OrderEmpty (422), CartVariantNotFound (404: an item not for sale), InsufficientStock
    (409 with sku and available: from the pricing read, before any write, when it already shows
    too little; else from the reservation against the locked rows), the discount refusals
    (DiscountNotFound 404, DiscountRefused subclasses 422), AddressInvalid (400 with pointers),
    CartLineQuantityLimit (422), TooManyOpenOrders and VariantQuantityLimit (422: the caps on
    the buyer's open unpaid orders, checked under a lock on the buyer's row), CheckoutChanged
    (409, card only).
    """
    if payment_method not in payment_methods.available():
        raise errors.OrderInvalid(
            "Unknown payment method.",
            errors=[
                field_error(
                    "/payment_method",
                    "invalid_choice",
                    f"One of: {', '.join(payment_methods.available())}.",
                )
            ],
        )
    key = (idempotency_key or "").strip()
    if key and (existing := _checkout_for_key(buyer, key)) is not None:
        return _with_payment(existing)
    address = _address_snapshot(
        buyer=buyer, shipping_address=shipping_address, address_id=address_id
    )
    method = payment_methods.method_for(payment_method)
    for attempt in range(NUMBER_ATTEMPTS):
        draft = token = None
        if method.prepares_checkout:
            # Outside any transaction of ours and before any lock: a request-wide transaction
            # (Idempotency-Key) holds only its own idempotency record here.
            draft = _draft(buyer=buyer, items=items, codes=discounts)
            token = method.checkout_prepare(draft=draft)
        try:
            return _place(
                buyer=buyer,
                items=items,
                codes=discounts,
                address=address,
                method=method,
                key=key,
                draft=draft,
                token=token,
            )
        except BaseException as exc:
            if draft is not None:
                # The placement's transaction (or savepoint) is rolled back: nothing is locked.
                method.checkout_abandoned(draft=draft, token=token, error=exc)
            if not isinstance(exc, IntegrityError):
                raise
            # None: SQLite names no constraint (apps.core.integrity); the query or the bounded
            # retry of the rolled-back placement decides instead.
            constraint = violated_constraint(exc)
            if key and constraint in (KEY_CONSTRAINT, None):
                # A concurrent call with the same key committed first: answer with its result.
                existing = _checkout_for_key(buyer, key)
                if existing is not None:
                    return _with_payment(existing)
            if constraint in (*NUMBER_CONSTRAINTS, None) and attempt + 1 < NUMBER_ATTEMPTS:
                continue  # a checkout number taken concurrently: draw another
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _with_payment(checkout: Checkout) -> Checkout:
    """A checkout placed before (a replay by idempotency key) with its payment as it is now (no
    provider call: a card payment was started, or failed to start, by its placement; the buyer
    retries a failed start with POST /checkouts/{number}/pay)."""
    payment_method = (
        Order.objects.filter(checkout=checkout).values_list("payment_method", flat=True).first()
    ) or Order.PaymentMethod.CASH_ON_DELIVERY
    method = payment_methods.method_for(payment_method)
    checkout.payment = method.checkout_payment(checkout=checkout)  # type: ignore[attr-defined]
    return checkout


def _quote(
    *, buyer: User, items: Sequence[ItemInput] | None, codes: Sequence[CodeInput], now: datetime
) -> tuple[CheckoutData, CheckoutQuote]:
    """The checkout priced from one read (no lock), refused early when the read already shows
    an item not for sale, nothing to order or too little stock."""
    data = load_checkout(user=buyer, items=items, codes=codes, now=now)
    unavailable = [line for line in data.lines if not line.for_sale]
    if unavailable:
        raise CartVariantNotFound(
            f"{unavailable[0].product_name} ({unavailable[0].sku}) is no longer for sale.",
            variant_id=str(unavailable[0].variant_id),
            variant_ids=[str(line.variant_id) for line in unavailable],
            sku=unavailable[0].sku,
        )
    if not data.lines:
        raise errors.OrderEmpty("Your cart is empty." if items is None else "No items to order.")
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
    return data, quote


def _draft(
    *, buyer: User, items: Sequence[ItemInput] | None, codes: Sequence[CodeInput]
) -> payment_methods.CheckoutDraft:
    """The checkout about to be placed, priced and checked without any lock (the buyer's caps
    read without locking the buyer's row; the placement checks them again under it), with the
    ids, number and amount it will be written with."""
    now = timezone.now()
    _, quote = _quote(buyer=buyer, items=items, codes=codes, now=now)
    _open_unpaid_limits_check(buyer=buyer, quote=quote, lock=False)
    return payment_methods.CheckoutDraft(
        checkout_id=uuid.uuid4(),
        number=checkout_number_new(now),
        buyer_id=buyer.pk,
        currency=quote.currency,
        total=quote.total,
        order_ids=tuple(uuid.uuid4() for _ in quote.shops),
        shop_ids=tuple(shop_quote.shop.id for shop_quote in quote.shops),
        shop_totals=tuple(shop_quote.total for shop_quote in quote.shops),
    )


def _draft_check(draft: payment_methods.CheckoutDraft, quote: CheckoutQuote) -> None:
    """The placement writes the checkout its payment was started for, or nothing."""
    now = (
        quote.currency,
        quote.total,
        tuple(q.shop.id for q in quote.shops),
        tuple(q.total for q in quote.shops),
    )
    if now != (draft.currency, draft.total, draft.shop_ids, draft.shop_totals):
        raise errors.CheckoutChanged(
            "Prices, discounts or shipping changed while your order was being placed; review it "
            "and place it again.",
            total=f"{quote.total:.2f}",
            quoted_total=f"{draft.total:.2f}",
            currency=quote.currency,
        )


def _place(
    *,
    buyer: User,
    items: Sequence[ItemInput] | None,
    codes: Sequence[CodeInput],
    address: dict[str, str],
    method: payment_methods.PaymentMethod,
    key: str,
    draft: payment_methods.CheckoutDraft | None,
    token: Any,
) -> Checkout:
    with transaction.atomic():
        if items is None:
            # Two placements of one cart (a double click without a key) run one after the other;
            # the second finds the bought lines gone. The UPDATE takes the cart row's lock and
            # moves its updated_at (its lines are about to go) in one statement.
            Cart.objects.filter(user=buyer).update(updated_at=timezone.now())
        now = timezone.now()
        data, quote = _quote(buyer=buyer, items=items, codes=codes, now=now)
        if draft is not None:
            _draft_check(draft, quote)
        _open_unpaid_limits_check(buyer=buyer, quote=quote)
        checkout = _write(
            buyer=buyer,
            quote=quote,
            address=address,
            payment_method=method.code,
            key=key,
            from_cart=items is None,
            cart_item_ids=[line.cart_item_id for line in data.lines if line.cart_item_id],
            now=now,
            draft=draft,
        )
        checkout.payment = method.checkout_record(  # type: ignore[attr-defined]
            checkout=checkout, token=token
        )
        return checkout


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
    draft: payment_methods.CheckoutDraft | None = None,
) -> Checkout:
    checkout = Checkout(
        id=draft.checkout_id if draft else uuid.uuid4(),
        number=draft.number if draft else checkout_number_new(now),
        buyer=buyer,
        currency=quote.currency,
        subtotal=quote.subtotal,
        discount_total=quote.discount_total,
        shipping_total=quote.shipping_total,
        total=quote.total,
        idempotency_key=key,
    )
    Checkout.objects.bulk_create([checkout])
    orders: list[Order] = []
    lines: list[OrderLine] = []
    redemptions: list[RedemptionInput] = []
    for position, shop_quote in enumerate(quote.shops, start=1):
        order = Order(
            id=draft.order_ids[position - 1] if draft else uuid.uuid4(),
            checkout=checkout,
            number=f"{checkout.number}-{position}",
            buyer=buyer,
            shop_id=shop_quote.shop.id,
            status=Order.Status.PENDING,
            payment_method=payment_method,
            payment_status=payment_methods.method_for(payment_method).initial_payment_status,
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
    Order.objects.bulk_create(orders)
    OrderLine.objects.bulk_create(lines)
    OrderStatusChange.objects.bulk_create(history)
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
    # What the response shows, from memory: the rows just written are exactly these.
    written: dict[UUID, PlacedRows] = {}
    for order in orders:
        info = shops[order.shop_id]
        # The placement's pricing read always sets owner_id (None only in hand-made quotes).
        owner_id = cast(UUID, info.owner_id)
        order.shop = Shop(id=info.id, slug=info.slug, name=info.name, owner_id=owner_id)
        order_lines = [line for line in lines if line.order is order]
        written[order.pk] = PlacedRows(
            lines=order_lines, history=[change for change in history if change.order is order]
        )
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
    placed = len(orders)
    transaction.on_commit(lambda: ORDERS_PLACED.inc(placed))
    checkout.placed_orders = orders  # type: ignore[attr-defined]  # for the response
    checkout.placed_rows = written  # type: ignore[attr-defined]  # their lines and history
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
    context: Any = None,
    if_payment_status: Collection[str] = (),
) -> Order:
    """Move an order to `to` if the status machine allows it from its current status.

    The move is one `UPDATE .. WHERE id = .. AND status = <current> AND payment_status =
    <current>`: of two concurrent moves only one matches a row, the other is InvalidTransition
    (409); a payment status that moved meanwhile (a payment arrived) makes the move decide again.
    Then, in the same transaction: cancel releases the stock reservation and the discount uses;
    ship fulfils the reservation (on_hand and reserved down) and records the tracking number, if
    any (a seller delivering with its own courier has none); refund with `restock` returns the
    units to stock (`return` movements). One OrderStatusChange row and one `order.<status>` event
    per move.

    The order's payment method (apps.orders.payment_methods) is asked before the transaction,
    where it moves money the change needs (refunds a paid card order) or refuses the change, and
    inside it, where it records what the money did; cash on delivery becomes paid on delivery.
    `context` is passed to the method untouched. With `if_payment_status`, an order whose payment
    status is not one of those is left alone (PaymentStatusChanged, 409).

    `actor_role` is what the caller acts as (buyer, seller, staff, system): the buyer and the
    system may only cancel (TransitionForbidden, 403). Raises OrderNotFound, InvalidTransition,
    TransitionForbidden and the payment method's refusals.
    """
    if to not in Order.Status.values:
        raise errors.OrderInvalid(
            f"Unknown status {to!r}.",
            errors=[
                field_error("/to", "invalid_choice", f"One of: {', '.join(Order.Status.values)}.")
            ],
        )
    if actor_role not in machine.ROLES:
        raise ValueError(f"unknown actor role {actor_role!r}")
    move = payment_methods.Move(
        order_id=order_id,
        to=to,
        actor=actor,
        actor_role=actor_role,
        note=note,
        tracking_number=(tracking_number or "").strip(),
        restock=restock,
        reason=reason,
        context=context,
    )
    for _ in range(TRANSITION_ATTEMPTS):
        state = _order_state(order_id)
        if if_payment_status and state.payment_status not in if_payment_status:
            raise errors.PaymentStatusChanged(
                f"The order's payment is {state.payment_status} now.",
                payment_status=state.payment_status,
            )
        _check_move(state.status, to, actor_role)
        method = payment_methods.method_for(state.payment_method)
        prepared = method.transition_prepare(move=move, state=state)
        order = _transition_apply(move, state, method, prepared)
        if order is not None:
            return order
    raise errors.PaymentStatusChanged("The order's payment keeps changing; try again.")


# A move decides again when the order's payment status moved between its read and its UPDATE
# (a payment arriving); twice in a row is already unlikely.
TRANSITION_ATTEMPTS = 3


def _order_state(order_id: UUID) -> payment_methods.OrderState:
    current = (
        Order.objects.filter(pk=order_id)
        .values_list("status", "payment_method", "payment_status", "shop__owner_id")
        .first()
    )
    if current is None:
        raise errors.OrderNotFound("No such order.")
    return payment_methods.OrderState(*current)


def _transition_apply(
    move: payment_methods.Move,
    state: payment_methods.OrderState,
    method: payment_methods.PaymentMethod,
    prepared: payment_methods.Prepared,
) -> Order | None:
    """The change's transaction; None when the payment status moved since `state` was read."""
    order_id, to, from_status = move.order_id, move.to, state.status
    with transaction.atomic():
        changes: dict[str, Any] = {"status": to, "updated_at": Now()}
        if prepared.payment_status is not None:
            changes["payment_status"] = prepared.payment_status
        if to == Order.Status.SHIPPED:
            changes["tracking_number"] = move.tracking_number
        elif to == Order.Status.CANCELLED:
            changes["cancel_reason"] = move.reason[:255]
            changes["cancelled_by"] = move.actor_role
        matched = Order.objects.filter(
            pk=order_id, status=from_status, payment_status=state.payment_status
        ).update(**changes)
        if not matched:
            # Another move or a payment committed between our read and our UPDATE.
            now_status = Order.objects.filter(pk=order_id).values_list("status", flat=True)[0]
            if now_status != from_status:
                raise _invalid(now_status, to)
            return None

        if to == Order.Status.CANCELLED and from_status in machine.RESERVED_STATUSES:
            # Discounts before stock, the order placement locks them in: a cancel and a
            # placement sharing a code and a variant cannot deadlock.
            discount_release(order_id=order_id)
            stock_release(lines=_stock_lines(order_id), order_id=order_id, actor=move.actor)
        elif to == Order.Status.SHIPPED:
            stock_fulfil(lines=_stock_lines(order_id), order_id=order_id, actor=move.actor)
        elif to == Order.Status.REFUNDED and move.restock:
            stock_return(lines=_stock_lines(order_id), order_id=order_id, actor=move.actor)

        history_note = move.note or (move.reason if to == Order.Status.CANCELLED else "")
        if to == Order.Status.REFUNDED and move.restock:
            history_note = (history_note + " (restocked)").strip()
        OrderStatusChange.objects.create(
            order_id=order_id,
            from_status=from_status,
            to_status=to,
            actor=move.actor,
            actor_role=move.actor_role,
            note=history_note[:500],
        )
        order = Order.objects.get(pk=order_id)
        method.transition_applied(order=order, move=move, state=state, prepared=prepared)
        events.emit(
            order_events.TRANSITION_EVENTS[to],
            order.pk,
            order_events.order_transition_payload(
                order,
                seller_id=state.seller_id,
                from_status=from_status,
                cancelled_by=move.actor_role,
                reason=move.reason,
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
PAYMENT_EXPIRED_REASON = "payment_expired"


def orders_expire(*, now: datetime | None = None, limit: int = 500) -> int:
    """Cancel, each in its own transaction through order_transition and cancelled by the
    system: pending orders older than ORDER_PENDING_TTL (reason `expired`), and unpaid orders of
    a payment method with a payment window once it has passed (reason `payment_expired`; an
    order paid meanwhile is left alone). An order confirmed, cancelled or paid meanwhile, or
    whose payment method refuses, is skipped. Returns how many were cancelled; safe to run
    concurrently and repeatedly."""
    now = now or timezone.now()
    cancelled = 0
    for method, window in payment_methods.with_window():
        ids = list(
            Order.objects.filter(
                status=Order.Status.PENDING,
                payment_method=method.code,
                payment_status__in=payment_methods.UNPAID,
                created_at__lt=now - window,
            )
            .order_by("created_at")
            .values_list("pk", flat=True)[:limit]
        )
        cancelled += _expire(ids, PAYMENT_EXPIRED_REASON, if_payment_status=payment_methods.UNPAID)
    cutoff = now - settings.ORDER_PENDING_TTL
    ids = list(
        Order.objects.filter(status=Order.Status.PENDING, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return cancelled + _expire(ids, EXPIRED_REASON)


def _expire(ids: list[UUID], reason: str, *, if_payment_status: Collection[str] = ()) -> int:
    cancelled = 0
    for order_id in ids:
        try:
            order_transition(
                order_id=order_id,
                to=Order.Status.CANCELLED,
                actor=None,
                actor_role=machine.ROLE_SYSTEM,
                reason=reason,
                if_payment_status=if_payment_status,
            )
        except Conflict:
            continue  # moved on meanwhile, or its payment method refuses for now
        cancelled += 1
    return cancelled
