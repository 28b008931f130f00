from apps.core.api.routers import ApiRouter
from apps.webhooks.api import views

router = ApiRouter()
router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register(
    "webhooks/<uuid:endpoint_id>/deliveries",
    views.WebhookDeliveryViewSet,
    basename="webhook-delivery",
)

urlpatterns = router.urls
