from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from apps.catalog.demo import EXAMPLE_PRODUCT_SLUG
from apps.core.openapi import demo_example, demo_path_parameter, problem_responses
from apps.core.pagination import CursorPagination
from apps.core.permissions import EmailVerified
from apps.core.throttling import PostContentThrottle
from apps.reviews import selectors, services
from apps.reviews.api.serializers import (
    CommentCreateInput,
    CommentDeleteQuery,
    CommentOutput,
    CommentUpdateInput,
    ReviewCreateInput,
    ReviewListQuery,
    ReviewOutput,
    ReviewUpdateInput,
    ThreadCommentOutput,
    TopLevelCommentOutput,
)
from apps.users.request_user import request_user

TAGS = ["reviews"]
PRODUCT_REF = demo_path_parameter("product_ref", EXAMPLE_PRODUCT_SLUG, "Product id or slug.")


class NewestFirstPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class ReadingOrderPagination(CursorPagination):
    """Keyset pagination on the materialised path, which is unique and gives reading order."""

    ordering = ("path",)


class _ProductContentViewSet(viewsets.GenericViewSet):
    """What people post under a product: anyone reads it, a verified account posts it. Posting
    reviews and comments shares one per-user budget (scope `post_content`)."""

    permission_classes = [IsAuthenticatedOrReadOnly, EmailVerified]
    pagination_class = NewestFirstPagination

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = super().get_throttles()
        if self.action == "create":
            throttles = [*throttles, PostContentThrottle()]
        return throttles


class ProductReviewViewSet(_ProductContentViewSet):
    """A product's reviews: list, post."""

    serializer_class = ReviewOutput

    @extend_schema(
        tags=TAGS,
        operation_id="product_reviews_list",
        summary="List a product's reviews",
        parameters=[PRODUCT_REF, ReviewListQuery],
        responses={200: ReviewOutput(many=True), **problem_responses(404)},
        description="Published reviews of a published product, newest first, `?rating=1..5`.",
    )
    def list(self, request: Request, product_ref: str) -> Response:
        query = ReviewListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        product = selectors.product_get_public(ref=product_ref)
        reviews = selectors.review_list_public(
            product=product, rating=query.validated_data.get("rating")
        )
        page = self.paginate_queryset(reviews)
        return self.get_paginated_response(ReviewOutput(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        operation_id="product_reviews_create",
        examples=[
            demo_example(
                "Five stars",
                {"rating": 5, "title": "Loud for its size", "body": "Great sound in a small box."},
                login="customer@example.com",
            )
        ],
        summary="Review a product",
        parameters=[PRODUCT_REF],
        request=ReviewCreateInput,
        responses={
            201: ReviewOutput,
            **problem_responses(
                404,
                codes={
                    409: ["review.exists"],
                    422: ["review.purchase_required", "review.own_product"],
                },
            ),
        },
        description=(
            "Review a published product: one review per user and product. `verified_purchase` "
            "is true when the caller has a delivered order with it."
        ),
    )
    def create(self, request: Request, product_ref: str) -> Response:
        body = ReviewCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        product = selectors.product_get_public(ref=product_ref)
        review = services.review_create(
            product_id=product.pk, author=request_user(request), **body.validated_data
        )
        return Response(ReviewOutput(review).data, status=status.HTTP_201_CREATED)


class ReviewViewSet(viewsets.GenericViewSet):
    """One review: read, edit, delete."""

    permission_classes = [IsAuthenticatedOrReadOnly]
    serializer_class = ReviewOutput
    lookup_url_kwarg = "review_id"
    lookup_value_converter = "uuid"

    @extend_schema(
        tags=TAGS,
        operation_id="reviews_retrieve",
        summary="Get a review",
        responses={200: ReviewOutput, **problem_responses(404)},
        description="A published review; the author and staff also see hidden ones.",
    )
    def retrieve(self, request: Request, review_id: UUID) -> Response:
        review = selectors.review_get_visible(review_id=review_id, user=request.user)
        return Response(ReviewOutput(review).data)

    @extend_schema(
        tags=TAGS,
        operation_id="reviews_update",
        summary="Edit a review",
        request=ReviewUpdateInput,
        responses={
            200: ReviewOutput,
            **problem_responses(404, codes={403: ["review.forbidden", "review.status_forbidden"]}),
        },
        description="The author or staff edit a review; staff may set `status: published|hidden`.",
    )
    def partial_update(self, request: Request, review_id: UUID) -> Response:
        body = ReviewUpdateInput(data=request.data)
        body.is_valid(raise_exception=True)
        review = services.review_update(
            review_id=review_id, actor=request_user(request), **body.validated_data
        )
        return Response(ReviewOutput(review).data)

    @extend_schema(
        tags=TAGS,
        operation_id="reviews_delete",
        summary="Delete a review",
        responses={204: None, **problem_responses(404, codes={403: ["review.forbidden"]})},
        description="The author or staff delete a review.",
    )
    def destroy(self, request: Request, review_id: UUID) -> Response:
        services.review_delete(review_id=review_id, actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProductCommentViewSet(_ProductContentViewSet):
    """A product's top-level comments: list, post (or reply)."""

    serializer_class = TopLevelCommentOutput

    @extend_schema(
        tags=TAGS,
        operation_id="product_comments_list",
        summary="List a product's comments",
        parameters=[PRODUCT_REF],
        responses={200: TopLevelCommentOutput(many=True), **problem_responses(404)},
        description=(
            "Top-level comments of a published product, newest first, each with `reply_count` "
            "(every comment in its thread, at any depth)."
        ),
    )
    def list(self, request: Request, product_ref: str) -> Response:
        product = selectors.product_get_public(ref=product_ref)
        page = self.paginate_queryset(selectors.comment_list_top_level(product=product))
        return self.get_paginated_response(TopLevelCommentOutput(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        operation_id="product_comments_create",
        examples=[
            demo_example(
                "A question",
                {"body": "Does it pair with two phones at once?"},
                login="customer@example.com",
            )
        ],
        summary="Comment on a product",
        parameters=[PRODUCT_REF],
        request=CommentCreateInput,
        responses={
            201: CommentOutput,
            **problem_responses(
                codes={
                    400: ["comment.parent_mismatch"],
                    404: ["catalog.product_not_found", "comment.parent_not_found"],
                }
            ),
        },
        description=(
            "Comment on a published product, or reply with `parent_id` (a comment of the same "
            "product). Beyond COMMENTS_MAX_DEPTH the reply attaches to the deepest allowed "
            "ancestor and `reply_to_id` keeps the comment it answers."
        ),
    )
    def create(self, request: Request, product_ref: str) -> Response:
        body = CommentCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        product = selectors.product_get_public(ref=product_ref)
        comment = services.comment_create(
            product_id=product.pk, author=request_user(request), **body.validated_data
        )
        return Response(CommentOutput(comment).data, status=status.HTTP_201_CREATED)


class CommentViewSet(viewsets.GenericViewSet):
    """One comment: read, edit, delete, and the thread below it."""

    permission_classes = [IsAuthenticatedOrReadOnly]
    serializer_class = TopLevelCommentOutput
    lookup_url_kwarg = "comment_id"
    lookup_value_converter = "uuid"

    @extend_schema(
        tags=TAGS,
        operation_id="comments_retrieve",
        summary="Get a comment",
        responses={200: TopLevelCommentOutput, **problem_responses(404)},
        description="One comment with `reply_count` (every comment below it).",
    )
    def retrieve(self, request: Request, comment_id: UUID) -> Response:
        comment = selectors.comment_get_visible(comment_id=comment_id, user=request.user)
        return Response(TopLevelCommentOutput(comment).data)

    @extend_schema(
        tags=TAGS,
        operation_id="comments_update",
        summary="Edit a comment",
        request=CommentUpdateInput,
        responses={
            200: TopLevelCommentOutput,
            **problem_responses(404, codes={403: ["comment.forbidden"], 409: ["comment.deleted"]}),
        },
        description="The author edits the body.",
    )
    def partial_update(self, request: Request, comment_id: UUID) -> Response:
        body = CommentUpdateInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.comment_update(
            comment_id=comment_id, actor=request_user(request), **body.validated_data
        )
        comment = selectors.comment_get_visible(comment_id=comment_id, user=request.user)
        return Response(TopLevelCommentOutput(comment).data)

    @extend_schema(
        tags=TAGS,
        operation_id="comments_delete",
        summary="Delete a comment",
        parameters=[CommentDeleteQuery],
        responses={
            204: None,
            **problem_responses(
                404, codes={403: ["comment.forbidden", "comment.thread_delete_forbidden"]}
            ),
        },
        description=(
            "The author, staff or the product's seller delete a comment: one with replies is "
            "blanked (no body, no author) and keeps its thread, a leaf is removed. Staff and the "
            "seller may pass `?thread=true` to remove the comment with its whole thread."
        ),
    )
    def destroy(self, request: Request, comment_id: UUID) -> Response:
        query = CommentDeleteQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        services.comment_delete(
            comment_id=comment_id,
            actor=request_user(request),
            thread=query.validated_data["thread"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=TAGS,
        operation_id="comments_replies",
        summary="List the replies under a comment",
        parameters=[
            OpenApiParameter("cursor", str, description="The pagination cursor value."),
            OpenApiParameter("page_size", int, description="Number of results to return per page."),
        ],
        responses={200: ThreadCommentOutput(many=True), **problem_responses(400, 404)},
        description=(
            "The whole thread below a comment in reading order (each reply followed by its own "
            "replies, oldest first), with `depth` relative to that comment (1 = direct reply)."
        ),
    )
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[AllowAny],
        pagination_class=ReadingOrderPagination,
        serializer_class=ThreadCommentOutput,
    )
    def replies(self, request: Request, comment_id: UUID) -> Response:
        root = selectors.comment_get_root(comment_id=comment_id, user=request.user)
        page = self.paginate_queryset(selectors.comment_thread(root=root))
        data = ThreadCommentOutput(page, many=True, context={"root_depth": root.depth}).data
        return self.get_paginated_response(data)
