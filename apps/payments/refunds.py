"""Refunds: money back on a card payment, one order's amount at a time.

A refund made for an order status change (cancelling a paid order, delivered -> refunded) runs
in three steps, none of which calls the provider inside a transaction:

1. `refund_open`: lock the order, check it is still as the move read it, write the refund row
   (`pending`; a unique constraint allows one live refund per order, so two requests can never
   refund twice) with a lease that keeps the sweep away while this request works;
2. `refund_call`: ask the provider, with an idempotency key derived from the order (see
   `Refund.idempotency_key`);
3. the status change's own transaction records the answer (`refund_record`) with the move.

A refusal marks the refund failed and leaves the order as it was (RefundFailed, 409). An unknown
outcome (timeout, provider down) still makes the move: the refund stays `pending` and is retried
by a task and by the periodic sweep (`refund_retry`), which first looks the refund up at the
provider by its key, so a refund that did go through is never made twice. A process that dies
between the steps leaves a pending refund whose lease runs out: the sweep finishes it, move
included.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps import events
from apps.core.errors import DomainError
from apps.orders import errors as order_errors
from apps.orders import status as machine
from apps.orders.models import Order
from apps.orders.payment_methods import Move, OrderState
from apps.orders.services import order_transition
from apps.payments import errors
from apps.payments import events as payment_events
from apps.payments.models import Payment, Refund
from apps.payments.providers import provider_for
from apps.payments.providers.base import (
    SUCCEEDED,
    ProviderRefused,
    ProviderUnavailable,
    RefundResult,
)
from apps.users.models import User

logger = logging.getLogger("apps.payments")

# How long the request that opened a refund has it to itself (longer than a provider call with
# its retries may take); after that the sweep may take over.
LEASE = timedelta(seconds=60)
# Provider answers after which the refund is not final yet.
PROVIDER_PENDING = frozenset({"pending", "requires_action"})


def backoff(attempts: int) -> timedelta:
    """1 min, 5 min, 25 min, then every 6 hours."""
    return timedelta(seconds=min(60 * 5 ** max(attempts - 1, 0), 6 * 3600))


@dataclass(frozen=True)
class RefundOutcome:
    """What the provider answered for a refund: its refund, or (unknown outcome) an error."""

    refund_id: UUID
    result: RefundResult | None = None
    error: str = ""


def refund_open(*, move: Move, state: OrderState) -> Refund | None:
    """Step 1 for a move that needs the order's money back. None when there is nothing to give
    back (an order of 0.00). Raises InvalidTransition when the order moved since `state` was
    read, RefundInProgress when another refund of the order is live."""
    with transaction.atomic():
        row = (
            Order.objects.select_for_update()
            .filter(pk=move.order_id)
            .values_list("status", "payment_status", "total", "currency", "checkout_id")
            .first()
        )
        if row is None:
            raise order_errors.OrderNotFound("No such order.")
        status, payment_status, total, currency, checkout_id = row
        if status != state.status or payment_status != state.payment_status:
            raise order_errors.InvalidTransition(
                f"An order that is {status} cannot become {move.to}.",
                current_status=status,
                to=move.to,
                allowed=machine.allowed_from(status),
            )
        if total <= 0:
            return None
        payment = Payment.objects.get(checkout_id=checkout_id)
        made_before = Refund.objects.filter(order_id=move.order_id).count()
        try:
            with transaction.atomic():
                return Refund.objects.create(
                    payment=payment,
                    order_id=move.order_id,
                    idempotency_key=f"order-{move.order_id}-refund-{made_before + 1}",
                    amount=total,
                    currency=currency,
                    reason="refund" if move.to == Order.Status.REFUNDED else "cancel",
                    requested_by=move.actor,
                    transition_to=move.to,
                    transition_role=move.actor_role,
                    transition_reason=move.reason[:255],
                    transition_note=move.note[:500],
                    transition_restock=move.restock,
                    next_attempt_at=timezone.now() + LEASE,
                )
        except IntegrityError as exc:
            raise errors.RefundInProgress(
                "This order's refund is already being made; check again shortly."
            ) from exc


def refund_call(refund: Refund, *, look_up_first: bool = False) -> RefundOutcome:
    """Step 2: ask the provider (no transaction is open). With `look_up_first` (a retry), a
    refund the provider already made for this row is found by the id in its metadata and not
    made again. Raises ProviderRefused when the provider says no."""
    payment = refund.payment
    provider = provider_for(payment.provider)
    try:
        if look_up_first:
            for made in provider.refunds_of(payment.intent_id):
                if made.metadata.get("refund_key") == refund.idempotency_key:
                    return RefundOutcome(refund.pk, made)
        result = provider.refund_create(
            intent_id=payment.intent_id,
            amount=refund.amount,
            currency=refund.currency,
            idempotency_key=refund.idempotency_key,
            metadata={
                "refund_key": refund.idempotency_key,
                "refund_id": str(refund.pk),
                "payment_id": str(payment.pk),
                "order_id": "" if refund.order_id is None else str(refund.order_id),
            },
        )
    except ProviderUnavailable as exc:
        return RefundOutcome(refund.pk, error=exc.message or "provider unavailable")
    if result.status != SUCCEEDED and result.status not in PROVIDER_PENDING:
        raise ProviderRefused(f"The provider's refund is {result.status}.", code=result.status)
    return RefundOutcome(refund.pk, result)


def refund_fail(*, refund_id: UUID, message: str) -> None:
    """The provider refused: the refund is failed for good (staff see it in the admin). An order
    already moved for it (a retry refused late) keeps its status: that needs a person."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != Refund.Status.PENDING:
            return
        refund.status = Refund.Status.FAILED
        refund.attempts += 1
        refund.last_error = message[:500]
        refund.next_attempt_at = None
        refund.save(
            update_fields=["status", "attempts", "last_error", "next_attempt_at", "updated_at"]
        )
    if refund.transition_applied or not refund.transition_to:
        logger.error(
            "refund %s of order %s refused after the order moved: %s",
            refund.pk,
            refund.order_id,
            message,
        )


def refund_record(outcome: RefundOutcome, *, applied: bool) -> Refund:
    """Step 3, inside the caller's transaction: the provider's answer on the refund row (and,
    with `applied`, that its status change was made). A succeeded refund adds to the payment's
    refunded amount and emits `payment.refunded`."""
    refund = Refund.objects.select_for_update().get(pk=outcome.refund_id)
    now = timezone.now()
    refund.attempts += 1
    refund.transition_applied = refund.transition_applied or applied
    fields = ["attempts", "transition_applied", "updated_at"]
    result = outcome.result
    if refund.status != Refund.Status.PENDING:
        pass  # answered before (a duplicate answer): only the move is new
    elif result is not None and result.status == SUCCEEDED:
        refund.status = Refund.Status.SUCCEEDED
        refund.provider_refund_id = result.id
        refund.succeeded_at = now
        refund.next_attempt_at = None
        refund.last_error = ""
        fields += ["status", "provider_refund_id", "succeeded_at", "next_attempt_at", "last_error"]
        _payment_refunded(refund)
    else:
        if result is not None:  # accepted, not final: look again later
            refund.provider_refund_id = result.id
            fields.append("provider_refund_id")
        refund.last_error = outcome.error[:500]
        refund.next_attempt_at = now + backoff(refund.attempts)
        fields += ["last_error", "next_attempt_at"]
        transaction.on_commit(lambda: _retry_later(refund.pk, refund.attempts))
    refund.save(update_fields=fields)
    return refund


def _payment_refunded(refund: Refund) -> None:
    Payment.objects.filter(pk=refund.payment_id).update(
        amount_refunded=F("amount_refunded") + refund.amount, updated_at=timezone.now()
    )
    Payment.objects.filter(
        pk=refund.payment_id,
        amount_refunded__gte=F("amount_received"),
        status=Payment.Status.PAID,
    ).update(status=Payment.Status.REFUNDED)
    events.emit(
        payment_events.PAYMENT_REFUNDED,
        refund.payment_id,
        payment_events.payment_refunded_payload(refund=refund),
    )


def _retry_later(refund_id: UUID, attempts: int) -> None:
    from apps.payments.tasks import refund_retry_task

    refund_retry_task.apply_async((str(refund_id),), countdown=backoff(attempts).total_seconds())


def refund_retry(*, refund_id: UUID) -> str:
    """The task's and the sweep's step 2 and 3 for a pending refund that is due: claims it
    (a conditional update: one worker at a time), asks the provider (looking the refund up
    first) and records the answer, making the refund's status change if it was not made yet.
    Returns the outcome: `not_due`, `succeeded`, `pending`, `refused`, `transition_refused`."""
    now = timezone.now()
    claimed = Refund.objects.filter(
        pk=refund_id, status=Refund.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + LEASE)
    if not claimed:
        return "not_due"
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    try:
        outcome = refund_call(refund, look_up_first=True)
    except ProviderRefused as exc:
        refund_fail(refund_id=refund.pk, message=exc.message)
        return "refused"
    if refund.transition_to and not refund.transition_applied and refund.order_id:
        try:
            order_transition(
                order_id=refund.order_id,
                to=refund.transition_to,
                actor=refund.requested_by,
                actor_role=refund.transition_role,
                note=refund.transition_note,
                reason=refund.transition_reason,
                restock=refund.transition_restock,
                context=outcome,
            )
        except DomainError as exc:
            logger.error("refund %s: its order move was refused: %s", refund.pk, exc.detail)
            with transaction.atomic():
                refund_record(outcome, applied=False)
            return "transition_refused"
    else:
        with transaction.atomic():
            refund_record(outcome, applied=False)
    refund.refresh_from_db(fields=["status"])
    return "succeeded" if refund.status == Refund.Status.SUCCEEDED else "pending"


def refund_retry_now(*, refund_id: UUID) -> str:
    """Staff: retry a pending refund without waiting for its back-off (a refund whose first
    request is still at work, attempts 0, keeps its lease)."""
    Refund.objects.filter(pk=refund_id, status=Refund.Status.PENDING, attempts__gt=0).update(
        next_attempt_at=timezone.now()
    )
    return refund_retry(refund_id=refund_id)


def refunds_due(*, limit: int = 100) -> list[UUID]:
    return list(
        Refund.objects.filter(status=Refund.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


# --- staff ---------------------------------------------------------------------------------------


def payment_refund_orders(*, payment_id: UUID, actor: User) -> tuple[int, list[str]]:
    """Staff: give back every paid order of the payment's checkout, through the status machine
    (a delivered order becomes refunded, a pending or confirmed one cancelled), each refunded on
    its own. Returns how many were refunded and the refusals (order number: reason)."""
    payment = Payment.objects.get(pk=payment_id)
    done, refused = 0, []
    orders = Order.objects.filter(
        checkout_id=payment.checkout_id, payment_status=Order.PaymentStatus.PAID
    ).order_by("number")
    for order in orders:
        to = (
            Order.Status.REFUNDED
            if order.status == Order.Status.DELIVERED
            else Order.Status.CANCELLED
        )
        try:
            order_transition(
                order_id=order.pk,
                to=to,
                actor=actor,
                actor_role=machine.ROLE_STAFF,
                reason="refunded by staff" if to == Order.Status.CANCELLED else "",
                note="refunded by staff",
            )
        except DomainError as exc:
            refused.append(f"{order.number}: {exc.detail}")
            continue
        done += 1
    return done, refused


def payment_flagged_refund(*, payment_id: UUID, actor: User) -> str:
    """Staff: give back all the money of a flagged payment (one that did not match its checkout)
    and cancel its orders. Returns the refund's status; raises RefundFailed when the provider
    refuses."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != Payment.Status.FLAGGED or payment.amount_received <= 0:
            return "not_flagged"
        made_before = Refund.objects.filter(payment=payment, order__isnull=True).count()
        try:
            with transaction.atomic():
                refund = Refund.objects.create(
                    payment=payment,
                    idempotency_key=f"payment-{payment.pk}-refund-{made_before + 1}",
                    amount=payment.amount_received,
                    currency=payment.currency,
                    reason="flagged",
                    requested_by=actor,
                    next_attempt_at=timezone.now() + LEASE,
                )
        except IntegrityError as exc:
            raise errors.RefundInProgress("This payment's refund is already being made.") from exc
    refund = Refund.objects.select_related("payment").get(pk=refund.pk)
    try:
        outcome = refund_call(refund)
    except ProviderRefused as exc:
        refund_fail(refund_id=refund.pk, message=exc.message)
        raise errors.RefundFailed(
            f"The payment provider refused the refund: {exc.message}", provider_code=exc.code
        ) from exc
    with transaction.atomic():
        refund = refund_record(outcome, applied=False)
        Payment.objects.filter(pk=payment_id).update(
            status=Payment.Status.REFUNDED, updated_at=timezone.now()
        )
    for order_id in (
        Order.objects.filter(checkout_id=payment.checkout_id)
        .exclude(status=Order.Status.CANCELLED)
        .values_list("pk", flat=True)
    ):
        try:
            order_transition(
                order_id=order_id,
                to=Order.Status.CANCELLED,
                actor=actor,
                actor_role=machine.ROLE_STAFF,
                reason="payment_flagged",
            )
        except DomainError as exc:
            logger.warning("order %s not cancelled after a flagged refund: %s", order_id, exc)
    return refund.status
