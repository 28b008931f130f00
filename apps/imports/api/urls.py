from rest_framework.routers import SimpleRouter

from apps.imports.api.views import SellerImportJobViewSet

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("seller/imports", SellerImportJobViewSet, basename="seller-import")

urlpatterns = router.urls
