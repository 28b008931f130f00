from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from apps.core.metrics import register_scrape_collector
        from apps.events import subscribe
        from apps.webhooks.event_types import EVENT_TYPES
        from apps.webhooks.metrics import delivery_backlog
        from apps.webhooks.subscribers import on_event

        for event_type in EVENT_TYPES:
            subscribe(event_type, on_event)
        register_scrape_collector(delivery_backlog)
