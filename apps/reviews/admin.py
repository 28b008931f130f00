from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.errors import DomainError
from apps.reviews import services
from apps.reviews.models import Comment, Review
from apps.users.request_user import request_user


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("product", "author", "rating", "status", "verified_purchase", "created_at")
    list_filter = ("status", "rating", "verified_purchase")
    search_fields = ("title", "body", "author__email", "product__name")
    raw_id_fields = ("product", "author")
    list_select_related = ("product", "author")
    # Changes go through the actions (services), which keep the product rating right.
    readonly_fields = (
        "product",
        "author",
        "rating",
        "title",
        "body",
        "verified_purchase",
        "status",
        "created_at",
        "updated_at",
    )
    actions = ("hide_reviews", "publish_reviews")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reviews are written through the API so the product rating stays right

    def has_delete_permission(self, request: HttpRequest, obj: Review | None = None) -> bool:
        return False  # hide instead; deleting through the admin would skip the rating refresh

    def _moderate(self, request: HttpRequest, queryset: QuerySet[Review], status: str) -> None:
        done = 0
        for review_id in queryset.values_list("pk", flat=True):
            try:
                services.review_moderate(
                    review_id=review_id, actor=request_user(request), status=status
                )
                done += 1
            except DomainError as error:
                self.message_user(request, f"{review_id}: {error.detail}", messages.ERROR)
        self.message_user(request, f"{done} review(s) now {status}.", messages.SUCCESS)

    @admin.action(description="Hide selected reviews", permissions=["change"])
    def hide_reviews(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._moderate(request, queryset, Review.Status.HIDDEN)

    @admin.action(description="Publish (unhide) selected reviews", permissions=["change"])
    def publish_reviews(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._moderate(request, queryset, Review.Status.PUBLISHED)


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("id", "product", "author", "depth", "numchild", "is_deleted", "created_at")
    list_filter = ("is_deleted",)
    search_fields = ("body", "author__email", "product__name")
    list_select_related = ("product", "author")  # author is nullable: not joined by default
    readonly_fields = (
        "product",
        "parent",
        "reply_to",
        "author",
        "body",
        "path",
        "depth",
        "numchild",
        "is_deleted",
        "created_at",
        "updated_at",
    )
    actions = ("remove_threads",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Comment | None = None) -> bool:
        return False  # use the action: it keeps the tree consistent

    @admin.action(
        description="Remove selected comments with their whole threads", permissions=["change"]
    )
    def remove_threads(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        removed = 0
        for comment_id in queryset.order_by("-depth").values_list("pk", flat=True):
            try:
                result = services.comment_delete(
                    comment_id=comment_id, actor=request_user(request), thread=True
                )
                removed += result["removed"]
            except DomainError:
                continue  # already removed with an ancestor's thread
        self.message_user(request, f"{removed} comment(s) removed.", messages.SUCCESS)
