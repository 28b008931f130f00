from rest_framework.routers import SimpleRouter

from apps.media.api.views import MediaAssetViewSet

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("media", MediaAssetViewSet, basename="media")

urlpatterns = router.urls
