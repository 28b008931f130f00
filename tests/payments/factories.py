"""Payment rows for tests that need them to exist (the admin pages), each with related objects
of its own. Real flows make them through the services (see the other test modules)."""

import uuid
from decimal import Decimal

from apps.orders.models import Order
from apps.payments.models import Payment, Payout, ProviderEvent, Refund
from tests.orders.factories import ShopFactory, order_in


def payment_row() -> Payment:
    order = order_in(Order.Status.PENDING)
    return Payment.objects.create(
        checkout=order.checkout,
        provider="stripe",
        intent_id=f"pi_{uuid.uuid4().hex[:14]}",
        amount=order.total,
        amount_received=order.total,
        currency=order.currency,
        status=Payment.Status.PAID,
    )


def refund_row() -> Refund:
    payment = payment_row()
    order = Order.objects.filter(checkout_id=payment.checkout_id).first()
    return Refund.objects.create(
        payment=payment,
        order=order,
        amount=payment.amount,
        currency=payment.currency,
        reason="cancel",
        idempotency_key=f"order-{order.pk}-refund-1",
    )


def event_row() -> ProviderEvent:
    payment = payment_row()
    return ProviderEvent.objects.create(
        provider="stripe",
        event_id=f"evt_{uuid.uuid4().hex[:24]}",
        type="payment_intent.succeeded",
        payment=payment,
        outcome="applied",
        payload={"id": payment.intent_id},
    )


def payout_row() -> Payout:
    return Payout.objects.create(
        shop=ShopFactory(), amount=Decimal("10.00"), currency="USD", reference="T-1"
    )
