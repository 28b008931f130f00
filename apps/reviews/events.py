"""Versioned payloads of the events this app emits (topic `reviews`).

- `review.created` v1, key review_id: {review_id, product_id, shop_id, seller_id, author_id,
  rating}. Notifications tell the seller.
- `comment.reply` v1, key comment_id (the reply): {comment_id, parent_id, parent_author_id,
  product_id, author_id}. Emitted when someone other than the parent's author replies;
  `parent_id` is the comment the author answered (see Comment.reply_to).

The key is the aggregate the event is about (the review, the reply), as for every event; the
product is in the data.
"""

from typing import Any

from apps.events import emit

REVIEW_CREATED = "review.created"
COMMENT_REPLY = "comment.reply"


def emit_review_created(
    *,
    review_id: object,
    product_id: object,
    shop_id: object,
    seller_id: object,
    author_id: object,
    rating: int,
) -> None:
    data: dict[str, Any] = {
        "review_id": str(review_id),
        "product_id": str(product_id),
        "shop_id": str(shop_id),
        "seller_id": str(seller_id),
        "author_id": str(author_id),
        "rating": rating,
    }
    emit(REVIEW_CREATED, review_id, data)


def emit_comment_reply(
    *,
    comment_id: object,
    parent_id: object,
    parent_author_id: object,
    product_id: object,
    author_id: object,
) -> None:
    data: dict[str, Any] = {
        "comment_id": str(comment_id),
        "parent_id": str(parent_id),
        "parent_author_id": str(parent_author_id),
        "product_id": str(product_id),
        "author_id": str(author_id),
    }
    emit(COMMENT_REPLY, comment_id, data)
