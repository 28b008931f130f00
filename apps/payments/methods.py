"""The payment methods payments registers with orders (apps.orders.payment_methods) at start-up:
cash on delivery with the seller ledger, and card.

Both post the ledger in the transaction of the move: the sale when an order becomes delivered
and paid, its reversal when a delivered order is refunded.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.orders.models import Checkout, Order
from apps.orders.payment_methods import (
    UNPAID,
    CheckoutDraft,
    CheckoutPayment,
    Move,
    OrderState,
    PaymentMethod,
    Prepared,
)
from apps.orders.status import ROLE_STAFF
from apps.payments import errors, intents, ledger, refunds
from apps.payments.models import Payment, Refund
from apps.payments.providers import current
from apps.payments.providers.base import ProviderRefused

Status = Order.Status
PaymentStatus = Order.PaymentStatus


def _ledger(order: Order, move: Move) -> None:
    if move.to == Status.DELIVERED and order.payment_status == PaymentStatus.PAID:
        ledger.ledger_post_sale(order=order)
    elif move.to == Status.REFUNDED:
        ledger.ledger_post_reversal(order=order)


class CashOnDelivery(PaymentMethod):
    """Orders' own cash on delivery (paid on delivery), plus the seller ledger."""

    def transition_applied(
        self, *, order: Order, move: Move, state: OrderState, prepared: Prepared
    ) -> None:
        _ledger(order, move)


class Card(PaymentMethod):
    """A card payment per checkout through the configured provider (Stripe).

    Orders start `awaiting_payment`; they cannot be confirmed (nor shipped) before they are
    paid; unpaid ones are cancelled when the payment window ends. Cancelling a paid order and
    refunding a delivered one give its amount back before the move is made (apps.payments.
    refunds); a refused refund refuses the move.
    """

    code = Order.PaymentMethod.CARD
    initial_payment_status = PaymentStatus.AWAITING_PAYMENT
    # The intent is made before the placement's transaction (no lock held while the provider
    # answers), recorded inside it, cancelled when the placement fails: docs/payments.md.
    prepares_checkout = True

    def payment_window(self) -> timedelta:
        return settings.PAYMENT_WINDOW

    def is_available(self) -> bool:
        return current().is_configured()

    def checkout_prepare(self, *, draft: CheckoutDraft) -> intents.StartedPayment:
        return intents.payment_prepare(draft=draft)

    def checkout_record(self, *, checkout: Checkout, token: Any) -> CheckoutPayment:
        return intents.payment_summary(intents.payment_record(checkout=checkout, started=token))

    def checkout_abandoned(self, *, draft: CheckoutDraft, token: Any, error: BaseException) -> None:
        intents.payment_abandon(started=token, error=error)

    def checkout_payment(self, *, checkout: Checkout) -> CheckoutPayment | None:
        payment = Payment.objects.filter(checkout=checkout).first()
        if payment is None:
            return None
        payment.checkout = checkout
        return intents.payment_summary(payment)

    def transition_prepare(self, *, move: Move, state: OrderState) -> Prepared:
        if isinstance(move.context, refunds.RefundOutcome):
            # The sweep finishing a refund whose request did not live to make the move.
            return Prepared(payment_status=PaymentStatus.REFUNDED, token=move.context)
        paid = state.payment_status == PaymentStatus.PAID
        if move.to in (Status.CONFIRMED, Status.SHIPPED, Status.DELIVERED) and not paid:
            raise errors.NotPaid("A card order is confirmed once it is paid.")
        if move.to == Status.REFUNDED or (move.to == Status.CANCELLED and paid):
            return self._refund_first(move, state)
        if move.to == Status.CANCELLED and move.actor_role != ROLE_STAFF and self._flagged(move):
            raise errors.PaymentUnderReview(
                "The checkout's payment is being reviewed by staff; they will cancel it."
            )
        return Prepared()

    def _flagged(self, move: Move) -> bool:
        checkout_id = Order.objects.filter(pk=move.order_id).values("checkout_id")
        return Payment.objects.filter(
            checkout_id__in=checkout_id, status=Payment.Status.FLAGGED
        ).exists()

    def _refund_first(self, move: Move, state: OrderState) -> Prepared:
        refund = refunds.refund_open(move=move, state=state)
        if refund is None:
            return Prepared(payment_status=PaymentStatus.REFUNDED)
        refund = Refund.objects.select_related("payment").get(pk=refund.pk)
        try:
            outcome = refunds.refund_call(refund)
        except ProviderRefused as exc:
            refunds.refund_fail(refund_id=refund.pk, message=exc.message)
            raise errors.RefundFailed(
                f"The payment provider refused the refund: {exc.message}",
                provider_code=exc.code,
            ) from exc
        return Prepared(payment_status=PaymentStatus.REFUNDED, token=outcome)

    def transition_applied(
        self, *, order: Order, move: Move, state: OrderState, prepared: Prepared
    ) -> None:
        outcome = prepared.token
        # The order row is locked by the move's UPDATE: a refund opened before it committed is
        # visible now. While one is being made for another move, this move must not happen
        # (say, shipping an order whose cancellation is refunding it).
        in_flight = Refund.objects.filter(
            order_id=order.pk,
            status=Refund.Status.PENDING,
            transition_applied=False,
        ).exclude(transition_to="")
        if isinstance(outcome, refunds.RefundOutcome):
            in_flight = in_flight.exclude(pk=outcome.refund_id)
            refunds.refund_record(outcome, applied=True)
        if in_flight.exists():
            raise errors.RefundInProgress(
                "This order's refund is being made; try again once it is done."
            )
        _ledger(order, move)
        if move.to == Status.CANCELLED and state.payment_status in UNPAID:
            open_orders = Order.objects.filter(checkout_id=order.checkout_id).exclude(
                status=Status.CANCELLED
            )
            if not open_orders.exists():
                # Nothing left to pay for: the intent is cancelled so the buyer cannot pay it.
                payment_id = (
                    Payment.objects.filter(checkout_id=order.checkout_id)
                    .values_list("pk", flat=True)
                    .first()
                )
                if payment_id is not None:
                    from apps.payments.tasks import payment_cancel_task

                    transaction.on_commit(lambda: payment_cancel_task.delay(str(payment_id)))
