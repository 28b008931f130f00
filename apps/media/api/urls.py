from apps.core.api.routers import ApiRouter
from apps.media.api.views import MediaAssetViewSet

router = ApiRouter()
router.register("media", MediaAssetViewSet, basename="media")

urlpatterns = router.urls
