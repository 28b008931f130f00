"""Reviews and comments: writes. Every function owns its transaction.

Rating aggregates: every review change locks the product row first (so changes of one product's
reviews run one after another), writes, then recomputes `rating_avg`, `rating_count` and
`rating_histogram` from the published reviews in one aggregate query and stores them, all in the
same transaction. Under READ COMMITTED the aggregate statement runs after the lock is granted, so
it sees every change committed before; the stored numbers therefore always equal what the
published reviews say. The shop's rating is recomputed from all its published reviews after
commit (shop_rating_refresh), in a short transaction of its own.

Comment trees: no node ever moves, and every transaction locks comment rows in ascending path
order (ancestors before descendants), so concurrent replies and deletes serialise without
deadlocks and the materialised paths stay consistent.
"""

from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.catalog.cache import product_cache_bump
from apps.catalog.models import Product
from apps.core.errors import InvalidInput, field_error
from apps.orders.models import Order, OrderLine
from apps.reviews.errors import (
    CommentDeleted,
    CommentForbidden,
    CommentNotFound,
    CommentParentMismatch,
    CommentParentNotFound,
    CommentThreadDeleteForbidden,
    ProductNotFound,
    ReviewExists,
    ReviewForbidden,
    ReviewNotFound,
    ReviewOwnProduct,
    ReviewPurchaseRequired,
    ReviewStatusForbidden,
)
from apps.reviews.events import emit_comment_reply, emit_review_created
from apps.reviews.models import (
    COMMENT_BODY_MAX,
    REVIEW_BODY_MAX,
    REVIEW_TITLE_MAX,
    Comment,
    Review,
)
from apps.reviews.plain_text import clean_text
from apps.reviews.selectors import PUBLIC_PRODUCT, comment_product_visible, review_is_visible
from apps.shops.models import Shop
from apps.users.models import User

ROOT_INSERT_ATTEMPTS = 20
_CENT = Decimal("0.01")


# --- text ---------------------------------------------------------------------------------------


def _text(value: str, *, field: str, max_length: int, required: bool, single_line: bool) -> str:
    cleaned = clean_text(value, single_line=single_line)
    if required and not cleaned:
        raise InvalidInput(
            f"{field} may not be blank.",
            errors=[field_error(f"/{field}", "blank", "May not be blank.")],
        )
    if len(cleaned) > max_length:
        raise InvalidInput(
            f"{field} is longer than {max_length} characters.",
            errors=[field_error(f"/{field}", "max_length", f"At most {max_length} characters.")],
        )
    return cleaned


def _check_rating(rating: int) -> None:
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidInput(
            "rating must be an integer from 1 to 5.",
            errors=[field_error("/rating", "invalid", "From 1 to 5.")],
        )


# --- ratings ------------------------------------------------------------------------------------


def _average(total: int | None, count: int) -> Decimal:
    if not count:
        return Decimal("0.00")
    return (Decimal(total or 0) / Decimal(count)).quantize(_CENT, rounding=ROUND_HALF_UP)


def _lock_product(product_id: UUID, *, published_only: bool) -> Product:
    qs = Product.objects.select_for_update(of=("self",)).select_related("shop")
    if published_only:
        qs = qs.filter(PUBLIC_PRODUCT)
    product = qs.filter(pk=product_id).first()
    if product is None:
        raise ProductNotFound()
    return product


def _product_rating_store(product: Product) -> Product:
    """The caller holds the product's row lock, taken before it changed any review of it."""
    published = Review.objects.filter(product_id=product.pk, status=Review.Status.PUBLISHED)
    stats = published.aggregate(
        count=Count("pk"),
        total=Sum("rating"),
        **{f"r{star}": Count("pk", filter=Q(rating=star)) for star in range(1, 6)},
    )
    product.rating_count = stats["count"]
    product.rating_avg = _average(stats["total"], stats["count"])
    product.rating_histogram = {str(star): stats[f"r{star}"] for star in range(1, 6)}
    # updated_at moves too: the rating is part of what the product detail (and its ETag) shows.
    Product.objects.filter(pk=product.pk).update(
        rating_count=product.rating_count,
        rating_avg=product.rating_avg,
        rating_histogram=product.rating_histogram,
        updated_at=timezone.now(),
    )
    product_cache_bump(product.pk)
    # The shop's rating spans all its products: recomputed after commit in a short transaction of
    # its own, so one shop's reviews do not queue behind a shop-wide aggregate under the lock.
    transaction.on_commit(partial(shop_rating_refresh, shop_id=product.shop_id))
    return product


def shop_rating_refresh(*, shop_id: UUID) -> None:
    """Recompute the shop's rating from the published reviews of all its products.

    Locks the shop row before aggregating, so of two concurrent refreshes the later one sees what
    the earlier committed; the stored value is what the reviews say once the writers are done.
    """
    with transaction.atomic():
        if Shop.objects.select_for_update().filter(pk=shop_id).values_list("pk").first() is None:
            return
        stats = Review.objects.filter(
            product__shop_id=shop_id, status=Review.Status.PUBLISHED
        ).aggregate(count=Count("pk"), total=Sum("rating"))
        Shop.objects.filter(pk=shop_id).update(
            rating_count=stats["count"], rating_avg=_average(stats["total"], stats["count"])
        )


# --- reviews ------------------------------------------------------------------------------------


def _has_received(*, user_id: UUID, product_id: UUID) -> bool:
    return OrderLine.objects.filter(
        product_id=product_id, order__buyer_id=user_id, order__status=Order.Status.DELIVERED
    ).exists()


def review_create(
    *, product_id: UUID, author: User, rating: int, title: str = "", body: str = ""
) -> Review:
    """Publish the author's review of a published product and refresh the product's rating.

    Raises ProductNotFound, ReviewOwnProduct (the seller), ReviewPurchaseRequired (with
    REVIEWS_REQUIRE_PURCHASE and no delivered order line), ReviewExists (one per author and
    product, also when two requests race), InvalidInput. Emits `review.created`.
    """
    _check_rating(rating)
    title = _text(
        title, field="title", max_length=REVIEW_TITLE_MAX, required=False, single_line=True
    )
    body = _text(body, field="body", max_length=REVIEW_BODY_MAX, required=False, single_line=False)
    with transaction.atomic():
        product = _lock_product(product_id, published_only=True)
        if product.shop.owner_id == author.pk:
            raise ReviewOwnProduct()
        verified = _has_received(user_id=author.pk, product_id=product.pk)
        if settings.REVIEWS_REQUIRE_PURCHASE and not verified:
            raise ReviewPurchaseRequired()
        if Review.objects.filter(product_id=product.pk, author_id=author.pk).exists():
            raise ReviewExists(product_id=str(product.pk))
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    product=product,
                    author=author,
                    rating=rating,
                    title=title,
                    body=body,
                    verified_purchase=verified,
                )
        except IntegrityError as exc:  # a concurrent create won the unique constraint
            raise ReviewExists(product_id=str(product.pk)) from exc
        _product_rating_store(product)
        emit_review_created(
            review_id=review.pk,
            product_id=product.pk,
            shop_id=product.shop_id,
            seller_id=product.shop.owner_id,
            author_id=author.pk,
            rating=rating,
        )
    review.author = author
    return review


def _review_for_change(*, review_id: UUID, actor: User) -> Review:
    """Lock product then review; the author and staff may change it (others: 403, or 404 when
    they cannot even see it)."""
    review = Review.objects.select_related("product__shop").filter(pk=review_id).first()
    if review is None or not review_is_visible(review=review, user=actor):
        raise ReviewNotFound()
    if not (actor.is_staff or review.author_id == actor.pk):
        raise ReviewForbidden()
    _lock_product(review.product_id, published_only=False)
    locked = (
        Review.objects.select_for_update(of=("self",))
        .select_related("author", "product")
        .filter(pk=review_id)
        .first()
    )
    if locked is None:
        raise ReviewNotFound()
    return locked


def review_update(
    *,
    review_id: UUID,
    actor: User,
    rating: int | None = None,
    title: str | None = None,
    body: str | None = None,
    status: str | None = None,
) -> Review:
    """Edit a review (author or staff); only staff may set `status` (ReviewStatusForbidden).

    The product's rating is recomputed when the rating or the status changed.
    """
    if status is not None and status not in Review.Status.values:
        raise InvalidInput(
            "Unknown status.",
            errors=[field_error("/status", "invalid_choice", "published|hidden")],
        )
    if rating is not None:
        _check_rating(rating)
    with transaction.atomic():
        review = _review_for_change(review_id=review_id, actor=actor)
        if status is not None and not actor.is_staff:
            raise ReviewStatusForbidden()
        changed: list[str] = []
        if rating is not None and rating != review.rating:
            review.rating = rating
            changed.append("rating")
        if title is not None:
            review.title = _text(
                title, field="title", max_length=REVIEW_TITLE_MAX, required=False, single_line=True
            )
            changed.append("title")
        if body is not None:
            review.body = _text(
                body, field="body", max_length=REVIEW_BODY_MAX, required=False, single_line=False
            )
            changed.append("body")
        if status is not None and status != review.status:
            review.status = status
            changed.append("status")
        if review.author_id == actor.pk:
            verified = _has_received(user_id=actor.pk, product_id=review.product_id)
            if verified != review.verified_purchase:
                review.verified_purchase = verified
                changed.append("verified_purchase")
        if changed:
            review.save(update_fields=[*changed, "updated_at"])
        if "rating" in changed or "status" in changed:
            _product_rating_store(review.product)
    return review


def review_moderate(*, review_id: UUID, actor: User, status: str) -> Review:
    """Staff hide (`hidden`) or republish (`published`) a review; the rating follows."""
    return review_update(review_id=review_id, actor=actor, status=status)


def review_delete(*, review_id: UUID, actor: User) -> None:
    """The author or staff delete a review; the product's rating is recomputed."""
    with transaction.atomic():
        review = _review_for_change(review_id=review_id, actor=actor)
        product = review.product
        review.delete()
        _product_rating_store(product)


# --- comments -----------------------------------------------------------------------------------


def _parent_path(path: str) -> str:
    return path[: -Comment.steplen]


def _ancestor_paths(path: str) -> list[str]:
    step = Comment.steplen
    return [path[:end] for end in range(step, len(path) + 1, step)]


def _lock_paths(paths: list[str]) -> dict[str, Comment]:
    """Lock the comments at these paths in ascending path order (the one global lock order)."""
    rows = Comment.objects.select_for_update(of=("self",)).filter(path__in=paths).order_by("path")
    return {row.path: row for row in rows}


def comment_create(
    *, product_id: UUID, author: User, body: str, parent_id: UUID | None = None
) -> Comment:
    """Add a top-level comment or a reply to a published product's discussion.

    A reply to a comment at COMMENTS_MAX_DEPTH attaches to the deepest allowed ancestor
    (`parent`), keeping the comment it answers in `reply_to`. Raises ProductNotFound,
    CommentParentNotFound, CommentParentMismatch (pointer /parent_id), CommentDeleted (replying
    to a blanked comment is fine; replying to a removed one is CommentParentNotFound),
    InvalidInput. Emits `comment.reply` to the answered comment's author unless it is the author.
    """
    body = _text(body, field="body", max_length=COMMENT_BODY_MAX, required=True, single_line=False)
    product = Product.objects.filter(PUBLIC_PRODUCT, pk=product_id).first()
    if product is None:
        raise ProductNotFound()
    if parent_id is None:
        return _comment_add_root(Comment(product=product, author=author, body=body))

    with transaction.atomic():
        requested = Comment.objects.filter(pk=parent_id).only("path", "product_id").first()
        if requested is None:
            raise CommentParentNotFound(parent_id=str(parent_id))
        if requested.product_id != product.pk:
            raise CommentParentMismatch(
                "The parent comment belongs to another product.",
                errors=[
                    field_error(
                        "/parent_id",
                        "parent_mismatch",
                        "The parent comment belongs to another product.",
                    )
                ],
            )
        max_depth = max(int(settings.COMMENTS_MAX_DEPTH), 1)
        depth = len(requested.path) // Comment.steplen
        target_path = requested.path
        if depth >= max_depth:
            target_path = requested.path[: (max_depth - 1) * Comment.steplen]
        locked = _lock_paths(sorted({target_path, requested.path} - {""}))
        parent = locked.get(requested.path)
        if parent is None:  # removed while we were waiting for the lock
            raise CommentParentNotFound(parent_id=str(parent_id))
        comment = Comment(product=product, author=author, body=body, reply_to=parent)
        if not target_path:  # COMMENTS_MAX_DEPTH = 1: every reply is a top-level comment
            comment = _comment_add_root(comment)
        else:
            target = locked[target_path]
            comment.parent = target
            comment = Comment.objects.add_child(target, instance=comment)
        if parent.author_id is not None and parent.author_id != author.pk:
            emit_comment_reply(
                comment_id=comment.pk,
                parent_id=parent.pk,
                parent_author_id=parent.author_id,
                product_id=product.pk,
                author_id=author.pk,
            )
    return comment


def _comment_add_root(comment: Comment) -> Comment:
    # Root paths are allocated as "last root + 1" with no row to lock; two concurrent inserts
    # can pick the same path and the unique index refuses the second, which simply tries again.
    for attempt in range(ROOT_INSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                return Comment.objects.add_root(instance=comment)
        except IntegrityError:
            if attempt == ROOT_INSERT_ATTEMPTS - 1:
                raise
            comment.path = ""
    raise AssertionError("unreachable")  # pragma: no cover


def comment_update(*, comment_id: UUID, actor: User, body: str) -> Comment:
    """The author edits the body. A blanked comment cannot be edited (CommentDeleted)."""
    comment = Comment.objects.select_related("product__shop").filter(pk=comment_id).first()
    if comment is None or not comment_product_visible(product=comment.product, user=actor):
        raise CommentNotFound()
    if comment.is_deleted:
        raise CommentDeleted()
    if comment.author_id != actor.pk:
        raise CommentForbidden("Only the author may edit a comment.")
    body = _text(body, field="body", max_length=COMMENT_BODY_MAX, required=True, single_line=False)
    with transaction.atomic():
        locked = _lock_paths([comment.path]).get(comment.path)
        if locked is None or locked.is_deleted:
            raise CommentNotFound()
        locked.body = body
        locked.save(update_fields=["body", "updated_at"])
    locked.author = actor
    return locked


def comment_delete(*, comment_id: UUID, actor: User, thread: bool = False) -> dict[str, Any]:
    """Delete a comment.

    Without `thread` (author, staff, the product's seller): a comment with replies is blanked
    (no body, no author, `is_deleted`) and keeps its thread; a leaf is removed. With `thread`
    (staff and the product's seller only): the comment and everything below it are removed.
    Blanked ancestors left without replies are removed as well. Returns {"removed": n,
    "blanked": bool}.
    """
    comment = Comment.objects.select_related("product__shop").filter(pk=comment_id).first()
    if comment is None or not comment_product_visible(product=comment.product, user=actor):
        raise CommentNotFound()
    moderator = bool(actor.is_staff or comment.product.shop.owner_id == actor.pk)
    if thread and not moderator:
        raise CommentThreadDeleteForbidden()
    if not moderator and (comment.author_id is None or comment.author_id != actor.pk):
        raise CommentForbidden("Only the author, staff or the product's seller may delete it.")

    with transaction.atomic():
        locked = _lock_paths(_ancestor_paths(comment.path))
        node = locked.get(comment.path)
        if node is None:
            raise CommentNotFound()
        if not thread and node.numchild > 0:
            Comment.objects.filter(pk=node.pk).update(
                is_deleted=True, body="", author=None, updated_at=timezone.now()
            )
            return {"removed": 0, "blanked": True}
        if node.numchild > 0:
            # Wait for writers inside the subtree; the DELETE below (a new statement, so a new
            # snapshot) then also sees replies they committed meanwhile.
            list(
                Comment.objects.select_for_update(of=("self",))
                .filter(path__startswith=node.path)
                .order_by("path")
                .values_list("pk", flat=True)
            )
        _, per_model = Comment.objects.filter(pk=node.pk).delete()
        removed_count = per_model.get(Comment._meta.label, 0)
        path = _parent_path(node.path)
        while path:
            parent = (
                Comment.objects.filter(path=path).values("pk", "is_deleted", "numchild").first()
            )
            if parent is None or not parent["is_deleted"] or parent["numchild"] > 0:
                break
            Comment.objects.filter(pk=parent["pk"]).delete()
            removed_count += 1
            path = _parent_path(path)
    return {"removed": removed_count, "blanked": False}
