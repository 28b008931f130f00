"""Reviews and comments: reads. Every queryset already joins what the serializers touch."""

import uuid
from typing import Any

from django.db.models import (
    CharField,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat

from apps.catalog.models import Product
from apps.core.slugs import as_uuid
from apps.reviews.errors import CommentNotFound, ProductNotFound, ReviewNotFound
from apps.reviews.models import Comment, Review
from apps.shops.models import Shop

# What the catalog shows to everyone: published products of active shops.
PUBLIC_PRODUCT = Q(status=Product.Status.PUBLISHED, shop__status=Shop.Status.ACTIVE)


def product_is_public(product: Product) -> bool:
    return product.status == Product.Status.PUBLISHED and product.shop.status == Shop.Status.ACTIVE


def product_get_public(*, ref: str) -> Product:
    """A public product by id or slug. A slug is unique per shop only: when several shops use
    it, the oldest public product answers (use the id to be exact). Others: ProductNotFound."""
    qs = Product.objects.filter(PUBLIC_PRODUCT).select_related("shop")
    product_id = as_uuid(ref)
    product = (
        qs.filter(pk=product_id).first()
        if product_id
        else qs.filter(slug=ref).order_by("created_at", "id").first()
    )
    if product is None:
        raise ProductNotFound(f"No published product {ref}.")
    return product


def _is_staff(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_staff)


def review_list_public(*, product: Product, rating: int | None = None) -> QuerySet[Review]:
    qs = Review.objects.filter(product=product, status=Review.Status.PUBLISHED).select_related(
        "author"
    )
    if rating is not None:
        qs = qs.filter(rating=rating)
    return qs


def review_get_visible(*, review_id: uuid.UUID, user: Any) -> Review:
    """Published reviews of published products are public; the author and staff see the rest."""
    review = Review.objects.select_related("author", "product__shop").filter(pk=review_id).first()
    if review is None or not review_is_visible(review=review, user=user):
        raise ReviewNotFound()
    return review


def review_is_visible(*, review: Review, user: Any) -> bool:
    if _is_staff(user):
        return True
    if user is not None and user.is_authenticated and review.author_id == user.pk:
        return True
    return review.status == Review.Status.PUBLISHED and product_is_public(review.product)


# Paths use only 0-9 and A-Z, so every descendant path of P sorts between P and P + "ZZZ...":
# the range lets the database walk the path index instead of filtering all of a product's
# comments; startswith keeps the count exact whatever the collation.
_PATH_CEILING = "Z" * 255


def _descendant_count() -> Subquery:
    return Subquery(
        Comment.objects.filter(
            path__gt=OuterRef("path"),
            path__lte=Concat(OuterRef("path"), Value(_PATH_CEILING), output_field=CharField()),
            path__startswith=OuterRef("path"),
        )
        .order_by()
        .annotate(count=Func(F("pk"), function="COUNT"))
        .values("count"),
        output_field=IntegerField(),
    )


def comment_list_top_level(*, product: Product) -> QuerySet[Comment]:
    """Top-level comments with `reply_count` = every comment below it (all depths), one query."""
    return (
        Comment.objects.filter(product=product, depth=1)
        .select_related("author")
        .annotate(reply_count=Coalesce(_descendant_count(), 0))
    )


def comment_get_visible(*, comment_id: uuid.UUID, user: Any = None) -> Comment:
    """A comment of a public product (staff and the product's seller also see the others)."""
    comment = (
        Comment.objects.select_related("author", "product__shop")
        .annotate(reply_count=Coalesce(_descendant_count(), 0))
        .filter(pk=comment_id)
        .first()
    )
    if comment is None or not comment_product_visible(product=comment.product, user=user):
        raise CommentNotFound()
    return comment


def comment_get_root(*, comment_id: uuid.UUID, user: Any = None) -> Comment:
    """The comment whose thread is listed (visibility as comment_get_visible, no counts)."""
    comment = Comment.objects.select_related("product__shop").filter(pk=comment_id).first()
    if comment is None or not comment_product_visible(product=comment.product, user=user):
        raise CommentNotFound()
    return comment


def comment_product_visible(*, product: Product, user: Any) -> bool:
    if product_is_public(product) or _is_staff(user):
        return True
    return bool(user is not None and user.is_authenticated and product.shop.owner_id == user.pk)


def comment_thread(*, root: Comment) -> QuerySet[Comment]:
    """Everything below `root` in reading order (path order: depth first, oldest first)."""
    return (
        Comment.objects.filter(
            path__gt=root.path, path__lte=root.path + _PATH_CEILING, path__startswith=root.path
        )
        .select_related("author")
        .order_by("path")
    )
