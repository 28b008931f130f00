from rest_framework import serializers

CHECK_CHOICES = ["ok", "error", "skipped"]
HEALTH_CHOICES = ["ok", "error"]


class HealthChecksOutput(serializers.Serializer):
    database = serializers.ChoiceField(choices=CHECK_CHOICES)
    cache = serializers.ChoiceField(choices=CHECK_CHOICES)
    broker = serializers.ChoiceField(choices=CHECK_CHOICES)
    kafka = serializers.ChoiceField(choices=CHECK_CHOICES)


class HealthOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=HEALTH_CHOICES)
    checks = HealthChecksOutput()


class LiveOutput(serializers.Serializer):
    status = serializers.CharField(help_text='Always "ok".')


class ApiIndexOutput(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()
    docs = serializers.URLField(help_text="Swagger UI.")
    redoc = serializers.URLField(help_text="Redoc.")
    schema = serializers.URLField(help_text="The OpenAPI 3 document (YAML; `?format=json`).")
    resources = serializers.DictField(
        child=serializers.URLField(), help_text="Top-level resources by name, each with its URL."
    )
