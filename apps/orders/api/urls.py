from rest_framework.routers import SimpleRouter

from apps.orders.api.checkout_review import CheckoutReviewViewSet, DiscountValidateViewSet
from apps.orders.api.exports import SellerExportViewSet
from apps.orders.api.views import OrderViewSet, SellerOrderViewSet

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("checkout", CheckoutReviewViewSet, basename="checkout")
router.register("discounts", DiscountValidateViewSet, basename="discounts")
router.register("orders", OrderViewSet, basename="order")
router.register("seller/orders", SellerOrderViewSet, basename="seller-order")
router.register("seller/exports", SellerExportViewSet, basename="seller-export")

urlpatterns: list = router.urls
