"""Card payments of checkouts: starting one (the provider's intent), paying again after a
failure, and applying what the provider reports (succeeded, failed, cancelled).

The provider is never called inside a database transaction. What it reports is applied in one
transaction that locks the checkout's orders (in primary-key order) and then the payment, the
same order in which a status change locks an order and then writes its payment, so the two never
deadlock; every order decision is made on the locked rows.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps import events
from apps.core.errors import DomainError
from apps.orders.models import Checkout, Order
from apps.orders.payment_methods import UNPAID, CheckoutDraft, CheckoutPayment
from apps.payments import errors
from apps.payments import events as payment_events
from apps.payments.models import Payment, Refund
from apps.payments.providers import current, provider_for
from apps.payments.providers.base import (
    CANCELED,
    PAYABLE,
    SUCCEEDED,
    Intent,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
)

logger = logging.getLogger("apps.payments")

Status = Payment.Status
# Stripe metadata values hold at most 500 characters: 13 order ids and their commas.
METADATA_ORDER_IDS = 13


def payment_expires_at(checkout: Checkout) -> datetime:
    return checkout.created_at + settings.PAYMENT_WINDOW


def payment_summary(payment: Payment) -> CheckoutPayment:
    """The `payment` object of checkout responses. The client secret is shown only while the
    buyer can pay with it."""
    payable = payment.status in (Status.AWAITING_PAYMENT, Status.FAILED)
    error = None
    if payment.error_code:
        error = {"code": payment.error_code, "detail": payment.last_error}
    return {
        "id": str(payment.pk),
        "provider": payment.provider,
        "status": payment.status,
        "amount": f"{payment.amount:.2f}",
        "currency": payment.currency,
        "client_secret": (payment.client_secret or None) if payable else None,
        "expires_at": payment_expires_at(payment.checkout).isoformat().replace("+00:00", "Z"),
        "error": error,  # type: ignore[typeddict-item]
    }


def _payment_for(checkout: Checkout) -> Payment:
    """The checkout's payment (made here for a card checkout placed without one: placed before
    payments were recorded with the placement)."""
    payment, _ = Payment.objects.select_related("checkout").get_or_create(
        checkout=checkout,
        defaults={
            "provider": current().name,
            "amount": checkout.total,
            "currency": checkout.currency,
        },
    )
    payment.checkout = checkout
    return payment


def _metadata(
    *, checkout_number: str, checkout_id: UUID, payment_id: UUID, order_ids: list[UUID]
) -> dict[str, str]:
    """The intent's metadata. The same for a checkout's every attempt with the same key (a
    retry must send exactly what the first call sent)."""
    return {
        "checkout_number": checkout_number,
        "checkout_id": str(checkout_id),
        "payment_id": str(payment_id),
        "order_ids": ",".join(str(pk) for pk in order_ids[:METADATA_ORDER_IDS]),
        "order_count": str(len(order_ids)),
    }


def _error_code(exc: ProviderError) -> str:
    if isinstance(exc, ProviderRefused):
        return "payment.provider_refused"
    return "payment.provider_unavailable"


@dataclass(frozen=True)
class StartedPayment:
    """What a card placement started before its transaction (the card method's token): the
    payment's id (allocated then) and the provider's intent, or why there is none."""

    payment_id: UUID
    provider: str
    intent: Intent | None
    error_code: str = ""
    error: str = ""


def payment_prepare(*, draft: CheckoutDraft) -> StartedPayment:
    """Before a card placement's transaction, with no lock held: the provider's intent for the
    checkout about to be written, for its total, with the idempotency key
    `checkout-<checkout id>-intent-1` and metadata naming its number, its id, the payment's and
    the orders' ids (all allocated before the placement, which writes exactly those).

    A provider that cannot be reached (or refuses) is not raised: the placement goes on, the
    payment is recorded without an intent and the buyer retries with POST
    /checkouts/{number}/pay, whose first attempt sends the same key and metadata (so an intent
    whose answer was lost is found, not made twice)."""
    payment_id = uuid4()
    provider = current()
    try:
        intent = provider.intent_create(
            amount=draft.total,
            currency=draft.currency,
            idempotency_key=f"checkout-{draft.checkout_id}-intent-1",
            metadata=_metadata(
                checkout_number=draft.number,
                checkout_id=draft.checkout_id,
                payment_id=payment_id,
                order_ids=list(draft.order_ids),
            ),
        )
    except ProviderError as exc:
        logger.warning("payment intent not created for %s: %s", draft.number, exc.message)
        return StartedPayment(
            payment_id=payment_id,
            provider=provider.name,
            intent=None,
            error_code=_error_code(exc),
            error=exc.message[:500],
        )
    return StartedPayment(payment_id=payment_id, provider=provider.name, intent=intent)


def payment_record(*, checkout: Checkout, started: StartedPayment) -> Payment:
    """Inside the placement's transaction: the checkout's payment with the intent started for it
    (attempt 1), or without one and the reason (attempt 0: /pay's first try sends the same key
    as the placement did)."""
    intent = started.intent
    payment = Payment.objects.create(
        id=started.payment_id,
        checkout=checkout,
        provider=started.provider,
        amount=checkout.total,
        currency=checkout.currency,
        intent_id=intent.id if intent else "",
        client_secret=intent.client_secret if intent else "",
        intent_attempt=1 if intent else 0,
        error_code=started.error_code,
        last_error=started.error,
    )
    payment.checkout = checkout
    return payment


def payment_abandon(*, started: StartedPayment, error: BaseException) -> None:
    """The placement the intent was made for failed and rolled back: cancel the intent, by a
    task sent durably (apps.events.task_outbox: its row commits with the refusal the client is
    answered, or at once without a request transaction) that retries while the provider is
    down. A failure that will roll the request's own transaction back (a 5xx under an
    Idempotency-Key) would take that row with it, so the intent is also cancelled at once, once
    (no lock is held any more). The intent's secret never left the server: nobody can pay it
    meanwhile. Never raises."""
    intent = started.intent
    if intent is None:
        return
    from apps.events.task_outbox import task_enqueue
    from apps.payments.tasks import intent_abandon_task

    try:
        task_enqueue(intent_abandon_task, provider=started.provider, intent_id=intent.id)
    except Exception:
        logger.exception("could not record the cancel of intent %s", intent.id)
    client_error = isinstance(error, DomainError) and error.status < 500
    if client_error or not transaction.get_connection().in_atomic_block:
        return  # the task's row commits: with the refusal the client gets, or already did
    try:
        intent_abandon(provider=started.provider, intent_id=intent.id)
    except Exception as exc:
        logger.warning("intent %s of a failed placement not cancelled yet: %s", intent.id, exc)


def intent_abandon(*, provider: str, intent_id: str) -> str:
    """Cancel the intent of a placement that failed (task `payments.intent_abandon`). Safe to
    run twice. Returns the outcome: `cancelled`, `in_use` (a payment records it: left alone),
    `paid` (logged for staff; cannot happen short of someone confirming it with the secret key)
    or the intent's status when the provider will not cancel it. Raises ProviderUnavailable
    while the provider cannot be reached (the task retries)."""
    if Payment.objects.filter(provider=provider, intent_id=intent_id).exists():
        return "in_use"
    client = provider_for(provider)
    try:
        intent = client.intent_cancel(intent_id, idempotency_key=f"intent-{intent_id}-cancel")
    except ProviderRefused:
        intent = client.intent_retrieve(intent_id)
    if intent.status == CANCELED:
        return "cancelled"
    logger.error(
        "intent %s of a failed placement is %s at %s, not cancelled",
        intent_id,
        intent.status,
        provider,
    )
    return "paid" if intent.status == SUCCEEDED else intent.status


def _intent_create(payment: Payment) -> None:
    """Create the provider's intent for the payment (the idempotency key is the checkout's and
    the attempt's: a retry after a timeout gets the same intent). Records the outcome on the
    payment; re-raises the provider's error after recording it."""
    checkout = payment.checkout
    attempt = payment.intent_attempt + 1
    numbered = Order.objects.filter(checkout=checkout).values_list("number", "pk")
    # In the orders' numbering order (`-2` before `-10`), as the placement sent them.
    order_ids = [pk for _, pk in sorted(numbered, key=lambda row: int(row[0].rsplit("-", 1)[1]))]
    provider = provider_for(payment.provider)
    try:
        intent = provider.intent_create(
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=f"checkout-{checkout.pk}-intent-{attempt}",
            metadata=_metadata(
                checkout_number=checkout.number,
                checkout_id=checkout.pk,
                payment_id=payment.pk,
                order_ids=order_ids,
            ),
        )
    except ProviderError as exc:
        code = _error_code(exc)
        Payment.objects.filter(pk=payment.pk, intent_attempt=payment.intent_attempt).update(
            error_code=code, last_error=exc.message[:500], updated_at=timezone.now()
        )
        payment.error_code, payment.last_error = code, exc.message[:500]
        raise
    # Two concurrent starts send the same key and get the same intent; the first write wins.
    Payment.objects.filter(pk=payment.pk, intent_attempt=payment.intent_attempt).update(
        intent_id=intent.id,
        client_secret=intent.client_secret,
        intent_attempt=attempt,
        error_code="",
        last_error="",
        updated_at=timezone.now(),
    )
    payment.refresh_from_db()


def payment_retry(*, checkout: Checkout) -> Payment:
    """POST /checkouts/{number}/pay: the payment with a client secret to pay with, within the
    payment window, while the checkout's orders are pending and unpaid (or cancelled: the
    intent is for the checkout's total and a cancelled order's share goes back once paid).
    An intent not tried yet is handed out again; after a failed attempt the buyer gets a fresh
    intent (the failed one is cancelled first); one the provider reports paid is applied at
    once.

    Raises NotPayable (409), ProviderUnavailable (503).
    """
    statuses = list(Order.objects.filter(checkout=checkout).values_list("status", "payment_status"))
    open_orders = [s for s in statuses if s[0] == Order.Status.PENDING and s[1] in UNPAID]
    # Orders cancelled meanwhile may stay behind: their share is given back once paid.
    others = [s for s in statuses if s[0] != Order.Status.CANCELLED and s not in open_orders]
    payment = Payment.objects.filter(checkout=checkout).first()
    if (
        payment is None
        and not Order.objects.filter(
            checkout=checkout, payment_method=Order.PaymentMethod.CARD
        ).exists()
    ):
        raise errors.NotPayable("This checkout is not paid by card.", payment_status=None)
    if (
        not open_orders
        or others
        or timezone.now() >= payment_expires_at(checkout)
        or (payment is not None and payment.status not in (Status.AWAITING_PAYMENT, Status.FAILED))
    ):
        raise errors.NotPayable(
            "This checkout cannot be paid any more.",
            payment_status=None if payment is None else payment.status,
        )
    payment = payment or _payment_for(checkout)
    payment.checkout = checkout
    provider = provider_for(payment.provider)
    try:
        if payment.intent_id:
            intent = provider.intent_retrieve(payment.intent_id)
            if intent.status == SUCCEEDED:
                payment_intent_succeeded(intent=intent, provider=payment.provider)
                payment.refresh_from_db()
                return payment
            if payment.status == Status.AWAITING_PAYMENT and intent.status in PAYABLE:
                return payment  # not tried yet: the secret it has still pays
            if intent.status != CANCELED:
                # After a failed attempt the buyer gets a fresh intent; the old one is cancelled
                # first, so the checkout can never be paid twice.
                intent = _intent_cancel(payment)
                if intent.status == SUCCEEDED:
                    payment.refresh_from_db()
                    return payment
        _intent_create(payment)
    except ProviderUnavailable as exc:
        raise errors.ProviderUnavailable(
            "The payment provider cannot be reached; try again in a minute."
        ) from exc
    except ProviderRefused as exc:
        raise errors.NotPayable(exc.message, payment_status=payment.status) from exc
    return payment


# --- what the provider reports ------------------------------------------------------------------


def _locked(payment_id: UUID) -> tuple[Payment, list[Order]]:
    """The payment's orders, then the payment, locked (see the module docstring for the order)."""
    checkout_id = Payment.objects.values_list("checkout_id", flat=True).get(pk=payment_id)
    orders = list(
        Order.objects.select_for_update()
        .filter(checkout_id=checkout_id)
        .order_by("pk")
        .select_related("shop")
    )
    payment = Payment.objects.select_for_update().select_related("checkout").get(pk=payment_id)
    return payment, orders


def payment_find(*, provider: str, intent: Intent) -> Payment | None:
    """The payment an intent belongs to: by the intent id, or by the `payment_id` the intent
    carries in its metadata when the intent's creation answer never reached us."""
    payment = Payment.objects.filter(provider=provider, intent_id=intent.id).first()
    if payment is None and (payment_id := intent.metadata.get("payment_id")):
        try:
            payment = Payment.objects.filter(pk=UUID(payment_id), intent_id="").first()
        except ValueError:
            return None
    return payment


def payment_intent_succeeded(*, intent: Intent, provider: str) -> str:
    """The provider took the money. Inside the caller's transaction (or its own).

    The payment becomes paid and every pending or confirmed order of the checkout still unpaid
    becomes `paid` (event `order.paid`); an order cancelled before the money arrived gets its
    amount back (a `late_payment` refund, made by a task) and `payment_status: refunded`, so no
    order is ever both cancelled and paid. An amount or currency that does not match the
    checkout flags the payment for staff and pays nothing. Returns the outcome: `applied`,
    `flagged`, `stale` (already applied) or `unknown_payment`.
    """
    found = payment_find(provider=provider, intent=intent)
    if found is None:
        return "unknown_payment"
    with transaction.atomic():
        payment, orders = _locked(found.pk)
        if payment.status not in (Status.AWAITING_PAYMENT, Status.FAILED):
            return "stale"
        now = timezone.now()
        payment.intent_id = payment.intent_id or intent.id
        payment.amount_received = intent.amount_received
        if intent.amount_received != payment.amount or intent.currency != payment.currency:
            payment.status = Status.FLAGGED
            payment.flagged_reason = (
                f"The provider received {intent.amount_received} {intent.currency}; the "
                f"checkout is {payment.amount} {payment.currency}."
            )
            payment.save(
                update_fields=[
                    "status",
                    "intent_id",
                    "amount_received",
                    "flagged_reason",
                    "updated_at",
                ]
            )
            logger.error("payment %s flagged: %s", payment.pk, payment.flagged_reason)
            return "flagged"
        payment.status = Status.PAID
        payment.paid_at = now
        payment.error_code = payment.last_error = ""
        payment.save(
            update_fields=[
                "status",
                "intent_id",
                "amount_received",
                "paid_at",
                "error_code",
                "last_error",
                "updated_at",
            ]
        )
        paid = [
            o for o in orders if o.status != Order.Status.CANCELLED and o.payment_status in UNPAID
        ]
        late = [
            o for o in orders if o.status == Order.Status.CANCELLED and o.payment_status in UNPAID
        ]
        Order.objects.filter(pk__in=[o.pk for o in paid]).update(
            payment_status=Order.PaymentStatus.PAID, updated_at=now
        )
        Order.objects.filter(pk__in=[o.pk for o in late]).update(
            payment_status=Order.PaymentStatus.REFUNDED, updated_at=now
        )
        for order in paid:
            events.emit(
                payment_events.ORDER_PAID,
                order.pk,
                payment_events.order_paid_payload(
                    order=order, payment=payment, seller_id=order.shop.owner_id
                ),
            )
        refunds = Refund.objects.bulk_create(
            Refund(
                payment=payment,
                order=order,
                idempotency_key=(
                    f"order-{order.pk}-refund-{Refund.objects.filter(order=order).count() + 1}"
                ),
                amount=order.total,
                currency=order.currency,
                reason="late_payment",
                next_attempt_at=now,
            )
            for order in late
            if order.total > 0
        )
    refunds_retry_after_commit([refund.pk for refund in refunds])
    return "applied"


def refunds_retry_after_commit(refund_ids: list[UUID]) -> None:
    """After the caller's commit, a task makes each refund (the sweep, if a task is lost)."""
    from apps.payments.tasks import refund_retry_task

    for refund_id in refund_ids:
        transaction.on_commit(functools.partial(refund_retry_task.delay, str(refund_id)))


def payment_intent_failed(*, intent: Intent, provider: str) -> str:
    """The buyer's attempt failed: the payment and its pending orders become `failed` (the buyer
    may pay again within the window), event `payment.failed`. Returns the outcome."""
    found = payment_find(provider=provider, intent=intent)
    if found is None:
        return "unknown_payment"
    with transaction.atomic():
        payment, orders = _locked(found.pk)
        if payment.status != Status.AWAITING_PAYMENT:
            return "stale"
        reason = intent.last_error or "The payment failed."
        payment.status = Status.FAILED
        payment.error_code = "payment.failed"
        payment.last_error = reason[:500]
        payment.save(update_fields=["status", "error_code", "last_error", "updated_at"])
        Order.objects.filter(
            pk__in=[
                o.pk
                for o in orders
                if o.status == Order.Status.PENDING
                and o.payment_status == Order.PaymentStatus.AWAITING_PAYMENT
            ]
        ).update(payment_status=Order.PaymentStatus.FAILED, updated_at=timezone.now())
        events.emit(
            payment_events.PAYMENT_FAILED,
            payment.pk,
            payment_events.payment_failed_payload(payment=payment, reason=reason),
        )
    return "applied"


def payment_intent_canceled(*, intent: Intent, provider: str) -> str:
    """The intent was cancelled (by us when the checkout expired, or at the provider)."""
    found = payment_find(provider=provider, intent=intent)
    if found is None:
        return "unknown_payment"
    updated = Payment.objects.filter(
        pk=found.pk, status__in=(Status.AWAITING_PAYMENT, Status.FAILED)
    ).update(status=Status.CANCELLED, client_secret="", updated_at=timezone.now())
    return "applied" if updated else "stale"


def payment_cancel(*, payment_id: UUID) -> str:
    """Cancel the intent of a payment none of whose orders is left to pay (all cancelled): the
    buyer can no longer pay it. An intent that turns out paid is applied as paid (the orders
    being cancelled, its money goes back). A provider that cannot be reached leaves it for the
    sweep. Returns the outcome."""
    payment = Payment.objects.select_related("checkout").get(pk=payment_id)
    if payment.status not in (Status.AWAITING_PAYMENT, Status.FAILED):
        return "stale"
    if (
        Order.objects.filter(checkout_id=payment.checkout_id)
        .exclude(status=Order.Status.CANCELLED)
        .exists()
    ):
        return "orders_open"
    if payment.intent_id:
        try:
            intent = _intent_cancel(payment)
        except ProviderError:
            return "unavailable"
        if intent.status == SUCCEEDED:
            return "paid"
        if intent.status != CANCELED:
            return "refused"
    Payment.objects.filter(
        pk=payment.pk, status__in=(Status.AWAITING_PAYMENT, Status.FAILED)
    ).update(status=Status.CANCELLED, client_secret="", updated_at=timezone.now())
    return "cancelled"


def _intent_cancel(payment: Payment) -> Intent:
    """Cancel the payment's intent at the provider. One that turns out paid is applied as paid
    (returned `succeeded`); one the provider will not cancel is returned as it is. Raises
    ProviderError when the provider cannot be asked."""
    provider = provider_for(payment.provider)
    try:
        return provider.intent_cancel(
            payment.intent_id, idempotency_key=f"intent-{payment.intent_id}-cancel"
        )
    except ProviderRefused:
        intent = provider.intent_retrieve(payment.intent_id)
        if intent.status == SUCCEEDED:
            payment_intent_succeeded(intent=intent, provider=payment.provider)
        return intent


def payments_to_cancel(*, limit: int = 100) -> list[UUID]:
    """Unpaid payments whose orders are all cancelled (their intent still to cancel)."""
    open_checkouts = Order.objects.exclude(status=Order.Status.CANCELLED).values("checkout_id")
    return list(
        Payment.objects.filter(status__in=(Status.AWAITING_PAYMENT, Status.FAILED))
        .exclude(checkout_id__in=open_checkouts)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
