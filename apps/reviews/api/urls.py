from django.urls import path

from apps.reviews.api import views

urlpatterns = [
    path(
        "products/<str:product_ref>/reviews",
        views.ProductReviewsApi.as_view(),
        name="product-reviews",
    ),
    path("reviews/<uuid:review_id>", views.ReviewDetailApi.as_view(), name="review-detail"),
    path(
        "products/<str:product_ref>/comments",
        views.ProductCommentsApi.as_view(),
        name="product-comments",
    ),
    path("comments/<uuid:comment_id>", views.CommentDetailApi.as_view(), name="comment-detail"),
    path(
        "comments/<uuid:comment_id>/replies",
        views.CommentRepliesApi.as_view(),
        name="comment-replies",
    ),
]
