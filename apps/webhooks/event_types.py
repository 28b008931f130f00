"""The events an endpoint may subscribe to (docs/api.md "Events") and how a shop's are told
apart."""

from typing import Any

# Events about one shop: each payload carries `shop_id`. A seller's endpoint receives these for
# its own shop only.
SHOP_EVENT_TYPES = (
    "order.placed",
    "order.confirmed",
    "order.shipped",
    "order.delivered",
    "order.cancelled",
    "order.refunded",
    "order.paid",
    "stock.adjusted",
    "stock.low",
    "product.published",
    "product.unpublished",
    "review.created",
    "payout.created",
)
# Events about a payment of a whole checkout (which may span shops): platform endpoints only.
PLATFORM_EVENT_TYPES = ("payment.failed", "payment.refunded")
EVENT_TYPES = (*SHOP_EVENT_TYPES, *PLATFORM_EVENT_TYPES)

# What a ping delivers: not an outbox event, never subscribed to.
PING = "webhook.ping"


def event_shop_id(event_type: str, data: dict[str, Any]) -> str | None:
    """The shop an event is about, or None for platform-only events."""
    if event_type not in SHOP_EVENT_TYPES:
        return None
    shop_id = data.get("shop_id")
    return str(shop_id) if shop_id else None
