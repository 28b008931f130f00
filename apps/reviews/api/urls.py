from rest_framework.routers import SimpleRouter

from apps.reviews.api import views

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register(
    "products/<str:product_ref>/reviews", views.ProductReviewViewSet, basename="product-review"
)
router.register("reviews", views.ReviewViewSet, basename="review")
router.register(
    "products/<str:product_ref>/comments", views.ProductCommentViewSet, basename="product-comment"
)
router.register("comments", views.CommentViewSet, basename="comment")

urlpatterns = router.urls
