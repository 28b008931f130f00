from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.notifications.api import views
from apps.notifications.stream import notification_stream

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("notifications", views.NotificationViewSet, basename="notification")

urlpatterns = [
    # Server-Sent Events: a plain Django view streaming past DRF (apps.notifications.stream).
    path("notifications/stream", notification_stream, name="notification-stream"),
    *router.urls,
]
