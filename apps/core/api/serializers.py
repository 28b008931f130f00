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
