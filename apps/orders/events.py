"""Versioned payloads of the events orders emit (topic `orders`, key = order id).

`order.placed` once per order at placement; one `order.<status>` per transition. The
notifications app reads `buyer_id`, `seller_id`, `number`, `total`, `currency`,
`tracking_number`, `cancelled_by` and `reason` from these.
"""

from typing import Any

from apps.orders.models import Order

ORDER_PLACED = "order.placed"
# Keyed by status value: a TextChoices member is a str equal (and hashing equal) to its value.
TRANSITION_EVENTS: dict[str, str] = {
    Order.Status.CONFIRMED: "order.confirmed",
    Order.Status.SHIPPED: "order.shipped",
    Order.Status.DELIVERED: "order.delivered",
    Order.Status.CANCELLED: "order.cancelled",
    Order.Status.REFUNDED: "order.refunded",
}


def _base(order: Order, *, seller_id: object) -> dict[str, Any]:
    return {
        "order_id": str(order.pk),
        "number": order.number,
        "buyer_id": str(order.buyer_id),
        "seller_id": str(seller_id),
        "shop_id": str(order.shop_id),
    }


def order_placed_payload(
    order: Order, *, checkout_number: str, seller_id: object, line_count: int
) -> dict[str, Any]:
    return {
        **_base(order, seller_id=seller_id),
        "checkout_number": checkout_number,
        "status": order.status,
        "payment_method": order.payment_method,
        "payment_status": order.payment_status,
        "subtotal": str(order.subtotal),
        "discount_total": str(order.discount_total),
        "shipping_fee": str(order.shipping_fee),
        "total": str(order.total),
        "currency": order.currency,
        "line_count": line_count,
    }


def order_transition_payload(
    order: Order,
    *,
    seller_id: object,
    from_status: str,
    cancelled_by: str = "",
    reason: str = "",
) -> dict[str, Any]:
    data = {
        **_base(order, seller_id=seller_id),
        "from_status": from_status,
        "status": order.status,
        "payment_status": order.payment_status,
        "tracking_number": order.tracking_number,
        "total": str(order.total),
        "currency": order.currency,
    }
    if order.status == Order.Status.CANCELLED:
        data["cancelled_by"] = cancelled_by
        data["reason"] = reason
    return data
