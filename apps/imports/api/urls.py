from apps.core.api.routers import ApiRouter
from apps.imports.api.views import SellerImportJobViewSet

router = ApiRouter()
router.register("seller/imports", SellerImportJobViewSet, basename="seller-import")

urlpatterns = router.urls
