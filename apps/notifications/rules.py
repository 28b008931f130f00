"""Which event notifies whom, with what words: one rule per event type, registered with `@rule`.
The only place that knows event payloads."""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from apps.notifications.models import Notification
from apps.notifications.models import NotificationType as T
from apps.shops.models import ShopFollow


@dataclass(frozen=True)
class Message:
    type: str
    title: str
    body: str
    data: dict[str, Any]
    recipient_ids: list[str] = field(default_factory=list)
    # Set for fan-out to a shop's followers instead of fixed recipients.
    followers_of_shop: str | None = None


WEBHOOK_DISABLED_REASONS = {
    "gone": "the receiver answered 410 Gone",
    "failing": "every delivery failed for a day",
}

Rule = Callable[[dict[str, Any]], Iterator[Message]]

# Event type -> the rule that turns the event's data into messages (a rule yields nothing for an
# event nobody is told about). Each registered type is subscribed to (apps.notifications.apps).
RULES: dict[str, Rule] = {}


def rule(*event_types: str) -> Callable[[Rule], Rule]:
    """Register the decorated function as the rule of `event_types`."""

    def register(function: Rule) -> Rule:
        for event_type in event_types:
            if event_type in RULES:
                raise ValueError(f"Two notification rules for {event_type}.")
            RULES[event_type] = function
        return function

    return register


def messages_for(event_type: str, data: dict[str, Any]) -> Iterable[Message]:
    """Translate one event into the messages it causes (none for events nobody is told about)."""
    event_rule = RULES.get(event_type)
    return event_rule(data) if event_rule else ()


@rule("order.placed")
def order_placed(data: dict[str, Any]) -> Iterator[Message]:
    number = data.get("number", "")
    yield Message(
        T.ORDER_PLACED,
        f"Order {number} placed",
        f"Thank you! Your order {number} of {data.get('total')} "
        f"{data.get('currency', '')} is pending confirmation.",
        data,
        [data["buyer_id"]],
    )
    yield Message(
        T.ORDER_PLACED,
        f"New order {number}",
        f"You have a new order {number} of {data.get('total')} {data.get('currency', '')}.",
        data,
        [data["seller_id"]],
    )


def order_status_changed(status: str, data: dict[str, Any]) -> Iterator[Message]:
    """The buyer hears of each step after placement (`order.<status>`)."""
    tracking = data.get("tracking_number") or ""
    body = f"Your order {data.get('number', '')} is now {status}."
    if tracking:
        body += f" Tracking number: {tracking}."
    yield Message(
        T.ORDER_STATUS_CHANGED,
        f"Order {data.get('number', '')} {status}",
        body,
        data,
        [data["buyer_id"]],
    )


for _status in ("confirmed", "shipped", "delivered", "refunded"):
    rule(f"order.{_status}")(partial(order_status_changed, _status))


@rule("order.cancelled")
def order_cancelled(data: dict[str, Any]) -> Iterator[Message]:
    """The other party hears of it (both, when staff or the system cancelled)."""
    by = data.get("cancelled_by", "system")
    recipients = {
        "buyer": [data["seller_id"]],
        "seller": [data["buyer_id"]],
        "staff": [data["buyer_id"], data["seller_id"]],
    }.get(by, [data["buyer_id"], data["seller_id"]])
    reason = data.get("reason") or "no reason given"
    yield Message(
        T.ORDER_CANCELLED,
        f"Order {data.get('number', '')} cancelled",
        f"Order {data.get('number', '')} was cancelled ({reason}).",
        data,
        recipients,
    )


@rule("product.published")
def product_published(data: dict[str, Any]) -> Iterator[Message]:
    # Followers hear about the shop's new products: a product published again after an
    # unpublish is not news. Events written before `first_publish` existed count as firsts.
    if not data.get("first_publish", True):
        return
    yield Message(
        T.SHOP_NEW_PRODUCT,
        f"New: {data.get('name', '')}",
        f"A shop you follow published {data.get('name', '')}.",
        data,
        followers_of_shop=data["shop_id"],
    )


@rule("shop.new_discount")
def shop_new_discount(data: dict[str, Any]) -> Iterator[Message]:
    yield Message(
        T.SHOP_NEW_DISCOUNT,
        f"New code {data.get('code', '')}",
        data.get("description")
        or data.get("name")
        or f"Use code {data.get('code', '')} at a shop you follow.",
        data,
        followers_of_shop=data["shop_id"],
    )


@rule("shop.followed")
def shop_followed(data: dict[str, Any]) -> Iterator[Message]:
    if _seller_knows_follower(data):
        return
    yield Message(
        T.SHOP_FOLLOWED,
        "You have a new follower",
        "Someone started following your shop.",
        data,
        [data["seller_id"]],
    )


@rule("stock.low")
def stock_low(data: dict[str, Any]) -> Iterator[Message]:
    yield Message(
        T.INVENTORY_LOW_STOCK,
        f"Low stock: {data.get('sku', '')}",
        f"Only {data.get('available')} left of {data.get('sku', '')}.",
        data,
        [data["seller_id"]],
    )


@rule("review.created")
def review_created(data: dict[str, Any]) -> Iterator[Message]:
    yield Message(
        T.REVIEW_CREATED,
        f"New {data.get('rating')}-star review",
        "A customer reviewed one of your products.",
        data,
        [data["seller_id"]],
    )


@rule("comment.reply")
def comment_reply(data: dict[str, Any]) -> Iterator[Message]:
    # Nobody is told of their own reply to themselves.
    if data.get("parent_author_id") in (None, data.get("author_id")):
        return
    yield Message(
        T.COMMENT_REPLY,
        "New reply to your comment",
        "Someone replied to your comment.",
        data,
        [data["parent_author_id"]],
    )


@rule("webhook.disabled")
def webhook_disabled(data: dict[str, Any]) -> Iterator[Message]:
    """The endpoint's owner hears that deliveries stopped (410, or a day of failures)."""
    if not data.get("owner_id"):
        return
    reason = WEBHOOK_DISABLED_REASONS.get(data.get("reason", ""), "it was disabled")
    yield Message(
        T.WEBHOOK_DISABLED,
        "Webhook endpoint disabled",
        f"Deliveries to {data.get('url', '')} stopped: {reason}. Enable it again once it answers.",
        data,
        [data["owner_id"]],
    )


def _seller_knows_follower(data: dict[str, Any]) -> bool:
    """True when the seller was already told that this user follows the shop. Following is
    idempotent but unfollowing is not remembered, so each follow/unfollow cycle emits
    `shop.followed` again; the seller hears about a follower once (per shop and follower)."""
    return Notification.objects.filter(
        recipient_id=data["seller_id"],
        type=T.SHOP_FOLLOWED,
        data__shop_id=data.get("shop_id"),
        data__user_id=data.get("user_id"),
    ).exists()


# What the app subscribes to, in registration order.
SUBSCRIBED_EVENTS = tuple(RULES)


def follower_ids(shop_id: str, *, after: str | None, limit: int) -> list[str]:
    """One keyset page of a shop's follower ids, ordered by user id."""
    qs = ShopFollow.objects.filter(shop_id=shop_id).order_by("user_id")
    if after:
        qs = qs.filter(user_id__gt=after)
    return [str(uid) for uid in qs.values_list("user_id", flat=True)[:limit]]
