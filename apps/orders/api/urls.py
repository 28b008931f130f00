from apps.core.api.routers import ApiRouter
from apps.orders.api.checkout_review import CheckoutReviewViewSet, DiscountValidateViewSet
from apps.orders.api.exports import SellerExportViewSet
from apps.orders.api.views import OrderViewSet, SellerOrderViewSet

router = ApiRouter()
router.register("checkout", CheckoutReviewViewSet, basename="checkout")
router.register("discounts", DiscountValidateViewSet, basename="discounts")
router.register("orders", OrderViewSet, basename="order")
router.register("seller/orders", SellerOrderViewSet, basename="seller-order")
router.register("seller/exports", SellerExportViewSet, basename="seller-export")

urlpatterns: list = router.urls
