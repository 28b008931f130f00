from django.apps import AppConfig


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        # Registers the OpenAPI extensions (the Bearer JWT security scheme) and the deploy checks.
        from apps.core import checks, metrics, observability, openapi  # noqa: F401

        metrics.connect()
        observability.setup()
