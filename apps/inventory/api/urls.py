from rest_framework.routers import SimpleRouter

from apps.inventory.api.views import SellerInventoryViewSet

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("seller/inventory", SellerInventoryViewSet, basename="seller-inventory")

urlpatterns = router.urls
