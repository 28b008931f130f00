from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.reviews.models import COMMENT_BODY_MAX, REVIEW_BODY_MAX, REVIEW_TITLE_MAX, Review
from apps.reviews.plain_text import text_as_html

# --- input --------------------------------------------------------------------------------------


class ReviewListQuery(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5, required=False)


class ReviewCreateInput(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    title = serializers.CharField(max_length=REVIEW_TITLE_MAX, allow_blank=True, default="")
    body = serializers.CharField(max_length=REVIEW_BODY_MAX, allow_blank=True, default="")


class ReviewUpdateInput(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5, required=False)
    title = serializers.CharField(max_length=REVIEW_TITLE_MAX, allow_blank=True, required=False)
    body = serializers.CharField(max_length=REVIEW_BODY_MAX, allow_blank=True, required=False)
    status = serializers.ChoiceField(
        choices=Review.Status.choices,
        required=False,
        help_text="Staff only; anyone else sending `status` gets 403 `review.status_forbidden`.",
    )


class CommentCreateInput(serializers.Serializer):
    body = serializers.CharField(max_length=COMMENT_BODY_MAX)
    parent_id = serializers.UUIDField(required=False, allow_null=True, default=None)


class CommentUpdateInput(serializers.Serializer):
    body = serializers.CharField(max_length=COMMENT_BODY_MAX)


class CommentDeleteQuery(serializers.Serializer):
    thread = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Staff and the product's seller: remove the comment and its whole thread.",
    )


# --- output -------------------------------------------------------------------------------------


class AuthorOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class _PlainTextOutput(serializers.Serializer):
    body = serializers.CharField(help_text="Plain text: insert as text, never as HTML.")
    body_html = serializers.SerializerMethodField(
        help_text="The body HTML-escaped, line breaks as <br>: safe to insert as HTML."
    )

    @extend_schema_field(serializers.CharField())
    def get_body_html(self, obj: Any) -> str:
        return text_as_html(obj.body)


class ReviewOutput(_PlainTextOutput):
    id = serializers.UUIDField()
    product_id = serializers.UUIDField()
    author = AuthorOutput()
    rating = serializers.IntegerField()
    title = serializers.CharField(help_text="Plain text, one line.")
    verified_purchase = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Review.Status.choices)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CommentOutput(_PlainTextOutput):
    id = serializers.UUIDField()
    product_id = serializers.UUIDField()
    parent_id = serializers.UUIDField(allow_null=True, help_text="The comment it hangs under.")
    reply_to_id = serializers.UUIDField(
        allow_null=True,
        help_text="The comment it answers; differs from parent_id only when the thread was at "
        "its maximum depth and the reply was attached to the deepest allowed ancestor.",
    )
    author = AuthorOutput(allow_null=True, help_text="null once the comment is deleted.")
    is_deleted = serializers.BooleanField(
        help_text="Deleted by its author but kept because it has replies: no body, no author."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TopLevelCommentOutput(CommentOutput):
    reply_count = serializers.IntegerField(help_text="Every comment in the thread below it.")


class ThreadCommentOutput(CommentOutput):
    depth = serializers.SerializerMethodField(
        help_text="Depth below the comment whose replies are listed: 1 = a direct reply."
    )

    @extend_schema_field(serializers.IntegerField())
    def get_depth(self, obj: Any) -> int:
        return obj.depth - self.context["root_depth"]
