from rest_framework.routers import SimpleRouter

from apps.discounts.api.views import (
    DiscountProductViewSet,
    SellerDiscountViewSet,
    ShopDiscountViewSet,
)

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat. A prefix may
# hold its parent's converter (`shops/<str:shop>`): the router keeps it as it is.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("seller/discounts", SellerDiscountViewSet, basename="seller-discount")
router.register("shops/<str:shop>/discounts", ShopDiscountViewSet, basename="shop-discount")
router.register(
    "discounts/<str:code>/products", DiscountProductViewSet, basename="discount-product"
)

urlpatterns = router.urls
