from apps.catalog.api.views import (
    CategoryViewSet,
    ProductTypeViewSet,
    ProductVariantViewSet,
    ProductViewSet,
    SellerProductViewSet,
)
from apps.core.api.routers import ApiRouter

router = ApiRouter()
router.register("product-types", ProductTypeViewSet, basename="product-type")
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")
router.register("products/<str:ident>/variants", ProductVariantViewSet, basename="product-variant")
router.register("seller/products", SellerProductViewSet, basename="seller-product")

urlpatterns = router.urls
