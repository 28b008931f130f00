from apps.core.api.routers import ApiRouter
from apps.shops.api import views

router = ApiRouter()
router.register("shops", views.ShopViewSet, basename="shop")

urlpatterns = router.urls
