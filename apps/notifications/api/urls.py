from django.urls import path

from apps.notifications.api import views
from apps.notifications.stream import notification_stream

urlpatterns = [
    path("notifications", views.NotificationListApi.as_view(), name="notification-list"),
    path("notifications/unread-count", views.UnreadCountApi.as_view(), name="notification-unread"),
    path(
        "notifications/read-all",
        views.NotificationReadAllApi.as_view(),
        name="notification-read-all",
    ),
    path("notifications/preferences", views.PreferencesApi.as_view(), name="notification-prefs"),
    path(
        "notifications/stream-ticket", views.StreamTicketApi.as_view(), name="notification-ticket"
    ),
    path("notifications/stream", notification_stream, name="notification-stream"),
    path(
        "notifications/<uuid:notification_id>/read",
        views.NotificationReadApi.as_view(),
        name="notification-read",
    ),
]
