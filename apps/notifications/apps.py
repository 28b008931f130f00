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

        # Open streams end with the sessions they were opened for (apps.notifications.stream).
        from django.db.models.signals import post_save

        from apps.notifications.realtime import on_sessions_ended, on_user_saved
        from apps.users.models import User
        from apps.users.signals import sessions_ended

        sessions_ended.connect(on_sessions_ended, dispatch_uid="notifications-streams-sessions")
        post_save.connect(on_user_saved, sender=User, dispatch_uid="notifications-streams-user")
