from rest_framework.routers import SimpleRouter

from apps.shops.api import views

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("shops", views.ShopViewSet, basename="shop")

urlpatterns = router.urls
