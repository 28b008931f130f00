from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.notifications"
    label = "notifications"

    def ready(self) -> None:
        from apps.events import subscribe
        from apps.notifications.rules import SUBSCRIBED_EVENTS
        from apps.notifications.subscribers import enqueue_notify

        for event_type in SUBSCRIBED_EVENTS:
            subscribe(event_type, enqueue_notify)
