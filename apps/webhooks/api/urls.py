from rest_framework.routers import SimpleRouter

from apps.webhooks.api import views

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register(
    "webhooks/<uuid:endpoint_id>/deliveries",
    views.WebhookDeliveryViewSet,
    basename="webhook-delivery",
)

urlpatterns = router.urls
