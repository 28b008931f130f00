import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from treebeard.mp_tree import MP_Node

from apps.core.models import BaseModel

REVIEW_TITLE_MAX = 120
REVIEW_BODY_MAX = 5000
COMMENT_BODY_MAX = 2000


class Review(BaseModel):
    """One review per author and product. Text is plain text, never HTML (see plain_text.py)."""

    class Status(models.TextChoices):
        PUBLISHED = "published", "Published"
        HIDDEN = "hidden", "Hidden"

    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="reviews")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews"
    )
    rating = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=REVIEW_TITLE_MAX, blank=True)
    body = models.TextField(max_length=REVIEW_BODY_MAX, blank=True)
    verified_purchase = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PUBLISHED, db_index=True
    )

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["product", "author"], name="review_one_per_author"),
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["published", "hidden"]), name="review_status_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["product", "status", "-created_at"], name="review_product_status_created"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating}★ “{self.title}”" if self.title else f"{self.rating}★ review"


class Comment(MP_Node):
    """A product discussion: one materialised-path tree per top-level comment.

    `parent` repeats what the path says (the tree parent) so the API can show `parent_id` without
    a query; `reply_to` is the comment the author answered, which differs from `parent` only when
    the reply was attached higher up because of COMMENTS_MAX_DEPTH. A blanked comment
    (`is_deleted`) has no author and no body but keeps its replies.
    """

    # 36^5 = 60 million top-level comments (all products share one forest) and max depth 51.
    steplen = 5

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.CASCADE, related_name="comments"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="comments",
    )
    body = models.TextField(max_length=COMMENT_BODY_MAX, blank=True)
    is_deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["product", "depth", "-created_at"], name="comment_product_depth_created"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_deleted=False) | (Q(author=None) & Q(body="")),
                name="comment_blanked_has_no_content",
            ),
        ]

    def __str__(self) -> str:
        return f"comment {self.id} on {self.product_id}"
