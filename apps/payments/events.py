"""Versioned payloads of the events payments emits (through the outbox).

`order.paid` (topic `orders`, key = order id) once per order when its payment arrives;
`payment.failed` and `payment.refunded` (topic `payments`, key = payment id);
`payout.created` (topic `payments`, key = payout id).
"""

from typing import Any

ORDER_PAID = "order.paid"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"
PAYOUT_CREATED = "payout.created"


def order_paid_payload(*, order: Any, payment: Any, seller_id: object) -> dict[str, Any]:
    return {
        "order_id": str(order.pk),
        "number": order.number,
        "checkout_number": payment.checkout.number,
        "buyer_id": str(order.buyer_id),
        "seller_id": str(seller_id),
        "shop_id": str(order.shop_id),
        "payment_id": str(payment.pk),
        "provider": payment.provider,
        "total": str(order.total),
        "currency": order.currency,
    }


def payment_failed_payload(*, payment: Any, reason: str) -> dict[str, Any]:
    return {
        "payment_id": str(payment.pk),
        "checkout_id": str(payment.checkout_id),
        "provider": payment.provider,
        "intent_id": payment.intent_id,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "reason": reason,
    }


def payment_refunded_payload(*, refund: Any) -> dict[str, Any]:
    return {
        "payment_id": str(refund.payment_id),
        "refund_id": str(refund.pk),
        "order_id": None if refund.order_id is None else str(refund.order_id),
        "amount": str(refund.amount),
        "currency": refund.currency,
        "reason": refund.reason,
        "provider_refund_id": refund.provider_refund_id,
    }


def payout_created_payload(*, payout: Any) -> dict[str, Any]:
    return {
        "payout_id": str(payout.pk),
        "shop_id": str(payout.shop_id),
        "amount": str(payout.amount),
        "currency": payout.currency,
        "reference": payout.reference,
    }
