from rest_framework.routers import SimpleRouter

from apps.catalog.api.views import (
    CategoryViewSet,
    ProductTypeViewSet,
    ProductVariantViewSet,
    ProductViewSet,
    SellerProductViewSet,
)

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat. A prefix may
# hold its parent's converter (`products/<str:ident>`): the router keeps it as it is.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("product-types", ProductTypeViewSet, basename="product-type")
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")
router.register("products/<str:ident>/variants", ProductVariantViewSet, basename="product-variant")
router.register("seller/products", SellerProductViewSet, basename="seller-product")

urlpatterns = router.urls
