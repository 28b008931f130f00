from django.apps import AppConfig


class EventsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.events"
    label = "events"

    def ready(self) -> None:
        from apps.core.metrics import register_scrape_collector
        from apps.events import checks  # noqa: F401 (registers the system checks)
        from apps.events.metrics import outbox_lag, queue_depths

        register_scrape_collector(outbox_lag)
        register_scrape_collector(queue_depths)
