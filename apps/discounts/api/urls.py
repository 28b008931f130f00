from apps.core.api.routers import ApiRouter
from apps.discounts.api.views import (
    DiscountProductViewSet,
    SellerDiscountViewSet,
    ShopDiscountViewSet,
)

router = ApiRouter()
router.register("seller/discounts", SellerDiscountViewSet, basename="seller-discount")
router.register("shops/<str:shop>/discounts", ShopDiscountViewSet, basename="shop-discount")
router.register(
    "discounts/<str:code>/products", DiscountProductViewSet, basename="discount-product"
)

urlpatterns = router.urls
