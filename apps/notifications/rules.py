"""Which event notifies whom, with what words. The only place that knows event payloads."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from apps.notifications.models import Notification
from apps.notifications.models import NotificationType as T
from apps.users.models import ShopFollow


@dataclass(frozen=True)
class Message:
    type: str
    title: str
    body: str
    data: dict[str, Any]
    recipient_ids: list[str] = field(default_factory=list)
    # Set for fan-out to a shop's followers instead of fixed recipients.
    followers_of_shop: str | None = None


STATUS_EVENTS = {"order.confirmed", "order.shipped", "order.delivered", "order.refunded"}


def messages_for(event_type: str, data: dict[str, Any]) -> Iterable[Message]:
    """Translate one event into the messages it causes (none for events nobody is told about)."""
    if event_type == "order.placed":
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
    elif event_type in STATUS_EVENTS:
        status = event_type.split(".", 1)[1]
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
    elif event_type == "order.cancelled":
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
    elif event_type == "product.published" and data.get("first_publish", True):
        # Followers hear about the shop's new products: a product published again after an
        # unpublish is not news. Events written before `first_publish` existed count as firsts.
        yield Message(
            T.SHOP_NEW_PRODUCT,
            f"New: {data.get('name', '')}",
            f"A shop you follow published {data.get('name', '')}.",
            data,
            followers_of_shop=data["shop_id"],
        )
    elif event_type == "shop.new_discount":
        yield Message(
            T.SHOP_NEW_DISCOUNT,
            f"New code {data.get('code', '')}",
            data.get("description")
            or data.get("name")
            or f"Use code {data.get('code', '')} at a shop you follow.",
            data,
            followers_of_shop=data["shop_id"],
        )
    elif event_type == "shop.followed" and not _seller_knows_follower(data):
        yield Message(
            T.SHOP_FOLLOWED,
            "You have a new follower",
            "Someone started following your shop.",
            data,
            [data["seller_id"]],
        )
    elif event_type == "stock.low":
        yield Message(
            T.INVENTORY_LOW_STOCK,
            f"Low stock: {data.get('sku', '')}",
            f"Only {data.get('available')} left of {data.get('sku', '')}.",
            data,
            [data["seller_id"]],
        )
    elif event_type == "review.created":
        yield Message(
            T.REVIEW_CREATED,
            f"New {data.get('rating')}-star review",
            "A customer reviewed one of your products.",
            data,
            [data["seller_id"]],
        )
    elif event_type == "comment.reply" and data.get("parent_author_id") not in (
        None,
        data.get("author_id"),
    ):
        yield Message(
            T.COMMENT_REPLY,
            "New reply to your comment",
            "Someone replied to your comment.",
            data,
            [data["parent_author_id"]],
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


SUBSCRIBED_EVENTS = (
    "order.placed",
    *sorted(STATUS_EVENTS),
    "order.cancelled",
    "product.published",
    "shop.new_discount",
    "shop.followed",
    "stock.low",
    "review.created",
    "comment.reply",
)


def follower_ids(shop_id: str, *, after: str | None, limit: int) -> list[str]:
    """One keyset page of a shop's follower ids, ordered by user id."""
    qs = ShopFollow.objects.filter(shop_id=shop_id).order_by("user_id")
    if after:
        qs = qs.filter(user_id__gt=after)
    return [str(uid) for uid in qs.values_list("user_id", flat=True)[:limit]]
