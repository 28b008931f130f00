from apps.core.api.routers import ApiRouter
from apps.inventory.api.views import SellerInventoryViewSet

router = ApiRouter()
router.register("seller/inventory", SellerInventoryViewSet, basename="seller-inventory")

urlpatterns = router.urls
