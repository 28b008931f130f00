from apps.core.api.routers import ApiRouter
from apps.reviews.api import views

router = ApiRouter()
router.register(
    "products/<str:product_ref>/reviews", views.ProductReviewViewSet, basename="product-review"
)
router.register("reviews", views.ReviewViewSet, basename="review")
router.register(
    "products/<str:product_ref>/comments", views.ProductCommentViewSet, basename="product-comment"
)
router.register("comments", views.CommentViewSet, basename="comment")

urlpatterns = router.urls
