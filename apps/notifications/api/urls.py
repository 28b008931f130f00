from django.urls import path

from apps.core.api.routers import ApiRouter
from apps.notifications.api import views
from apps.notifications.stream import notification_stream

router = ApiRouter()
router.register("notifications", views.NotificationViewSet, basename="notification")

urlpatterns = [
    # Server-Sent Events: a plain Django view streaming past DRF (apps.notifications.stream).
    path("notifications/stream", notification_stream, name="notification-stream"),
    *router.urls,
]
